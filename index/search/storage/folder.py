"""The folder backend: one index folder on disk, written atomically and checked when loaded.

Layout of ``index_dir``::

    current -> builds/<build id>      symlink, switched atomically when a build completes
    builds/<build id>/
        manifest.json                 written last: model, dimension, chunking, counts, sizes
        passages.faiss                inner product over unit vectors (= cosine): exact search
                                      up to ``approximate_above`` passages, an HNSW graph above
        meta.sqlite                   articles, passages, sentences (text and offsets)
        sentences.npy                 one unit vector per sentence, for answer selection
        bm25/                         the lexical index over the same passages
    .lock                             held while a build runs

A build is written into ``builds/<id>.partial`` and renamed once complete; only then does
``current`` move. A build killed at any point leaves ``current`` on the previous build, and
the next build removes what it left behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index.errors import IndexUnavailable
from index.ingest.chunking import Chunk
from index.ingest.collections import SERVERS
from index.search.lexical import LexicalIndex
from index.search.scope import Scope
from index.search.storage.base import (
    FORMAT,
    REBUILD_HINT,
    ArticleRecord,
    Backend,
    BuildRunning,
    BuildSpec,
    Changes,
    Embedded,
    LexicalHits,
    Manifest,
    PassageRecord,
    Storage,
)
from index.search.storage.folder_build import HNSW_EF_SEARCH, remove_stale_builds, write_build

log = logging.getLogger(__name__)

# How a scope is searched (measured on 10,000 passages, 2026-12-06): an exact index with FAISS's
# selector (1.4 ms, where copying out the 9,900 vectors a scope admits and multiplying took
# 21 ms); a graph with the selector, its search widened by the share the scope admits (a
# graph filtered down to a small collection finds few of it among its candidates), except a
# scope of at most EXACT_INSIDE passages, searched exactly over their own vectors (100 in
# 0.01 ms, 2,000 in 3 to 9 on a busy machine).
EXACT_INSIDE = 2_000
MAX_EF_SEARCH = 16_384  # a graph search widened for a small scope, at most
SCOPES_KEPT = 64  # scopes whose passages are kept (servers asking, members' filters)


@dataclass(frozen=True)
class _Inside:
    """The passages one scope admits: sorted ids, a mask over all, and FAISS's selector with
    the bitmap it reads (both kept here: FAISS holds neither alive)."""

    ids: np.ndarray
    mask: np.ndarray
    bitmap: np.ndarray
    selector: faiss.IDSelectorBitmap

    @classmethod
    def of(cls, ids: np.ndarray, total: int) -> _Inside:
        mask = np.zeros(total, dtype=bool)
        mask[ids] = True
        bitmap = np.packbits(mask, bitorder="little")
        return cls(ids, mask, bitmap, faiss.IDSelectorBitmap(total, faiss.swig_ptr(bitmap)))

    def parameters(self, index: faiss.Index) -> faiss.SearchParameters:
        # SWIG's keyword constructors are missing from FAISS's type stubs (1.15).
        if isinstance(index, faiss.IndexHNSW):
            share = max(len(self.ids) / len(self.mask), 1e-6)
            wider = min(int(HNSW_EF_SEARCH / share), MAX_EF_SEARCH)
            hnsw = faiss.SearchParametersHNSW  # type: ignore[attr-defined]
            return hnsw(sel=self.selector, efSearch=max(HNSW_EF_SEARCH, wider))
        return faiss.SearchParameters(sel=self.selector)  # type: ignore[call-arg]


class FolderStorage(Storage):
    """A loaded, checked index build: read-only, safe to share between threads."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = folder
        self._manifest = manifest
        try:
            self.faiss = faiss.read_index(str(folder / "passages.faiss"))
            flat = self.faiss
            if isinstance(self.faiss, faiss.IndexHNSW):
                self.faiss.hnsw.efSearch = HNSW_EF_SEARCH
                flat = faiss.downcast_index(self.faiss.storage)
            # The passages' vectors as an array, without a copy (FAISS keeps them): what a
            # small scope is searched over exactly. (get_xb: missing from FAISS's stubs.)
            vectors = flat.get_xb()  # type: ignore[attr-defined]
            self._vectors = faiss.rev_swig_ptr(vectors, flat.ntotal * flat.d).reshape(
                flat.ntotal, flat.d
            )
            self.sentence_matrix = np.load(folder / "sentences.npy", mmap_mode="r")
            self.lexical_index = LexicalIndex.load(folder / "bm25", manifest.passages)
            # immutable=1: the build never changes after it is written, so no locking is needed.
            uri = f"file:{folder / 'meta.sqlite'}?mode=ro&immutable=1"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db_lock = threading.Lock()
            # Which sentences each passage holds: needed for every question, so kept in memory.
            spans = self._db.execute(
                "SELECT first_sentence, sentence_count FROM passages ORDER BY id"
            ).fetchall()
            self.passage_sentences = np.array(spans, dtype=np.int64).reshape(-1, 2)
            counts = self._db.execute(
                "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM passages),"
                " (SELECT count(*) FROM sentences)"
            ).fetchone()
            # Whether any article is a server's own: if none, the shared coverage is all.
            self._servers = bool(
                self._db.execute(
                    "SELECT count(*) FROM articles WHERE substr(id, 1, ?) = ?",
                    (len(SERVERS) + 1, f"{SERVERS}/"),
                ).fetchone()[0]
            )
            self._scopes: dict[Scope, _Inside] = {}
        except (RuntimeError, OSError, ValueError, sqlite3.DatabaseError) as error:
            raise IndexUnavailable(
                f"The index at {folder} is damaged ({error}). {REBUILD_HINT}"
            ) from None
        kind = type(self.faiss).__name__
        if kind != manifest.faiss_index or self.faiss.metric_type != faiss.METRIC_INNER_PRODUCT:
            # Scores from another kind of index (an L2 distance, say) would rank passages
            # backwards: refuse rather than answer wrongly.
            raise IndexUnavailable(
                f"The index at {folder} holds a FAISS {kind} (metric {self.faiss.metric_type}), "
                f"not the {manifest.faiss_index} over inner products its manifest names; it was "
                f"written by another version or replaced. {REBUILD_HINT}"
            )
        expected = (manifest.articles, manifest.passages, manifest.sentences)
        if counts != expected or self.faiss.ntotal != manifest.passages:
            raise IndexUnavailable(
                f"The index at {folder} is inconsistent: the manifest promises "
                f"{expected} articles/passages/sentences, the files hold {counts} and "
                f"{self.faiss.ntotal} vectors. {REBUILD_HINT}"
            )
        if self.faiss.d != manifest.dimension or self.sentence_matrix.shape != (
            manifest.sentences,
            manifest.dimension,
        ):
            raise IndexUnavailable(
                f"The index at {folder} holds vectors of the wrong dimension for its "
                f"manifest ({manifest.dimension}). {REBUILD_HINT}"
            )

    @classmethod
    def open(
        cls, index_dir: Path, model_id: str | None = None, dimension: int | None = None
    ) -> FolderStorage:
        """Load the current build, checking it matches the model that will query it."""
        folder = current_build(index_dir)
        manifest = read_manifest(folder)
        if model_id is not None and manifest.model_id != model_id:
            raise IndexUnavailable(
                f"The index at {index_dir} was built with the model {manifest.model!r}, "
                f"not the one configured now. {REBUILD_HINT}"
            )
        if dimension is not None and manifest.dimension != dimension:
            raise IndexUnavailable(
                f"The index at {index_dir} holds {manifest.dimension}-dimensional vectors; the "
                f"configured model makes {dimension}. {REBUILD_HINT}"
            )
        return cls(folder, manifest)

    @property
    def manifest(self) -> Manifest:
        return self._manifest

    @property
    def where(self) -> str:
        return str(self.folder)

    def dense(self, query: np.ndarray, depth: int, scope: Scope | None = None) -> list[int]:
        inside = self._inside(scope)
        if inside is None:
            _, ids = self.faiss.search(query[None, :], depth)
        elif isinstance(self.faiss, faiss.IndexHNSW) and len(inside.ids) <= EXACT_INSIDE:
            cosines = self._vectors[inside.ids] @ query
            return [int(i) for i in inside.ids[np.argsort(-cosines, kind="stable")[:depth]]]
        else:
            _, ids = self.faiss.search(query[None, :], depth, params=inside.parameters(self.faiss))
        return [int(i) for i in ids[0] if i >= 0]

    def passage_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        return self.faiss.reconstruct_batch(np.asarray(ids, dtype=np.int64)) @ query

    def sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        return np.asarray(self.sentence_matrix[list(ids)]) @ query

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        return np.asarray(self.sentence_matrix[list(ids)], dtype=np.float32)

    def lexical(
        self, question: str, depth: int, also: Sequence[int] = (), scope: Scope | None = None
    ) -> LexicalHits:
        bm25 = self.lexical_index.scores(question)
        inside = self._inside(scope)
        if inside is not None:
            bm25 = np.where(inside.mask, bm25, 0.0)
        top = [int(i) for i in np.argsort(-bm25, kind="stable")[:depth] if bm25[i] > 0]
        scores = {i: float(bm25[i]) for i in [*top, *also]}
        return LexicalHits(top, scores, float(bm25.max()) if len(bm25) else 0.0)

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        return {word: self.lexical_index.idf(word) for word in words}

    def knows(self, text: str, scope: Scope | None = None) -> bool:
        inside = self._inside(scope)
        return self.lexical_index.knows(text, None if inside is None else inside.mask)

    def _inside(self, scope: Scope | None) -> _Inside | None:
        """The passages ``scope`` admits (kept: a build never changes); None: every one."""
        if scope is None or not (scope.narrowed or self._servers):
            return None
        with self._db_lock:
            inside = self._scopes.get(scope)
        if inside is None:
            where, args = scope.condition("?")
            rows = self._query(
                f"SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id WHERE {where}",
                args,
            )
            ids = np.array(sorted(r[0] for r in rows), dtype=np.int64)
            inside = _Inside.of(ids, self._manifest.passages)
            with self._db_lock:
                if len(self._scopes) >= SCOPES_KEPT:
                    self._scopes.pop(next(iter(self._scopes)))
                self._scopes[scope] = inside
        return inside

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._db_lock:
            return self._db.execute(sql, args).fetchall()

    def passages(self, ids: Sequence[int]) -> list[PassageRecord]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            "SELECT p.id, p.article_id, a.title, a.source, a.url, a.date, p.start_char,"
            " p.end_char, p.text, p.first_sentence, p.sentence_count"
            f" FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
            [int(i) for i in ids],
        )
        by_id = {row[0]: PassageRecord(*row) for row in rows}
        return [by_id[int(i)] for i in ids]

    def best_sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        spans = self.passage_sentences[np.asarray(ids, dtype=np.int64)]
        rows = np.concatenate([np.arange(f, f + n) for f, n in spans])
        cosines = np.asarray(self.sentence_matrix[rows]) @ query
        return np.maximum.reduceat(cosines, np.cumsum(spans[:, 1]) - spans[:, 1])

    def sentences(self, first: int, count: int) -> list[tuple[int, int, int, str]]:
        return self._query(
            "SELECT id, start_char, end_char, text FROM sentences WHERE id >= ? AND id < ?"
            " ORDER BY id",
            (first, first + count),
        )

    def articles(self, scope: Scope | None = None) -> list[ArticleRecord]:
        where, args = scope.condition("?") if scope else ("1", [])
        rows = self._query(
            "SELECT a.id, a.title, a.source, a.url, a.date, a.hash, a.passages FROM articles a"
            f" WHERE {where} ORDER BY a.date DESC, a.title",
            args,
        )
        return [ArticleRecord(*row) for row in rows]

    def embedded(self) -> dict[str, tuple[str, Embedded]]:
        """Every article's hash and embedded content, for reuse by an incremental build."""
        passage_vectors = self.faiss.reconstruct_n(0, self.faiss.ntotal)
        # Two scans grouped here: one query per article costs minutes at 100,000 passages.
        passages: dict[str, list[tuple]] = defaultdict(list)
        for article_id, *row in self._query(
            "SELECT article_id, id, start_char, end_char, text, first_sentence, sentence_count"
            " FROM passages ORDER BY id"
        ):
            passages[article_id].append(tuple(row))
        sentences: dict[str, list[tuple]] = defaultdict(list)
        for article_id, *row in self._query(
            "SELECT article_id, id, start_char, end_char FROM sentences ORDER BY id"
        ):
            sentences[article_id].append(tuple(row))
        result: dict[str, tuple[str, Embedded]] = {}
        for article_id, content_hash in self._query("SELECT id, hash FROM articles"):
            rows, sentence_rows = passages[article_id], sentences[article_id]
            ids = [s[0] for s in sentence_rows]
            spans = {s[0]: (s[1], s[2]) for s in sentence_rows}
            chunks = [
                Chunk(
                    article_id, r[1], r[2], r[3], tuple(spans[i] for i in range(r[4], r[4] + r[5]))
                )
                for r in rows
            ]
            result[article_id] = (
                content_hash,
                Embedded(
                    chunks=chunks,
                    passage_vectors=passage_vectors[[r[0] for r in rows]],
                    sentences=[spans[i] for i in ids],
                    sentence_vectors=np.asarray(self.sentence_matrix[ids]),
                ),
            )
        return result

    def close(self) -> None:
        with self._db_lock:
            self._db.close()


