"""The state database in a SQLite file (``NEWSDESK_STATE_DB``), the default: votes,
per-server settings, conversations and news feeds.

It lives beside the index, not inside it, so it survives every reindex. Its schema is
versioned (SQLite's ``user_version``) and brought up to date at start by the ordered
``MIGRATIONS`` below: a database from an older release is upgraded in place, one from a newer
release is refused with a clear message. To change the schema, append a migration; never edit
one that has shipped.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.db import statements
from index.statedb.base import StateDatabase, StateUnavailable, Writer

# Migration N brings a database from version N - 1 to N. Version 0 is a new file, or one
# from before versions were kept (its tables are those of migration 1, hence IF NOT EXISTS).
MIGRATIONS: tuple[str, ...] = (
    # 1: feedback (answers shown, votes), per-server settings, thread conversations.
    """
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS answers (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER,
        question TEXT NOT NULL,
        asked_as TEXT NOT NULL,
        answer TEXT NOT NULL,
        covered INTEGER NOT NULL,
        passages TEXT NOT NULL,  -- JSON: the passages shown, in order
        created REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS votes (
        answer_id INTEGER NOT NULL REFERENCES answers(id),
        voter TEXT NOT NULL,  -- salted hash of the user id
        up INTEGER NOT NULL,
        reason TEXT,
        at REAL NOT NULL,
        PRIMARY KEY (answer_id, voter)
    );
    CREATE TABLE IF NOT EXISTS server_settings (
        guild_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (guild_id, name)
    );
    CREATE TABLE IF NOT EXISTS settings_changes (
        guild_id INTEGER NOT NULL, user_id INTEGER NOT NULL, name TEXT NOT NULL,
        old TEXT NOT NULL, new TEXT NOT NULL, at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS conversations (
        thread_id INTEGER PRIMARY KEY, guild_id INTEGER, started REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS turns (
        thread_id INTEGER NOT NULL REFERENCES conversations(thread_id),
        question TEXT NOT NULL, answer TEXT NOT NULL, at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS turns_by_thread ON turns (thread_id, at);
    """,
    # 2: /feedback reads one server's answers: without an index it scans every server's.
    """
    CREATE INDEX answers_by_guild ON answers (guild_id, created);
    """,
    # 3: news feeds and what was taken from them; web articles an admin removed.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        guild_id INTEGER,  -- NULL: a feed from NEWSDESK_FEEDS, for every server
        added_by INTEGER,
        added REAL NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_run REAL,
        last_added INTEGER,
        last_error TEXT
    );
    CREATE UNIQUE INDEX feeds_by_url ON feeds (url, COALESCE(guild_id, 0));
    CREATE TABLE feed_entries (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        entry TEXT NOT NULL,  -- the entry's id, else its link
        updated TEXT NOT NULL,  -- as the feed stated it: a later one is fetched again
        PRIMARY KEY (feed_id, entry)
    );
    CREATE TABLE removed_urls (url TEXT PRIMARY KEY, at REAL NOT NULL);
    """,
    # 4: followed stories, what each has looked at, when each channel last had a post; the
    # timelines whose page buttons were sent (a button holds only the id).
    """
    CREATE TABLE follows (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        topic TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE follow_articles (
        follow_id INTEGER NOT NULL REFERENCES follows(id) ON DELETE CASCADE,
        article TEXT NOT NULL,  -- the article's id and its text's hash
        at REAL NOT NULL,
        PRIMARY KEY (follow_id, article)
    );
    CREATE TABLE follow_told (
        follow_id INTEGER NOT NULL REFERENCES follows(id) ON DELETE CASCADE,
        sentence TEXT NOT NULL,  -- a hash of an entry's sentence the follow has told or seen
        PRIMARY KEY (follow_id, sentence)
    );
    CREATE TABLE follow_channels (channel_id INTEGER PRIMARY KEY, last_post REAL NOT NULL);
    CREATE TABLE timelines (
        id INTEGER PRIMARY KEY,
        query TEXT NOT NULL,
        since TEXT NOT NULL,  -- an ISO date, '' for the whole story
        created REAL NOT NULL,
        UNIQUE (query, since)
    );
    """,
    # 5: the questions asked in servers, for the coverage-gaps report (index/ops/gaps.py).
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER,
        asker TEXT NOT NULL,  -- a salted hash: members are counted, never named
        at REAL NOT NULL,
        outcome TEXT NOT NULL,  -- sure, unsure, not covered
        confidence REAL,
        question TEXT,  -- NULL where the server keeps no wordings
        vector BLOB,  -- float16, likewise
        answer_id INTEGER  -- the answer its votes are on, when it had buttons
    );
    CREATE INDEX questions_by_guild ON questions (guild_id, at);
    """,
    # 6: a web article removed stays removed in the collection it was removed from (guild_id
    # 0: the shared coverage, which every removal so far was), not in every server's.
    """
    CREATE TABLE removed_web (
        guild_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (guild_id, url)
    );
    INSERT INTO removed_web (guild_id, url, at) SELECT 0, url, at FROM removed_urls;
    DROP TABLE removed_urls;
    """,
)
VERSION = len(MIGRATIONS)


class SQLiteState(StateDatabase):
    """One connection shared by the bot's threads and by everything kept there (votes, server
    settings, conversations), every use under one lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=10)
            # Checked whole at start (it is small), so damage shows here, not mid-answer.
            (verdict,) = self._db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StateUnavailable(
                f"The state database {path} is damaged ({error}). It holds votes, per-server "
                "settings and thread conversations: restore it from a backup, or move it aside "
                "and a new, empty one is made at the next start."
            ) from None

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > VERSION:
            self._db.close()
            raise StateUnavailable(
                f"The state database {self._path} was written by a newer Newsdesk (schema version "
                f"{version}; this one knows up to {VERSION}). Run the newer release, or restore "
                "a backup made by this one."
            )
        for number in range(version + 1, VERSION + 1):
            # One transaction per migration, the version with it: a crash leaves either.
            with self._db:
                self._db.execute("BEGIN")
                for statement in statements(MIGRATIONS[number - 1]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @property
    def where(self) -> str:
        return str(self._path)

    @property
    def version(self) -> int:
        return self.rows("PRAGMA user_version")[0][0]

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        with self._lock, self._db:
            yield self._db

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        self._db.close()
