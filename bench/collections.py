"""``python -m bench.collections``: what filtering a question to a server's coverage costs.

    python -m bench.collections [--passages 10000] [--out bench/results/collections.json]

The corpus of ``python -m bench`` at that size (the seed, XQuAD's articles, then SQuAD's),
with about 1 % of its passages moved into one server's own coverage (``servers/7/``, dated
and from one outlet, as a partner's feed would bring them). XQuAD's questions (one in ten)
are answered whole, the same questions under each scope, in one run: no scope (as before
collections), the shared coverage only (a direct message: 99 %), the server's (100 %), and
the server's filtered to its outlet or to a date range (the 1 %: searched exactly over its own
vectors in the folder, through pgvector's iterative scan in the database). For the folder
(exact and FAISS's graph) and PostgreSQL (exact and pgvector's graph).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.__main__ import WORDS_PER_PASSAGE, XQUAD, machine, make_corpus, percentile
from index.answer.answerer import Answerer
from index.ingest.articles import load_corpus
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.search.scope import Scope
from index.search.storage import Location, backend_at
from index.search.storage.base import BuildSpec, Changes
from index.search.storage.folder import FolderStorage
from index.settings import Settings
from index.training.evaluation import load_questions
from localpg import PostgresServer

SERVER = 7
OUTLET = "The Partner Post"
SHARE = 0.01


def partner_articles(corpus: Path, passages: int) -> int:
    """Move SQuAD articles of about ``SHARE`` of the passages into server ``SERVER``'s own
    coverage, as dated Markdown from one outlet; returns how many were moved."""
    own = corpus / "servers" / str(SERVER)
    own.mkdir(parents=True)
    budget, moved = SHARE * passages * WORDS_PER_PASSAGE, 0
    for number, path in enumerate(sorted((corpus / "squad").glob("*.txt"), reverse=True)):
        if budget <= 0:
            break
        title, _, text = path.read_text().partition("\n\n")
        front = f"---\ntitle: {title}\nsource: {OUTLET}\ndate: 2026-09-{1 + number % 28:02d}\n---\n"
        (own / f"{path.stem}.md").write_text(front + text)
        path.unlink()
        budget -= len(text.split())
        moved += 1
    return moved


SCOPES: dict[str, Scope | None] = {
    "no scope": None,
    "shared only": Scope(),
    "server": Scope(SERVER),
    "server, one outlet": Scope(SERVER, source=OUTLET),
    "server, dated Sep-Dec": Scope(SERVER, since="2026-09-01", until="2026-12-31"),
}


def answer_latency(location: Location, settings: Settings, embedder: Embedder) -> dict:
    """p50/p95 of whole answers per scope, the scopes taking turns question by question (so
    that a slower stretch of the machine weighs on each alike), and how many passages each
    question found."""
    retriever = Retriever.open(location, embedder)
    answerer = Answerer.from_settings(retriever, settings)
    questions = [q["question"] for q in load_questions(XQUAD / "questions.jsonl")[::10]]
    for scope in SCOPES.values():
        answerer.ask("warm-up question", scope=scope)
    times: dict[str, list[float]] = {name: [] for name in SCOPES}
    found: dict[str, list[int]] = {name: [] for name in SCOPES}
    for question in questions:
        for name, scope in SCOPES.items():
            retriever.embedder.encode_query.cache_clear()  # each scope embeds the question
            started = time.perf_counter()
            answer = answerer.ask(question, k=settings.top_k, scope=scope)
            times[name].append((time.perf_counter() - started) * 1000)
            found[name].append(len(answer.passages))
    retriever.store.close()
    return {
        name: {
            "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(percentile(ms, 0.95), 2),
            "passages_shown_mean": round(statistics.mean(found[name]), 2),
        }
        for name, ms in times.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collections", description=__doc__)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/collections.json"))
    parser.add_argument(
        "--work", type=Path, help="keep the corpus and the folder index here, and reuse them"
    )
    args = parser.parse_args()
    settings = Settings.from_env(env_file=None)
    embedder = Embedder.from_settings(settings)
    options = BuildOptions.from_settings(settings)
    figures: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": []}
    server = PostgresServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as temporary:
            scratch = args.work or Path(temporary)
            corpus = scratch / "corpus"
            if not corpus.is_dir():
                make_corpus(corpus, args.passages)
                (scratch / "partners").write_text(str(partner_articles(corpus, args.passages)))
            figures["partner_articles"] = int((scratch / "partners").read_text())
            exact = scratch / "exact"
            build(corpus, exact, embedder, options)  # nothing to do when kept
            # The others are written from the same vectors, as bench.scale does (no second
            # embedding), the graphs forced on.
            store = FolderStorage.open(exact)
            lent, manifest = store.embedded(), store.manifest
            articles = load_corpus(corpus, options.max_article_bytes).articles
            changes = Changes(articles, {a.id: lent[a.id][1] for a in articles})
            spec = BuildSpec(
                manifest.model, manifest.model_id, manifest.dimension, manifest.chunk_tokens
            )
            store.close()
            graph = replace(spec, approximate_above=0)
            locations: dict[str, Location] = {"folder, exact": exact}
            for name, location, how in (
                ("folder, FAISS HNSW", scratch / "graph", graph),
                ("PostgreSQL, exact", server.database("exact"), spec),
                ("PostgreSQL, pgvector HNSW", server.database("graph"), graph),
            ):
                backend = backend_at(location)
                with backend.lock():
                    backend.write(changes, how, time.monotonic())
                locations[name] = location
            for name, location in locations.items():
                row = {"backend": name, "scopes": answer_latency(location, settings, embedder)}
                print(json.dumps(row), flush=True)
                figures["rows"].append(row)
                args.out.write_text(json.dumps(figures, indent=2))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
