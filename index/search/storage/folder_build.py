"""Writing a build of the folder backend (``folder.py`` has the layout and reads it): every
file into ``builds/<id>.partial``, synced, renamed once complete, then ``current`` switched."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np

from index.ingest.articles import Article
from index.search.lexical import LexicalIndex
from index.search.storage.base import BuildSpec, Embedded, Manifest, passage_text_for_search

# The HNSW graph used above ``Settings.approximate_above`` passages; BENCHMARKS.md has the
# recall and latency these were chosen on.
HNSW_NEIGHBOURS = 32  # M: links per vector
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # candidates explored per query

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, url TEXT, date TEXT,
    hash TEXT NOT NULL, passages INTEGER NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL, text TEXT NOT NULL,
    first_sentence INTEGER NOT NULL, sentence_count INTEGER NOT NULL
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX passages_by_article ON passages (article_id);
"""


def write_build(
    index_dir: Path, items: Sequence[tuple[Article, Embedded]], spec: BuildSpec, started: float
) -> Manifest:
    """Write a complete build and make it current. Call inside ``build_lock``."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    partial = builds / f"{build_id}.partial"
    partial.mkdir()
    try:
        manifest = _write_files(partial, items, spec, started)
        _fsync_tree(partial)
    except BaseException:
        # A build that fails (a full disk, say) leaves nothing behind; one that is killed is
        # cleaned up by the next build.
        shutil.rmtree(partial, ignore_errors=True)
        raise
    final = builds / build_id
    os.rename(partial, final)
    _switch(index_dir, final)
    remove_stale_builds(index_dir)
    return manifest


def _write_files(
    folder: Path, items: Sequence[tuple[Article, Embedded]], spec: BuildSpec, started: float
) -> Manifest:
    """Every file of a build, the manifest last."""
    passage_vectors = [e.passage_vectors for _, e in items if len(e.chunks)]
    vectors = np.vstack(passage_vectors) if passage_vectors else np.zeros((0, spec.dimension))
    index = search_index(vectors, spec.approximate_above)
    faiss.write_index(index, str(folder / "passages.faiss"))

    sentence_vectors = [e.sentence_vectors for _, e in items if e.sentences]
    stacked = np.vstack(sentence_vectors) if sentence_vectors else np.zeros((0, spec.dimension))
    np.save(folder / "sentences.npy", stacked.astype(np.float32, copy=False))

    search_texts = _write_metadata(folder / "meta.sqlite", items)
    LexicalIndex.build(search_texts).save(folder / "bm25")

    files = {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
    manifest = Manifest(
        model=spec.model,
        model_id=spec.model_id,
        dimension=spec.dimension,
        chunk_tokens=spec.chunk_tokens,
        articles=len(items),
        passages=index.ntotal,
        sentences=len(stacked),
        faiss_index=type(index).__name__,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.monotonic() - started, 3),
        files=files,
    )
    (folder / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2))
    return manifest


def search_index(vectors: np.ndarray, approximate_above: int) -> faiss.Index:
    """The FAISS index over ``vectors``: exact while small, an HNSW graph above the threshold."""
    dimension = vectors.shape[1]
    index: faiss.Index
    if len(vectors) <= approximate_above:
        index = faiss.IndexFlatIP(dimension)
    else:
        graph = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        index = graph
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _write_metadata(path: Path, items: Sequence[tuple[Article, Embedded]]) -> list[str]:
    """Write the SQLite metadata; returns each passage's text as the search indexes see it."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    search_texts: list[str] = []
    passage_id = sentence_id = 0
    for article, embedded in items:
        db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.source,
                article.url,
                article.date,
                article.content_hash,
                len(embedded.chunks),
            ),
        )
        first_of = {}
        for span in embedded.sentences:
            first_of[span] = sentence_id
            db.execute(
                "INSERT INTO sentences VALUES (?, ?, ?, ?, ?)",
                (sentence_id, article.id, span[0], span[1], article.text[span[0] : span[1]]),
            )
            sentence_id += 1
        for chunk in embedded.chunks:
            db.execute(
                "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    passage_id,
                    article.id,
                    chunk.start,
                    chunk.end,
                    chunk.text,
                    first_of[chunk.sentences[0]],
                    len(chunk.sentences),
                ),
            )
            search_texts.append(passage_text_for_search(article.title, chunk.text))
            passage_id += 1
    db.commit()
    db.close()
    return search_texts


def _switch(index_dir: Path, build: Path) -> None:
    """Point ``current`` at ``build`` in one atomic rename."""
    temporary = index_dir / f".current.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(build.relative_to(index_dir))
    os.replace(temporary, index_dir / "current")
    _fsync_dir(index_dir)


def remove_stale_builds(index_dir: Path) -> None:
    """Remove partial builds and builds that are no longer current."""
    link = index_dir / "current"
    keep = link.resolve() if link.exists() else None
    for path in (index_dir / "builds").glob("*"):
        if path.resolve() != keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(".current.*"):
        path.unlink(missing_ok=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in [*[p for p in folder.rglob("*") if p.is_dir()], folder]:
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
