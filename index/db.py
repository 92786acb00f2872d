"""Versioned schemas, for the index's PostgreSQL tables and the state database: each keeps an
ordered tuple of migration scripts (migration N brings version N - 1 to N; append, never edit
one that shipped) and refuses a database from a newer release."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import psycopg


def statements(script: str) -> Iterator[str]:
    """The statements of a migration script, one at a time (run inside the migration's
    transaction; SQLite's ``executescript`` would commit on its own)."""
    without_comments = "\n".join(line.split("--")[0] for line in script.splitlines())
    return (s.strip() for s in without_comments.split(";") if s.strip())


def postgres_version(connection: psycopg.Connection, meta: str) -> int:
    """The version recorded in ``meta`` (a key/value table); 0 before the first migration."""
    if connection.execute("SELECT to_regclass(%s)", (meta,)).fetchone()[0] is None:
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
