"""``python -m bench``: figures for BENCHMARKS.md, printed as a table and saved as JSON.

    python -m bench [--sizes seed,stories,10000] [--vectors 1000000] [--real-vectors 100000]
                    [--out bench/results/latest.json]

1. build throughput of the whole pipeline vs the raw encoder (ONNX Runtime) on the same texts
   (XQuAD's 48 articles), and sentence-transformers' ``encode`` of them (what ran before);
2. warm whole-answer latency (question -> answer + passages), p50/p95, per corpus size, for
   short questions (XQuAD's, one in ten; on the stories, news in members' own words, theirs)
   and long ones (SQuAD questions whose answering sentence has 30 to 50 words), the reader's
   own share, where the time of a long question goes (embedding it, search, scoring
   sentences, the reader), and the incremental reindex of one changed article, and whole
   timelines (``index.stories.timeline``) for the corpus's article titles as topics; the
   coverage-gaps report over 10,000 recorded questions;
3. search-only latency and recall@10 against exact search for each FAISS index type the
   store builds, on random unit vectors and on real embeddings of distinct English sentences
   (the docstrings of the installed packages);
4. cold start: process start -> first answer, for ``python -m index ask`` and for the bot
   (``python -m bot`` against the fake Discord on 127.0.0.1);
5. peak resident memory of both processes per corpus size.

The corpora are distinct real prose, nothing repeated: the seed article, XQuAD's 48 articles,
then the SQuAD v1.1 training articles (``../shared/squad``, 442 articles, about 20,000
passages) in file order until the size is reached. A size beyond that gets all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from fakediscord import FakeDiscord
from index.answer.answerer import Answerer
from index.ingest.articles import load_corpus
from index.ingest.chunking import split_sentences
from index.ops.gaps import QuestionLog, gaps_of
from index.search.build import BuildOptions, build, chunk_article, texts_to_embed
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.search.storage import Location
from index.settings import Settings
from index.statedb import open_state
from index.stories.timeline import Timelines
from index.training.evaluation import load_questions, story_articles, story_questions
from index.training.reader.squad import read_squad

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "eval" / "xquad"
STORIES = SHARED / "eval" / "stories"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_build(settings: Settings, embedder: Embedder) -> dict:
    """Pipeline texts/s (files -> index on disk) vs raw encode texts/s on the same texts, and
    sentence-transformers' encode texts/s (a dev dependency: the reference)."""
    from sentence_transformers import SentenceTransformer

    corpus = load_corpus(XQUAD / "corpus")
    texts = [
        text
        for article in corpus.articles
        for text in texts_to_embed(article, chunk_article(embedder, settings.chunk_tokens, article))
    ]
    started = time.perf_counter()
    embedder.encode(texts)
    raw = len(texts) / (time.perf_counter() - started)
    reference = SentenceTransformer(embedder.name, device="cpu")
    started = time.perf_counter()
    reference.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True)
    torch_rate = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as scratch:
        report = build(
            XQUAD / "corpus", Path(scratch), embedder, BuildOptions.from_settings(settings)
        )
    pipeline = report.texts_embedded / report.seconds
    return {
        "texts": len(texts),
        "passages": report.passages,
        "pipeline_texts_per_s": round(pipeline, 1),
        "raw_encode_texts_per_s": round(raw, 1),
        "sentence_transformers_texts_per_s": round(torch_rate, 1),
        "ratio": round(pipeline / raw, 3),
    }


WORDS_PER_PASSAGE = 108  # XQuAD's 29,821 words make 276 passages at the default chunk size


def make_corpus(folder: Path, passages: int) -> list[dict]:
    """Seed and XQuAD articles, then SQuAD training articles until ~``passages`` passages;
    returns the SQuAD paragraphs used (their questions are the long-sentence set)."""
    shutil.copytree(ROOT / "seeds", folder)
    shutil.copytree(XQUAD / "corpus", folder / "xquad")
    budget = passages * WORDS_PER_PASSAGE - sum(
        len(p.read_text().split()) for p in folder.rglob("*.txt")
    )
    articles: dict[str, list[dict]] = {}
    for row in read_squad(SHARED / "squad" / "train.jsonl.gz"):
        articles.setdefault(row["title"], []).append(row)
    (folder / "squad").mkdir()
    used = []
    for number, (title, rows) in enumerate(articles.items()):
        if budget <= 0:
            break
        text = "\n\n".join(row["context"] for row in rows)
        (folder / "squad" / f"{number:03d}.txt").write_text(f"{title.replace('_', ' ')}\n\n{text}")
        budget -= len(text.split())
        used += rows
    return used


