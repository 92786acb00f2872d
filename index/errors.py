"""The errors whose message already says what to do. ``python -m index`` and ``python -m bot``
print them as one line (``error: ...``), not a traceback: every such error derives from
``NewsdeskError``, wherever it is raised."""

from __future__ import annotations


class NewsdeskError(Exception):
    """An error whose message says what went wrong and what to do about it."""


class IndexUnavailable(NewsdeskError, RuntimeError):
    """The index cannot be used as it is; the message says why and how to fix it."""


ONE_LINE_ERRORS: tuple[type[Exception], ...] = (
    NewsdeskError,
    FileNotFoundError,
    NotADirectoryError,
)
