"""The old name of the calibration fit, kept so that a habit or an old note is told the new one."""

import sys

sys.exit("python -m index.confidence moved: run python -m index.training.calibration fit ...")
