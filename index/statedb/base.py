"""The state database's interface: what the feedback log, the feed book and the bot's memory
(``bot/state.py``) use, whichever engine keeps it.

Their queries are written once for both engines: ``?`` placeholders, ``ON CONFLICT``
upserts, ``RETURNING`` for new ids, ``rowid`` for insertion order (SQLite's own; a column of
that name in PostgreSQL), nothing engine-specific. Each engine has its own migrations, in
its own types (PostgreSQL's ids are ``bigint``, its times ``double precision``).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from index.errors import NewsdeskError


class StateUnavailable(NewsdeskError, RuntimeError):
    """The state database cannot be used; the message says why and what to do."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Writer(Protocol):
    """A transaction's connection, as ``StateDatabase.writing`` hands it out."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...


class StateDatabase(ABC):
    """Votes, per-server settings, conversations and feeds: a SQLite file (``sqlite.py``) or
    PostgreSQL (``postgres.py``), shared by every bot process on it."""

    @property
    @abstractmethod
    def where(self) -> str:
        """The file or the database, for messages (never with a password)."""

    @property
    @abstractmethod
    def version(self) -> int:
        """The schema version the database is at."""

    @abstractmethod
    def writing(self) -> AbstractContextManager[Writer]:
        """A transaction: committed when the block ends, rolled back if it raises."""

    @abstractmethod
    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query."""

    def salt(self) -> str:
        """This database's own salt for hashing members' ids (voters, askers), made once."""
        with self.writing() as writing:
            writing.execute(
                "INSERT INTO meta VALUES ('salt', ?) ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(16),),
            )
        [(salt,)] = self.rows("SELECT value FROM meta WHERE key = 'salt'")
        return salt

    @abstractmethod
    def close(self) -> None: ...
