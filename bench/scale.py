"""``python -m bench.scale``: the folder against PostgreSQL with HNSW at scale, on distinct text.

    python -m bench.scale [--passages 100000] [--out bench/results/scale.json]

The corpus is made, not collected: real sentences of ../shared/squad's training split and
XQuAD's articles, shuffled and recombined into new articles of about ten passages each, so
no passage repeats another (a sentence is used again, in other company, only once the whole
pool, 2.2 million words, is spent). Its questions are SQuAD questions whose answering
sentence landed in the corpus, so they are asked of text about their topic, among strangers.

The corpus is embedded once, by the folder's build (``index.search.build.build``, timed whole);
PostgreSQL is written from the same vectors (the embedding, the same for both, is not done
twice), its graph forced on (``approximate_above`` 0), so its build is the folder's embedding
plus its own write. For each of the folder (exact), the folder with FAISS's graph, and
PostgreSQL with pgvector's graph: build or write seconds, answer p50/p95, the time of each of
the storage's reads, dense recall@10 against exact search on the questions' vectors, a
one-article reindex, the cold start and peak memory of ``python -m index ask``, and the size
on disk.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import psycopg

from bench.__main__ import (
    SHARED,
    XQUAD,
    Timed,
    bench_cold_start,
    bench_latency,
    machine,
)
from index.answer.answerer import Answerer
from index.ingest.articles import load_corpus
from index.ingest.chunking import split_sentences
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.search.storage import Location, backend_at
from index.search.storage.base import BuildSpec, Changes, Storage
from index.search.storage.folder import FolderStorage
from index.settings import Settings
from index.training.reader.squad import read_squad
from localpg import PostgresServer

# A paragraph of at least 100 words is about a passage at the default chunk size (XQuAD: 108
# words a passage); --passages 100000 made 89,152, the chunker packing up to its token budget.
PARAGRAPH_WORDS = 100
PARAGRAPHS_PER_ARTICLE = 10
QUESTIONS = 150

T = TypeVar("T")


def recombined_corpus(folder: Path, passages: int, seed: int = 7) -> list[str]:
    """Write about ``passages`` passages of recombined sentences into ``folder``; return up
    to ``QUESTIONS`` SQuAD questions whose answering sentence is in it, one per article."""
    pool: list[tuple[str, str | None]] = []  # (sentence, a question it answers, or None)
    for row in read_squad(SHARED / "squad" / "train.jsonl.gz"):
        context = row["context"]
        answered = {qa["answers"][0]["starts"][0]: qa["question"] for qa in row["qas"]}
        for paragraph in split_sentences(context):
            for start, end in paragraph:
                asked = [q for s, q in answered.items() if start <= s < end]
                pool.append((context[start:end], asked[0] if asked else None))
    for path in sorted((XQUAD / "corpus").glob("*.txt")):
        text = path.read_text()
        pool += [(text[a:b], None) for paragraph in split_sentences(text) for a, b in paragraph]
    drawn = _shuffled_forever(pool, random.Random(seed))
    questions: list[str] = []
    words_needed = passages * PARAGRAPH_WORDS
    number = 0
    while words_needed > 0:
        paragraphs, asked = [], None
        for _ in range(PARAGRAPHS_PER_ARTICLE):
            sentences: list[str] = []
            while sum(len(s.split()) for s in sentences) < PARAGRAPH_WORDS:
                sentence, question = next(drawn)
                sentences.append(sentence)
                asked = asked or question
            paragraphs.append(" ".join(sentences))
        text = "\n\n".join(paragraphs)
        (folder / f"{number:06d}.txt").write_text(f"Recombined article {number}\n\n{text}")
        words_needed -= len(text.split())
        if asked and len(questions) < QUESTIONS and number % 3 == 0:
            questions.append(asked)
        number += 1
    return questions


def _shuffled_forever(pool: list[T], rng: random.Random) -> Iterator[T]:
    """The pool in a new order each time round, for ever."""
    while True:
        order = pool[:]
        rng.shuffle(order)
        yield from reversed(order)  # as the measured run took them (popped from the end)


def dense_recall(exact: Storage, store: Storage, vectors: list[np.ndarray]) -> float:
    """Of the exact top 10 of each query, the share ``store`` finds (passages compared by
    article and place: each storage numbers its own)."""

    def top(storage: Storage, query: np.ndarray) -> set[tuple[str, int]]:
        return {(p.article_id, p.start) for p in storage.passages(storage.dense(query, 10))}

    found = sum(len(top(exact, query) & top(store, query)) for query in vectors)
    return round(found / (10 * len(vectors)), 4)


def reindex_one(
    corpus: Path, location: Location, embedder: Embedder, options: BuildOptions
) -> float:
    """Seconds of an incremental build after one article gained a sentence; put back after."""
    article = sorted(corpus.glob("*.txt"))[1]
    original = article.read_text()
    article.write_text(original + "\n\nThe council met again on Friday to review the budget.\n")
    try:
        report = build(corpus, location, embedder, options)
    finally:
        article.write_text(original)
    assert len(report.changed) == 1 and not report.added, report
    return report.seconds


STORAGE_CALLS = (
    "dense", "lexical", "passage_cosines", "best_sentence_cosines", "sentence_cosines",
    "sentence_vectors", "passages", "sentences", "idf", "knows",
)  # fmt: skip


def storage_calls(retriever: Retriever, settings: Settings, questions: list[str]) -> dict:
    """Milliseconds a question in each of the storage's reads (the dense search, BM25, ...),
    the questions asked again, the query caches emptied first."""
    retriever.embedder.encode_query.cache_clear()
    store = retriever.store
    timed = {name: Timed(getattr(store, name)) for name in STORAGE_CALLS}
    for name, call in timed.items():
        setattr(store, name, call)
    answerer = Answerer.from_settings(retriever, settings)
    for question in questions:
        answerer.ask(question, k=settings.top_k)
    for name in STORAGE_CALLS:
        delattr(store, name)  # the class's own again
    return {name: round(call.total / len(questions), 2) for name, call in timed.items()}


def database_sizes(url: str) -> dict:
    with psycopg.connect(url) as db:
        (total,) = db.execute("SELECT pg_database_size(current_database())").fetchone()
        (graph,) = db.execute("SELECT pg_relation_size('newsdesk_passages_hnsw')").fetchone()
    return {"disk_mb": round(total / 2**20), "graph_mb": round(graph / 2**20)}


def run(
    folder: Path,
    passages: int,
    server: PostgresServer,
    embedder: Embedder,
    settings: Settings,
    options: BuildOptions,
    graph_options: BuildOptions,
    figures: dict,
    out: Path,
) -> None:
    """Fill ``figures``, saved to ``out`` after each backend (a long run keeps what it had)."""
    corpus, exact_dir = folder / "corpus", folder / "exact"
    corpus.mkdir()
    questions = recombined_corpus(corpus, passages)
    print(f"{len(list(corpus.glob('*.txt')))} articles, {len(questions)} questions", flush=True)

    started = time.perf_counter()
    build(corpus, exact_dir, embedder, options)
    build_s = time.perf_counter() - started
    exact = FolderStorage.open(exact_dir)
    manifest = exact.manifest
    lent = exact.embedded()
    articles = load_corpus(corpus, options.max_article_bytes).articles
    changes = Changes(articles, {a.id: lent[a.id][1] for a in articles})
    spec = BuildSpec(manifest.model, manifest.model_id, manifest.dimension, manifest.chunk_tokens)
    graph = replace(spec, approximate_above=0)
    vectors = [embedder.encode_query(q) for q in questions]

    writes = {"folder, exact": (folder / "again", spec)}  # its write: the build less embedding
    writes |= {"folder, FAISS HNSW": (folder / "graph", graph)}
    writes |= {"PostgreSQL, pgvector HNSW": (server.database("scale"), graph)}
    written: dict[str, float] = {}
    for name, (location, how) in writes.items():
        backend = backend_at(location)
        with backend.lock():
            started = time.perf_counter()
            backend.write(changes, how, time.monotonic())
            written[name] = time.perf_counter() - started
    embed_s = build_s - written["folder, exact"]
    figures |= {
        "passages": manifest.passages,
        "sentences": manifest.sentences,
        "articles": len(articles),
        "questions": len(questions),
        "embed_s": round(embed_s, 1),
    }
    # The exact folder answers from its own build; the others from their writes.
    locations = {n: w[0] for n, w in writes.items()} | {"folder, exact": exact_dir}
    for name, location in locations.items():
        print(name, flush=True)
        retriever = Retriever.open(location, embedder)
        row = {
            "backend": name,
            "index": retriever.store.manifest.faiss_index,
            "build_s": round(embed_s + written[name], 1),
            "write_s": round(written[name], 1),
            "recall@10": dense_recall(exact, retriever.store, vectors),
            "latency": bench_latency(retriever, settings, {"squad": questions}),
            "storage_ms": storage_calls(retriever, settings, questions),
        }
        retriever.store.close()
        how = options if name == "folder, exact" else graph_options
        row["reindex_one_s"] = reindex_one(corpus, location, embedder, how)
        row |= bench_cold_start(location)
        if isinstance(location, str):
            row |= database_sizes(location)
        else:
            files = [p for p in Path(location).rglob("*") if p.is_file()]
            row["disk_mb"] = round(sum(p.stat().st_size for p in files) / 2**20)
        print(row, flush=True)
        figures["rows"].append(row)
        out.write_text(json.dumps(figures, indent=2))
    exact.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    args = parser.parse_args()
    settings = Settings.from_env(env_file=None)
    embedder = Embedder.from_settings(settings)
    options = BuildOptions.from_settings(settings)
    figures: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": []}
    graph_options = BuildOptions(options.chunk_tokens, options.max_article_bytes, 0)
    server = PostgresServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            run(Path(scratch), args.passages, server, embedder, settings, options,
                graph_options, figures, args.out)  # fmt: skip
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
