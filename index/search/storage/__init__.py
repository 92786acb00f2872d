"""Where the index lives: a folder (the default; nothing else to install) or a PostgreSQL
database with pgvector (``NEWSDESK_DATABASE_URL``), behind one interface (``base.py``)."""

from __future__ import annotations

from pathlib import Path

from index.db import is_database_url
from index.search.storage.base import Backend

Location = Path | str  # an index folder, or a postgresql:// URL


def backend_at(location: Location) -> Backend:
    """The backend for ``location``: a ``postgresql://`` (or ``postgres://``) URL is a
    database, anything else an index folder."""
    if is_database_url(location):
        from index.search.storage.postgres import PostgresBackend  # psycopg only when asked for

        return PostgresBackend(location)
    from index.search.storage.folder import FolderBackend

    return FolderBackend(Path(location))
