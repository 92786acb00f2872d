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

import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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

    def import_folder(self, folder: Path) -> Imported | None:
        """Take in what ``folder`` holds (``build --corpus``): added or updated, and what it held
        before and holds no longer taken out. A folder corpus is its own source: nothing to do."""
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


def _write_atomically(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A dot name: the loader skips it, should a crash leave it behind.
    staged = target.parent / f".{target.name}.{secrets.token_hex(4)}"
    staged.write_bytes(content)
    os.replace(staged, target)


def originals_for(database_url: str, folder: Path) -> Originals:
    """The originals in the database when one is set, else in ``folder``."""
    if database_url:
        from index.ingest.originals_postgres import DatabaseOriginals  # psycopg only then

        return DatabaseOriginals(database_url)
    return FolderOriginals(folder)
