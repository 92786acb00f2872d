"""The articles' originals in the index's database (table ``newsdesk_originals``, migrated with
the index's own tables), for every process on it: ``index.ingest.originals`` has the contract
and the folder's."""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from index.db import connect, migrate, redacted
from index.ingest.articles import article_files
from index.ingest.originals import Imported, Originals, Undo


class DatabaseOriginals(Originals):
    """The originals in the index's database (table ``newsdesk_originals``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        with connect(url) as db:
            migrate(db, url)  # the table comes with the index's own

    def __str__(self) -> str:
        return f"the articles in {redacted(self.url)}"

    def _connection(self) -> psycopg.Connection:
        return connect(self.url)

    def seed(self, folder: Path) -> Imported | None:
        with self._connection() as db:
            if db.execute("SELECT 1 FROM newsdesk_originals LIMIT 1").fetchone():
                return None
        return self.import_folder(folder)

    @contextmanager
    def files(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="newsdesk-corpus-") as scratch:
            folder = Path(scratch)
            with self._connection() as db:
                rows = db.execute(
                    "SELECT id, content FROM newsdesk_originals WHERE removed IS NULL"
                )
                for article_id, content in rows:
                    target = folder / article_id
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
            yield folder

    def get(self, article_id: str) -> bytes | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT content FROM newsdesk_originals WHERE id = %s AND removed IS NULL",
                (article_id,),
            ).fetchone()
        return bytes(row[0]) if row else None

    def put(self, article_id: str, data: bytes, origin: str) -> Undo:
        with self._connection() as db:
            before = db.execute(
                "SELECT content, hash, origin, added, removed FROM newsdesk_originals"
                " WHERE id = %s",
                (article_id,),
            ).fetchone()
            _upsert(db, article_id, data, origin, time.time())

        def undo() -> None:
            with self._connection() as db:
                if before is None:
                    db.execute("DELETE FROM newsdesk_originals WHERE id = %s", (article_id,))
                else:
                    db.execute(
                        "UPDATE newsdesk_originals SET content = %s, hash = %s, origin = %s,"
                        " added = %s, removed = %s WHERE id = %s",
                        (*before, article_id),
                    )

        return undo

    def take_out(self, article_id: str) -> Undo:
        with self._connection() as db:
            db.execute(
                "UPDATE newsdesk_originals SET removed = %s WHERE id = %s AND removed IS NULL",
                (time.time(), article_id),
            )

        def undo() -> None:
            with self._connection() as db:
                db.execute(
                    "UPDATE newsdesk_originals SET removed = NULL WHERE id = %s", (article_id,)
                )

        return undo

    def import_folder(self, folder: Path) -> Imported:
        """Add or update what ``folder`` holds (every file the loader would read), and take
        out what an earlier import of this folder brought and it holds no longer."""
        origin = f"import:{folder.resolve()}"
        held = {relative: path.read_bytes() for relative, path in article_files(folder)}
        imported = Imported()
        with self._connection() as db:
            known = {
                i: (digest, o, removed)
                for i, digest, o, removed in db.execute(
                    "SELECT id, hash, origin, removed FROM newsdesk_originals"
                )
            }
            now = time.time()
            for article_id, data in held.items():
                before = known.get(article_id)
                digest = hashlib.sha256(data).hexdigest()
                if before is not None and before[0] == digest and before[2] is None:
                    continue
                (imported.updated if before and before[2] is None else imported.added).append(
                    article_id
                )
                _upsert(db, article_id, data, origin, now)
            for article_id, (_, o, removed) in known.items():
                if o == origin and removed is None and article_id not in held:
                    db.execute(
                        "UPDATE newsdesk_originals SET removed = %s WHERE id = %s",
                        (now, article_id),
                    )
                    imported.removed.append(article_id)
        return imported


def _upsert(db: psycopg.Connection, article_id: str, data: bytes, origin: str, now: float) -> None:
    db.execute(
        "INSERT INTO newsdesk_originals (id, content, hash, origin, added, removed)"
        " VALUES (%s, %s, %s, %s, %s, NULL) ON CONFLICT (id) DO UPDATE SET"
        " content = excluded.content, hash = excluded.hash, origin = excluded.origin,"
        " added = excluded.added, removed = NULL",
        (article_id, data, hashlib.sha256(data).hexdigest(), origin, now),
    )
