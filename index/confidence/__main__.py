"""``python -m index.confidence fit --data SQUAD.jsonl.gz``: see ``index.confidence.fit``."""

import sys

from index.confidence.fit import main

sys.exit(main())