def current_build(index_dir: Path) -> Path:
    link = index_dir / "current"
    if not link.exists():
        raise IndexUnavailable(
            f"There is no index at {index_dir} yet. Build it with `python -m index build`."
        )
    return link.resolve()


def read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / "manifest.json").read_text())
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError) as error:
        raise IndexUnavailable(
            f"The index at {folder} has no readable manifest ({error}). {REBUILD_HINT}"
        ) from None
    if manifest.format != FORMAT:
        raise IndexUnavailable(
            f"The index at {folder} has format {manifest.format}; this version reads {FORMAT}. "
            f"{REBUILD_HINT}"
        )
    for name, size in manifest.files.items():
        path = folder / name
        actual = path.stat().st_size if path.is_file() else -1
        if actual != size:
            raise IndexUnavailable(
                f"The index file {path} is missing or truncated ({actual} bytes, expected {size}). "
                f"{REBUILD_HINT}"
            )
    return manifest


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Held for the whole of a build, so two builds never write the same index at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildRunning(
                f"Another build of {index_dir} is running; try again when it ends."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class FolderBackend(Backend):
    """Builds under ``index_dir/builds``, the one in use behind the ``current`` symlink."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def __str__(self) -> str:
        return str(self.index_dir)

    def exists(self) -> bool:
        return (self.index_dir / "current").exists()

    def open(self, model_id: str | None = None, dimension: int | None = None) -> FolderStorage:
        return FolderStorage.open(self.index_dir, model_id, dimension)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with build_lock(self.index_dir):
            remove_stale_builds(self.index_dir)
            yield

    def hashes(self, model_id: str, chunk_tokens: int) -> dict[str, str]:
        try:
            store = FolderStorage.open(self.index_dir, model_id=model_id)
        except IndexUnavailable as reason:
            if self.exists():
                log.warning("not reusing the current index: %s", reason)
            return {}
        try:
            if store.manifest.chunk_tokens != chunk_tokens:
                return {}
            return {a.id: a.hash for a in store.articles()}
        finally:
            store.close()

    def write(self, changes: Changes, spec: BuildSpec, started: float) -> Manifest:
        """A whole new build; unchanged articles' vectors come from the current one."""
        lent: dict[str, tuple[str, Embedded]] = {}
        if any(a.id not in changes.embedded for a in changes.articles):
            store = FolderStorage.open(self.index_dir)
            try:
                lent = store.embedded()
            finally:
                store.close()
        items = [(a, changes.embedded.get(a.id) or lent[a.id][1]) for a in changes.articles]
        return write_build(self.index_dir, items, spec, started)
