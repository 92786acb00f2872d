"""The errors whose message already says what to do: ``python -m index`` and ``python -m bot``
print them as one line (``error: ...``), not a traceback."""

from __future__ import annotations

from index.answer.confidence import CalibrationError
from index.ops.shards import ShardTaken
from index.reader import ReaderWeightsError
from index.search.storage.base import IndexUnavailable
from index.settings import SettingsError
from index.statedb import StateUnavailable

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
