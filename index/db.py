"""PostgreSQL, shared by every part that keeps something there (the index, its articles'
originals, the state database, the jobs queue, the bot's shard locks): telling a database URL
from a path, connecting, hiding the password in messages, and versioned schemas.

Each schema keeps an ordered tuple of migration scripts (migration N brings version N - 1 to N;
append, never edit one that shipped) and refuses a database from a newer release. The index's
own tables (``MIGRATIONS``) are here because the articles' originals live beside them. psycopg
is imported only by a process that uses a database: a folder install never loads it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urlsplit

from index.errors import IndexUnavailable

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK = 7_302_118_202  # pg_advisory_lock key held while the index's tables migrate


def is_database_url(location: Path | str) -> TypeGuard[str]:
    """Whether ``location`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)
    rather than a folder or file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def connect(url: str) -> psycopg.Connection:
    """A connection to the index's database; one that cannot be made is ``IndexUnavailable``."""
    import psycopg

    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        raise IndexUnavailable(
            f"Cannot reach the index database {redacted(url)}: {str(error).strip()}"
        ) from None
    return connection


# Migration N brings the tables from version N - 1 to N; append, never edit one that shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE newsdesk_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE newsdesk_articles (
        id text PRIMARY KEY, title text NOT NULL, source text NOT NULL, url text, date text,
        hash text NOT NULL, passages integer NOT NULL
    );
    CREATE TABLE newsdesk_passages (
        id integer PRIMARY KEY,
        article_id text NOT NULL REFERENCES newsdesk_articles ON DELETE CASCADE,
        start_char integer NOT NULL, end_char integer NOT NULL, text text NOT NULL,
        first_sentence integer NOT NULL, sentence_count integer NOT NULL,
        length integer NOT NULL, embedding vector NOT NULL
    );
    CREATE INDEX newsdesk_passages_by_article ON newsdesk_passages (article_id);
    CREATE TABLE newsdesk_sentences (
        id integer PRIMARY KEY,
        article_id text NOT NULL REFERENCES newsdesk_articles ON DELETE CASCADE,
        start_char integer NOT NULL, end_char integer NOT NULL, text text NOT NULL,
        embedding vector NOT NULL
    );
    CREATE INDEX newsdesk_sentences_by_article ON newsdesk_sentences (article_id);
    CREATE TABLE newsdesk_terms (
        term text NOT NULL,
        passage_id integer NOT NULL REFERENCES newsdesk_passages ON DELETE CASCADE,
        tf integer NOT NULL,
        PRIMARY KEY (term, passage_id)
    );
    CREATE INDEX newsdesk_terms_by_passage ON newsdesk_terms (passage_id);
    """,
    # The articles' originals, which every build reads (index.corpus); "removed" keeps what
    # a removal took out, so that it can be put back.
    """
    CREATE TABLE newsdesk_originals (
        id text PRIMARY KEY, content bytea NOT NULL, hash text NOT NULL, origin text NOT NULL,
        added double precision NOT NULL, removed double precision
    );
    """,
)
VERSION = len(MIGRATIONS)


def migrate(connection: psycopg.Connection, url: str) -> None:
    """Bring the tables up to ``VERSION``; a database from a newer release is refused."""

    def newer(version: int) -> IndexUnavailable:
        return IndexUnavailable(
            f"The index database {redacted(url)} was written by a newer Newsdesk (schema "
            f"version {version}; this one knows up to {VERSION}). Run the newer release."
        )

    if one(connection, "SELECT pg_is_in_recovery()")[0]:
        # A read replica takes its tables from its primary: it cannot be written, and a
        # process that opened one first (a new cluster) was stopped by the attempt.
        version = postgres_version(connection, "newsdesk_meta")
        if version > VERSION:
            raise newer(version)
        if version < VERSION:
            raise IndexUnavailable(
                f"There is no index of this release in the read replica {redacted(url)} yet "
                f"(schema version {version} of {VERSION}): it comes with the first build on "
                "the primary."
            )
        return
    migrate_postgres(connection, MIGRATIONS, "newsdesk_meta", MIGRATION_LOCK, newer)


def one(connection: psycopg.Connection, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...]:
    """The one row a query always returns (an aggregate, a function's result)."""
    row = connection.execute(sql, args).fetchone()
    if row is None:
        raise RuntimeError(f"no row from {sql!r}")
    return row


def statements(script: str) -> Iterator[str]:
    """The statements of a migration script, one at a time (run inside the migration's
    transaction; SQLite's ``executescript`` would commit on its own)."""
    without_comments = "\n".join(line.split("--")[0] for line in script.splitlines())
    return (s.strip() for s in without_comments.split(";") if s.strip())


def postgres_version(connection: psycopg.Connection, meta: str) -> int:
    """The version recorded in ``meta`` (a key/value table); 0 before the first migration."""
    if one(connection, "SELECT to_regclass(%s)", (meta,))[0] is None:
        return 0
    row = connection.execute(f"SELECT value FROM {meta} WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate_postgres(
    connection: psycopg.Connection,
    migrations: Sequence[str],
    meta: str,
    lock: int,
    newer: Callable[[int], Exception],
) -> None:
    """Bring a schema up to ``len(migrations)``, raising ``newer(version)`` for one from a newer
    release. One already current is only read (a read replica takes no locks and no writes).

    Processes starting together upgrade once: the first to hold the advisory lock migrates,
    the others then find the work done. The lock is the session's, taken before the
    transaction: a transaction begun after the wait sees the tables the first one made (one
    begun before it would look them up in a stale catalog cache and create them again)."""
    if postgres_version(connection, meta) == len(migrations):
        return
    connection.execute("SELECT pg_advisory_lock(%s)", (lock,))
    try:
        with connection.transaction():
            version = postgres_version(connection, meta)
            if version > len(migrations):
                raise newer(version)
            for number in range(version + 1, len(migrations) + 1):
                for statement in statements(migrations[number - 1]):
                    connection.execute(statement)
                connection.execute(
                    f"INSERT INTO {meta} VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(number),),
                )
    finally:
        connection.execute("SELECT pg_advisory_unlock(%s)", (lock,))


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """``url`` pointed at a new, empty schema, dropped afterwards: an index for a while (an
    evaluation) beside the real one, in the same database."""
    name = f"newsdesk_scratch_{os.getpid()}_{secrets.token_hex(4)}"
    with connect(url) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    joiner = "&" if urlsplit(url).query else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{name},public"
    finally:
        with connect(url) as connection:
            connection.execute(f"DROP SCHEMA {name} CASCADE")
