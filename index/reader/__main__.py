"""The old name of the reader's training commands, kept so that a habit or an old note is told
the new one."""

import sys

sys.exit("python -m index.reader moved: run python -m index.training.reader train|mine|pack ...")
