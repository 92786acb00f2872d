"""Where the articles' originals live, the source of truth every build is made from.

Without a database: the articles folder (NEWSDESK_CORPUS_DIR), as files (``FolderOriginals``).
With NEWSDESK_DATABASE_URL: the database (``DatabaseOriginals``), so that an article added
through one machine is in the next build made on any other. Each original is kept as it came
(text, Markdown with its front matter, HTML, JSON), under the id the loader gives it (its
path: "harbour.md", "web/<host>/<hash>.md"); a build reads them through a scratch folder,
so the loader and the build are the same for both. A folder given to ``build --corpus`` becomes
an import: what it holds is added or updated, and what it held before and holds no longer is
taken out; nothing else is touched.

Every change returns an ``Undo``: the caller indexes at once and, if the build fails, puts
the corpus back as it was.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from index.ingest.articles import article_files
from index.search.storage.postgres import connect, migrate, redacted

REMOVED_FOLDER = ".removed"  # a folder corpus's removed articles (the loader skips dot folders)
Undo = Callable[[], None]


@dataclass
class Imported:
    """What an import of a folder changed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Originals(ABC):
    @abstractmethod
    @contextmanager
    def files(self) -> Iterator[Path]:
        """A folder holding every article, to build from (only for the block's time)."""

    @abstractmethod
    def get(self, article_id: str) -> bytes | None:
        """An article's original, or None."""

    @abstractmethod
    def put(self, article_id: str, data: bytes, origin: str) -> Undo:
        """Add or replace an article (``origin``: "upload", "web", "cli", ...)."""

    @abstractmethod
    def take_out(self, article_id: str) -> Undo:
        """Take an article out of the coverage, keeping its original aside."""

    def seed(self, folder: Path) -> Imported | None:
        """Fill an empty corpus from ``folder``: the first build on a new database starts
        from NEWSDESK_CORPUS_DIR, as a folder setup does."""
        return None

    def put_many(self, items: Sequence[tuple[str, bytes]], origin: str) -> Undo:
        """``put`` for each (id, data) whose data differs from what is there; one undo."""
        undos = [self.put(i, data, origin) for i, data in items if self.get(i) != data]

        def undo() -> None:
            for each in reversed(undos):
                each()

        return undo


class FolderOriginals(Originals):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __str__(self) -> str:
        return str(self.folder)

    @contextmanager
    def files(self) -> Iterator[Path]:
        yield self.folder

    def get(self, article_id: str) -> bytes | None:
        path = self._path(article_id)
        return path.read_bytes() if path.is_file() else None

    def put(self, article_id: str, data: bytes, origin: str) -> Undo:
        target = self._path(article_id)
        before = self.get(article_id)
        _write_atomically(target, data)

        def undo() -> None:
            if before is None:
                target.unlink(missing_ok=True)
            else:
                _write_atomically(target, before)

        return undo

    def take_out(self, article_id: str) -> Undo:
        path = self._path(article_id)
        kept = self.folder / REMOVED_FOLDER / f"{secrets.token_hex(4)}-{path.name}"
        kept.parent.mkdir(exist_ok=True)
        os.replace(path, kept)
        return lambda: os.replace(kept, path)

    def _path(self, article_id: str) -> Path:
        """The file of ``article_id``; an id that leads out of the folder is refused."""
        folder = self.folder.resolve()
        path = (folder / article_id).resolve()
        if folder not in path.parents:
            raise ValueError(f"{article_id!r} is not a path inside the articles folder")
        return path


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


def _write_atomically(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A dot name: the loader skips it, should a crash leave it behind.
    staged = target.parent / f".{target.name}.{secrets.token_hex(4)}"
    staged.write_bytes(content)
    os.replace(staged, target)


def originals_for(database_url: str, folder: Path) -> Originals:
    return DatabaseOriginals(database_url) if database_url else FolderOriginals(folder)
