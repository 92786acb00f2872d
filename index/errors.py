"""The errors whose message already says what to do: ``python -m index`` and ``python -m bot``
print them as one line (``error: ...``), not a traceback."""

from __future__ import annotations

from index.confidence import CalibrationError
from index.reader import ReaderWeightsError
from index.settings import SettingsError
from index.shards import ShardTaken
from index.statedb import StateUnavailable
from index.storage.base import IndexUnavailable

ONE_LINE_ERRORS: tuple[type[Exception], ...] = (
    IndexUnavailable,
    StateUnavailable,
    ReaderWeightsError,
    CalibrationError,
    SettingsError,
    ShardTaken,
    FileNotFoundError,
    NotADirectoryError,
)