def long_sentence_questions(rows: list[dict], count: int = 150) -> list[str]:
    """Up to ``count`` questions whose answering sentence has 30 to 50 words (news-length
    sentences), at most one per paragraph, from paragraphs spread evenly over ``rows``."""
    found = []
    for row in rows[:: max(1, len(rows) // (3 * count))]:
        sentences = [s for paragraph in split_sentences(row["context"]) for s in paragraph]
        for qa in row["qas"]:
            start = qa["answers"][0]["starts"][0]
            holding = [row["context"][a:b] for a, b in sentences if a <= start < b]
            if holding and 30 <= len(holding[0].split()) <= 50:
                found.append(qa["question"])
                break
    return found[:count]


class Timed:
    """A callable that adds the milliseconds each call takes to ``total``."""

    def __init__(self, function: Callable) -> None:
        self.function = function
        self.total = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.total += (time.perf_counter() - started) * 1000


def bench_latency(
    retriever: Retriever, settings: Settings, questions: dict[str, list[str]]
) -> dict:
    """p50/p95 of whole answers per question set, and where each answer's time went: embedding
    the question, search, scoring sentences, the reader, other reports (reading other
    articles' sentences), the rest (calibration, alternatives; p50 of each)."""
    # Warm means loaded, not answered before: the caches must not carry over between sizes.
    retriever.embedder.encode_query.cache_clear()
    answerer = Answerer.from_settings(retriever, settings)
    answerer.ask("warm-up question")
    encode_query, reader = retriever.embedder.encode_query, answerer.reader
    timed = {
        "embed": Timed(encode_query),
        "search": Timed(retriever.search),
        "consider": Timed(answerer.consider),
        "reader": Timed(reader.read),
        "reports": Timed(answerer.other_reports),
    }
    retriever.embedder.encode_query = timed["embed"]
    retriever.search = timed["search"]
    answerer.consider = timed["consider"]
    answerer.other_reports = timed["reports"]
    answerer.reader = SimpleNamespace(read=timed["reader"], read_each=reader.read_each)
    figures: dict[str, Any] = {}
    for name, asked in questions.items():
        stages: dict[str, list[float]] = {
            s: [] for s in ("embed", "search", "sentences", "reader", "reports", "rest", "whole")
        }
        for question in asked:
            before = {k: t.total for k, t in timed.items()}
            started = time.perf_counter()
            answerer.ask(question, k=settings.top_k)
            whole = (time.perf_counter() - started) * 1000
            spent = {k: t.total - before[k] for k, t in timed.items()}
            # The question is embedded by the search; sentences are read in ``consider``.
            stages["embed"].append(spent["embed"])
            stages["search"].append(spent["search"] - spent["embed"])
            stages["sentences"].append(spent["consider"] - spent["reader"])
            stages["reader"].append(spent["reader"])
            stages["reports"].append(spent["reports"])
            stages["rest"].append(whole - spent["search"] - spent["consider"] - spent["reports"])
            stages["whole"].append(whole)
        whole = stages.pop("whole")
        figures[name] = {
            "questions": len(asked),
            "p50_ms": round(statistics.median(whole), 2),
            "p95_ms": round(percentile(whole, 0.95), 2),
            **{f"{stage}_p50_ms": round(statistics.median(ms), 2) for stage, ms in stages.items()},
        }
    retriever.embedder.encode_query = encode_query
    del retriever.search  # the class's own again
    return figures


def bench_timeline(retriever: Retriever, count: int = 50) -> dict:
    """p50/p95 of whole timelines, a story's name for topic: the titles of the corpus's
    articles (every k-th, ``count`` of them), each asked once, the model loaded."""
    titles = sorted({a.title for a in retriever.store.articles()})
    topics = titles[:: max(1, len(titles) // count)][:count]
    timelines = Timelines(retriever)
    timelines.build("warm-up topic")
    spent, entries = [], []
    for topic in topics:
        started = time.perf_counter()
        entries.append(len(timelines.build(topic).entries))
        spent.append((time.perf_counter() - started) * 1000)
    return {
        "topics": len(topics),
        "p50_ms": round(statistics.median(spent), 1),
        "p95_ms": round(percentile(spent, 0.95), 1),
        "entries_p50": statistics.median(entries),
    }


def bench_gaps(embedder: Embedder, count: int = 10_000) -> dict:
    """The coverage-gaps report over ``count`` recorded questions (SQuAD training questions,
    distinct, with their real vectors, in a SQLite state database), all of them gaps (the
    worst case) and three in ten: reading the rows and grouping them, p50 of 5 runs."""
    questions = []
    for row in read_squad(SHARED / "squad" / "train.jsonl.gz"):
        questions += [qa["question"] for qa in row["qas"]]
        if len(questions) >= count:
            break
    questions = questions[:count]
    vectors = embedder.encode(questions)
    figures: dict[str, Any] = {"questions": len(questions)}
    with tempfile.TemporaryDirectory() as scratch:
        log = QuestionLog(open_state(Path(scratch) / "state.sqlite"))
        for n, (question, vector) in enumerate(zip(questions, vectors, strict=True)):
            outcome = "not covered" if n % 10 < 3 else "sure"
            log.record(1, 10, n % 997, outcome, 0.5, question, vector, now=time.time() - n)
        for name, everything in (("3 in 10 gaps", False), ("all gaps", True)):
            spent = []
            for _ in range(5):
                started = time.perf_counter()
                asked = log.asked(1, 30)
                if everything:
                    asked = [replace(q, outcome="unsure") for q in asked]
                gaps = gaps_of(asked)
                spent.append((time.perf_counter() - started) * 1000)
            figures[name] = {
                "p50_ms": round(statistics.median(spent), 1),
                "groups": len(gaps),
                "largest": gaps[0].times if gaps else 0,
            }
    return figures


PEAK_RSS = """
import sys
from index.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
print(f"peak_rss_kb={peak}", file=sys.stderr)
sys.exit(code)
"""


def bench_cold_start(location: Location) -> dict:
    """Wall time and peak memory of ``python -m index ask`` in a fresh process, answering
    from ``location`` (an index folder or a database URL).

    The child reports its own peak (VmHWM): the rusage of children would count this big
    process's pages, which a forked child shares until it execs.
    """
    where = ["--database-url" if isinstance(location, str) else "--index", str(location)]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "ask", *where, "Who walked out?"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_kb = int(result.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0])
    return {"cold_start_s": round(seconds, 2), "peak_rss_mb": round(peak_kb / 1024)}


def random_vectors(count: int, queries: int = 200, dimension: int = 384) -> tuple:
    """Random unit vectors, and queries near some of them."""
    rng = np.random.default_rng(7)
    data = rng.standard_normal((count, dimension), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    probe = data[rng.choice(count, queries, replace=False)] + 0.3 * rng.standard_normal(
        (queries, dimension), dtype=np.float32
    )
    return data, probe / np.linalg.norm(probe, axis=1, keepdims=True)


def real_vectors(embedder: Embedder, count: int, queries: int = 200) -> tuple:
    """Embeddings of ``count`` distinct docstring sentences, and of ``queries`` others."""
    sentences = docstring_sentences(count + queries)
    vectors = embedder.encode(sentences)
    return vectors[:count], vectors[count:]


def docstring_sentences(count: int) -> list[str]:
    """Distinct English sentences from the docstrings of the installed packages, shuffled."""
    import ast
    import random
    import re
    import sysconfig

    found: dict[str, None] = {}
    for path in sorted(Path(sysconfig.get_paths()["purelib"]).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            doc = ast.get_docstring(node) if isinstance(node, kinds) else None
            for paragraph in (doc or "").split("\n\n"):
                for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(paragraph.split())):
                    # Prose only: no code, markup or parameter tables.
                    if 6 <= len(sentence.split()) <= 40 and not re.search(
                        r"[>{}=_\\|]|::", sentence
                    ):
                        found[sentence] = None
        if len(found) >= 2 * count:
            break
    sentences = list(found)
    random.Random(3).shuffle(sentences)
    return sentences[:count]


def bench_incremental(
    corpus: Path, index_dir: Path, embedder: Embedder, settings: Settings
) -> dict:
    """Seconds to reindex after one article changed, the rest reused."""
    article = sorted(p for p in corpus.rglob("*") if p.suffix in (".txt", ".md"))[-1]
    with open(article, "a") as handle:
        handle.write("\n\nThe council met again on Friday to review the harbour budget.\n")
    report = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert len(report.changed) == 1, report.changed
    return {"incremental_s": report.seconds}


async def start_bot(
    fake: FakeDiscord, corpus: Path, index_dir: Path, output: Any = subprocess.DEVNULL, **env: str
) -> asyncio.subprocess.Process:
    """``python -m bot`` against ``fake``, on this corpus and index; ``env``: more settings."""
    # The bench's own settings only, and the reader it measures.
    keep = ("NEWSDESK_READER", "NEWSDESK_MODEL_CACHE")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_") or k in keep
    }
    environment |= {
        "PYTHONPATH": str(ROOT),
        "NEWSDESK_DISCORD_TOKEN": fake.token,
        "NEWSDESK_GUILD_ID": fake.guild_id,
        "NEWSDESK_CORPUS_DIR": str(corpus),
        "NEWSDESK_INDEX_DIR": str(index_dir),
        "NEWSDESK_STATE_DB": str(index_dir.parent / "state.sqlite"),
        **env,
    }
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "fakediscord.launcher", fake.api_url, fake.gateway_url),
        cwd=ROOT,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def bench_bot(index_dir: Path, corpus: Path) -> dict:
    """The bot process against the fake Discord: start -> first answer delivered, peak RSS."""

    async def run() -> dict:
        fake = FakeDiscord()
        await fake.start()
        started = time.perf_counter()
        process = await start_bot(fake, corpus, index_dir)
        try:
            await asyncio.wait_for(fake.commands_synced.wait(), 300)
            await asyncio.wait_for(fake.identified.wait(), 300)
            asked = await fake.slash(fake.user("reader"), "ask", {"question": "Who walked out?"})
            await fake.wait_for(
                lambda f: [r for r in f.sent(asked.token) if "/webhooks/" in r.path]
            )
            seconds = time.perf_counter() - started
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak_kb = int(next(line.split()[1] for line in status.splitlines() if "VmHWM" in line))
        finally:
            process.terminate()
            await process.wait()
            await fake.stop()
        return {"bot_cold_start_s": round(seconds, 2), "bot_peak_rss_mb": round(peak_kb / 1024)}

    return asyncio.run(run())


def bench_search(name: str, data: np.ndarray, probe: np.ndarray) -> list[dict]:
    """Latency and recall@10 against exact search, for each index type the store builds."""
    from index.search.storage.folder_build import search_index

    results = []
    truth = None
    for approximate_above in (len(data), 0):  # exact, then the HNSW graph
        started = time.perf_counter()
        index = search_index(data, approximate_above)
        build_s = time.perf_counter() - started
        if truth is None:  # the exact index's own answers are the reference
            _, truth = index.search(probe, 10)
        times = []
        found = 0
        for row in range(len(probe)):
            started = time.perf_counter()
            _, ids = index.search(probe[row : row + 1], 10)
            times.append((time.perf_counter() - started) * 1000)
            found += len(set(ids[0]) & set(truth[row]))
        results.append(
            {
                "vectors": f"{len(data):,} {name}",
                "index": type(index).__name__,
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(percentile(times, 0.95), 2),
                "recall@10": round(found / (10 * len(probe)), 4),
                "build_s": round(build_s, 1),
            }
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--sizes",
        default="seed,stories,10000",
        help="corpus sizes in passages; seed: the seed article; stories: ../shared/eval/stories",
    )
    parser.add_argument("--vectors", type=int, default=1_000_000, help="random vectors to search")
    parser.add_argument(
        "--real-vectors", type=int, default=100_000, help="real sentence embeddings to search"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()

    settings = Settings.from_env(env_file=None)
    embedder = Embedder.from_settings(settings)
    figures: dict = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    print("build throughput (XQuAD corpus)...", file=sys.stderr)
    figures["build"] = bench_build(settings, embedder)

    seed_questions = [q["question"] for q in load_questions(SHARED / "eval" / "seed_qa.jsonl")]
    xquad_questions = [q["question"] for q in load_questions(XQUAD / "questions.jsonl")][::10]
    figures["sizes"] = []
    for size in args.sizes.split(","):
        print(f"corpus size {size}...", file=sys.stderr)
        with tempfile.TemporaryDirectory() as scratch:
            corpus, index_dir = Path(scratch) / "corpus", Path(scratch) / "index"
            # Distinct questions: a repeated one would be timed from the caches.
            questions = {"short": seed_questions}
            if size == "seed":
                shutil.copytree(ROOT / "seeds", corpus)
            elif size == "stories":  # news: dated articles of three outlets, members' wording
                story_articles(STORIES, corpus)
                questions = {"short": [q["question"] for q in story_questions(STORIES)]}
            else:
                squad = make_corpus(corpus, int(size))
                questions = {
                    "short": seed_questions + xquad_questions,
                    "long": long_sentence_questions(squad),
                }
            started = time.perf_counter()
            build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
            build_s = time.perf_counter() - started
            retriever = Retriever.open(index_dir, embedder)
            row = {
                "size": size,
                "passages": retriever.store.manifest.passages,
                "build_s": round(build_s, 1),
                "latency": bench_latency(retriever, settings, questions),
                "timeline": bench_timeline(retriever),
                **bench_cold_start(index_dir),
                **bench_bot(index_dir, corpus),
                **bench_incremental(corpus, index_dir, embedder, settings),
            }
            figures["sizes"].append(row)
            retriever.store.close()

    print("coverage gaps over 10,000 recorded questions...", file=sys.stderr)
    figures["gaps"] = bench_gaps(embedder)

    figures["search"] = []
    if args.real_vectors:
        print(f"search over {args.real_vectors:,} real embeddings...", file=sys.stderr)
        data, probe = real_vectors(embedder, args.real_vectors)
        figures["search"] += bench_search("sentence embeddings", data, probe)
    if args.vectors:
        print(f"search over {args.vectors:,} random vectors...", file=sys.stderr)
        figures["search"] += bench_search("random", *random_vectors(args.vectors))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print_table(figures)
    return 0


def machine() -> dict:
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def print_table(figures: dict) -> None:
    build_row = figures["build"]
    print(f"machine: {figures['machine']}  date: {figures['date']}")
    print(
        f"build: pipeline {build_row['pipeline_texts_per_s']} texts/s, raw encode "
        f"{build_row['raw_encode_texts_per_s']} texts/s, ratio {build_row['ratio']}; "
        f"sentence-transformers {build_row['sentence_transformers_texts_per_s']} texts/s"
    )
    columns = {
        "size": "corpus",
        "passages": "passages",
        "build_s": "build s",
        "incremental_s": "1 changed s",
        "cold_start_s": "CLI cold s",
        "peak_rss_mb": "CLI RSS MB",
        "bot_cold_start_s": "bot cold s",
        "bot_peak_rss_mb": "bot RSS MB",
    }
    print(" ".join(f"{title:>11}" for title in columns.values()))
    for row in figures["sizes"]:
        print(" ".join(f"{row[key]:>11}" for key in columns))
    stages = ("p50_ms", "p95_ms", "embed_p50_ms", "search_p50_ms", "sentences_p50_ms")
    stages += ("reader_p50_ms", "reports_p50_ms", "rest_p50_ms")
    print(f"{'corpus':>8} {'questions':>10} " + " ".join(f"{s[:-3]:>17}" for s in stages))
    for row in figures["sizes"]:
        for name, latency in row["latency"].items():
            cells = " ".join(f"{latency[s]:>17}" for s in stages)
            print(f"{row['size']:>8} {name + ' ' + str(latency['questions']):>10} {cells}")
    gaps = figures["gaps"]
    for name in ("3 in 10 gaps", "all gaps"):
        g = gaps[name]
        print(
            f"gaps report, {gaps['questions']:,} questions recorded, {name}: p50 {g['p50_ms']} ms, "
            f"{g['groups']:,} groups (largest {g['largest']})"
        )
    for row in figures["sizes"]:
        t = row["timeline"]
        print(
            f"{row['size']:>8} timeline: {t['topics']} topics, p50 {t['p50_ms']} ms, "
            f"p95 {t['p95_ms']} ms, {t['entries_p50']} entries (p50)"
        )
    columns = {
        "vectors": "vectors",
        "index": "index",
        "p50_ms": "p50 ms",
        "p95_ms": "p95 ms",
        "recall@10": "recall@10",
        "build_s": "build s",
    }
    print(
        " ".join(
            f"{title:>29}" if key == "vectors" else f"{title:>14}" for key, title in columns.items()
        )
    )
    for row in figures["search"]:
        print(
            " ".join(
                f"{row[key]:>29}" if key == "vectors" else f"{row[key]:>14}" for key in columns
            )
        )


if __name__ == "__main__":
    sys.exit(main())
