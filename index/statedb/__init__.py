"""The state database: votes, per-server settings, thread conversations and feeds. It lives
beside the index, not inside it, so it survives every reindex: a SQLite file
(``NEWSDESK_STATE_DB``, the default) or, when ``NEWSDESK_DATABASE_URL`` is set, PostgreSQL,
shared by every bot process on it. One interface (``base.py``), one module per engine."""

from __future__ import annotations

from pathlib import Path

from index.db import is_database_url
from index.statedb.base import StateDatabase, StateUnavailable

__all__ = ["StateDatabase", "StateUnavailable", "open_state"]


def open_state(location: Path | str) -> StateDatabase:
    """The state database at ``location``: a ``postgresql://`` URL, else a SQLite file."""
    if is_database_url(location):
        from index.statedb.postgres import PostgresState  # psycopg only when asked for

        return PostgresState(location)
    from index.statedb.sqlite import SQLiteState

    return SQLiteState(Path(location))
