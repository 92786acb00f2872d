"""The storage seam: what the retriever and the answerer read (``Storage``) and what a build
writes (``Backend``), with the records that cross it. One module per backend: ``folder``
(FAISS + SQLite + bm25s in a folder, the default) and ``postgres`` (PostgreSQL + pgvector,
shared by several processes); ``index.search.storage.backend_at`` picks one from a location.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import numpy as np

from index.errors import IndexUnavailable
from index.ingest.articles import Article
from index.ingest.chunking import Chunk, Span
from index.search.scope import Scope
from index.settings import Settings

# Bump when what a build holds or embeds changes (``passage_text_for_search``, the chunking,
# a backend's layout): older builds are then refused with a rebuild hint, and never lend their
# vectors to an incremental build.
FORMAT = 1
REBUILD_HINT = "Rebuild it with `python -m index build --full` (or a reindex from the bot)."


class BuildRunning(IndexUnavailable):
    """Another process (or thread) holds the build lock of this index."""


@dataclass
class Embedded:
    """An article's passages and sentences with their vectors: what a build writes."""

    chunks: list[Chunk]
    passage_vectors: np.ndarray
    sentences: list[Span]
    sentence_vectors: np.ndarray


@dataclass(frozen=True)
class Manifest:
    model: str
    model_id: str
    dimension: int
    chunk_tokens: int
    articles: int
    passages: int
    sentences: int
    faiss_index: str  # the dense search: a FAISS class, or "pgvector exact" / "pgvector HNSW"
    built_at: str
    build_seconds: float
    files: dict[str, int] = field(default_factory=dict)  # name -> size in bytes (folder)
    format: int = FORMAT


@dataclass(frozen=True)
class BuildSpec:
    """What a build is made with; recorded in its manifest."""

    model: str
    model_id: str
    dimension: int
    chunk_tokens: int
    approximate_above: int = Settings.approximate_above


@dataclass(frozen=True)
class PassageRecord:
    id: int
    article_id: str
    title: str
    source: str
    url: str | None
    date: str | None
    start: int
    end: int
    text: str
    first_sentence: int
    sentence_count: int


@dataclass(frozen=True)
class ArticleRecord:
    id: str
    title: str
    source: str
    url: str | None
    date: str | None
    hash: str
    passages: int


@dataclass(frozen=True)
class LexicalHits:
    """BM25 for one question: the best passages, and the scores of those asked for too."""

    top: list[int]  # passage ids with a score above 0, best first
    scores: dict[int, float]  # for ``top`` and every id asked about
    best: float  # the highest score of any passage (0 when no word matched)


@dataclass(frozen=True)
class Changes:
    """A build as the backend receives it: every article of the corpus in order, and the
    embedded content of those new or changed (any other article the index holds is gone)."""

    articles: list[Article]
    embedded: dict[str, Embedded]


def passage_text_for_search(title: str, text: str) -> str:
    """What the dense and the lexical index see: the title gives a passage its topic."""
    return f"{title}\n{text}"


class Storage(ABC):
    """A loaded index, read-only, safe to share between threads. Passage ids are the
    storage's own; a passage's sentences are ``first_sentence .. + sentence_count - 1``.
    ``scope``: only the passages of the articles it admits (``index.search.scope``), filtered
    inside the index; None: every passage."""

    @property
    @abstractmethod
    def manifest(self) -> Manifest:
        """What the build holds (model, counts, when it was made)."""

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the index lives, for people: a folder, or a database without its password."""

    @abstractmethod
    def dense(self, query: np.ndarray, depth: int, scope: Scope | None = None) -> list[int]:
        """The ``depth`` passages nearest ``query`` (a unit vector) by inner product."""

    @abstractmethod
    def passage_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        """The cosine of each passage in ``ids`` with ``query``, in that order."""

    @abstractmethod
    def best_sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        """For each passage in ``ids``, the highest cosine of one of its sentences."""

    @abstractmethod
    def sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        """The cosine of each sentence in ``ids`` with ``query``, in that order."""

    @abstractmethod
    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The unit vectors of the sentences in ``ids``, one row each, in that order."""

    @abstractmethod
    def lexical(
        self, question: str, depth: int, also: Sequence[int] = (), scope: Scope | None = None
    ) -> LexicalHits:
        """BM25 of the passages for ``question``: the ``depth`` best, and the ids in ``also``."""

    @abstractmethod
    def idf(self, words: Sequence[str]) -> dict[str, float]:
        """How rare each (tokenized) word is among the passages; unseen words are rarest."""

    @abstractmethod
    def knows(self, text: str, scope: Scope | None = None) -> bool:
        """Whether every word of ``text`` occurs somewhere in the passages."""

    @abstractmethod
    def passages(self, ids: Sequence[int]) -> list[PassageRecord]:
        """Passages by id, in the order asked."""

    @abstractmethod
    def sentences(self, first: int, count: int) -> list[tuple[int, int, int, str]]:
        """(id, start, end, text) of sentences ``first`` .. ``first + count - 1``."""

    @abstractmethod
    def articles(self, scope: Scope | None = None) -> list[ArticleRecord]:
        """Every article, newest first (undated last), then by title."""

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent view for all the reads of a question, where another process may
        write meanwhile (a database); a folder build never changes, so nothing to do."""
        yield

    @abstractmethod
    def close(self) -> None: ...


class Backend(ABC):
    """Where builds go: the build's lock, what the current index can lend it, and writing it
    so that the old index answers until the new one is complete."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether an index was ever written here (even one that can no longer be opened)."""

    @abstractmethod
    def open(self, model_id: str | None = None, dimension: int | None = None) -> Storage:
        """The current index, checked against the model that will query it."""

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Held for a whole build: a second builder is refused with ``BuildRunning``."""

    @abstractmethod
    def hashes(self, model_id: str, chunk_tokens: int) -> dict[str, str]:
        """Each article's content hash in the current index, if it was built alike (else
        nothing: every article is embedded again)."""

    @abstractmethod
    def write(self, changes: Changes, spec: BuildSpec, started: float) -> Manifest:
        """Make the index hold exactly ``changes.articles``; call inside ``lock``."""
