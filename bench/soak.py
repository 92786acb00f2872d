"""``python -m bench.soak``: the bot process under a steady stream of questions.

    python -m bench.soak [--questions 1000] [--minutes 10] [--members 50] [--servers 5]
                         [--out bench/results/soak.json]

The real ``python -m bot`` against the fake Discord on 127.0.0.1 (``fakediscord``), over an
index of the seed and XQuAD articles: ``--questions`` XQuAD questions asked with /ask by
``--members`` members spread over ``--servers`` servers, evenly over ``--minutes``.
At 40 % of the questions an admin runs /reindex (full, so the index is rebuilt and swapped
while questions keep coming), at 50 % an admin adds an article with /add, at 70 % the gateway
drops every connection for two seconds (the bot resumes; no question is asked meanwhile, as
Discord would not deliver one). Reports questions
answered, lost (no answer within a minute of the end), duplicated (more than one answer),
p50/p95 latency from the question to its answer, and the bot's RSS at start, middle and end.
Traffic goes to 127.0.0.1 only; the run is bounded by ``--questions`` and ``--minutes``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import ROOT, SHARED, XQUAD, percentile, start_bot
from fakediscord import MANAGE_GUILD, FakeDiscord, Recorded
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.settings import Settings
from index.training.evaluation import load_questions

ARTICLE = (
    "---\ntitle: Quillborough harbour reopens\n---\n"
    "The harbour of Quillborough reopened on Monday after storm repairs costing 4 million euros."
)


def rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(
        int(next(line.split()[1] for line in status.splitlines() if "VmRSS" in line)) / 1024
    )


def answers(fake: FakeDiscord, token: str) -> list[Recorded]:
    """The answer messages the bot sent for one /ask (its follow-ups carrying an embed)."""
    return [r for r in fake.sent(token) if "/webhooks/" in r.path and r.json.get("embeds")]


async def soak(args: argparse.Namespace, corpus: Path, index_dir: Path) -> dict:
    fake = FakeDiscord(servers=args.servers)
    await fake.start()
    with open(index_dir.parent / "bot.log", "w") as log:
        process = await start_bot(
            fake,
            corpus,
            index_dir,
            log,
            NEWSDESK_COOLDOWN_SECONDS="0",
            NEWSDESK_LOG_QUESTIONS="false",
        )
    questions = [q["question"] for q in load_questions(XQUAD / "questions.jsonl")]
    members = [fake.user(f"member{i}") for i in range(args.members)]
    editor = fake.user("editor")
    asked: list[tuple[str, float]] = []  # (interaction token, when asked)
    answered_at: dict[str, float] = {}
    events: dict[str, object] = {}
    try:
        await asyncio.wait_for(fake.identified.wait(), 300)
        await asyncio.wait_for(fake.commands_synced.wait(), 60)
        events["rss_start_mb"] = rss_mb(process.pid)
        gap = args.minutes * 60 / args.questions
        started = time.monotonic()

        async def watch() -> None:
            """Note when each question's answer arrives."""
            while True:
                now = time.monotonic()
                for token, _ in asked:
                    if token not in answered_at and answers(fake, token):
                        answered_at[token] = now
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch())
        for number in range(args.questions):
            await asyncio.sleep(max(0.0, started + number * gap - time.monotonic()))
            if number == int(0.4 * args.questions):
                reindex = await fake.slash(editor, "reindex", {"full": True}, MANAGE_GUILD)
                events["reindex_token"] = reindex.token
            if number == int(0.5 * args.questions):
                added = await fake.slash(
                    editor, "add", {"article": ("harbour.md", ARTICLE.encode())}, MANAGE_GUILD
                )
                events["add_token"] = added.token
                events["rss_middle_mb"] = rss_mb(process.pid)
            if number == int(0.7 * args.questions):
                resumes = fake.resumes
                await fake.drop_connections()
                await asyncio.sleep(2)
                fake.come_back()
                await fake.wait_for(lambda f, before=resumes: f.resumes > before, 60)
                events["gateway_resumed"] = True
            member = members[number % len(members)]
            question = questions[number % len(questions)]
            interaction = await fake.slash(
                member, "ask", {"question": question}, server=number % args.servers
            )
            asked.append((interaction.token, time.monotonic()))
        # Every answer has a minute to arrive after the last question.
        deadline = time.monotonic() + 60
        while len(answered_at) < len(asked) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        watcher.cancel()
        events["rss_end_mb"] = rss_mb(process.pid)
        reindexed = [r.json for r in fake.sent(str(events["reindex_token"]))]
        added_reply = [r.json for r in fake.sent(str(events["add_token"]))]
    finally:
        process.terminate()
        await process.wait()
        await fake.stop()
    latencies = [(answered_at[t] - at) * 1000 for t, at in asked if t in answered_at]
    return {
        "questions": len(asked),
        "members": args.members,
        "servers": args.servers,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "answered": len(answered_at),
        "lost": len(asked) - len(answered_at),
        "duplicated": sum(1 for t, _ in asked if len(answers(fake, t)) > 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "reindex_finished": any("Reindex" in json.dumps(r) for r in reindexed[-1:]),
        "article_added": any("Article added" in json.dumps(r) for r in added_reply),
        "gateway_resumed": events.get("gateway_resumed", False),
        "rss_mb": {
            "start": events["rss_start_mb"],
            "middle": events["rss_middle_mb"],
            "end": events["rss_end_mb"],
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args()
    settings = Settings.from_env(env_file=None)
    with tempfile.TemporaryDirectory(prefix="newsdesk-soak-") as scratch:
        corpus, index_dir = Path(scratch) / "corpus", Path(scratch) / "index"
        shutil.copytree(ROOT / "seeds", corpus)
        shutil.copytree(SHARED / "eval" / "xquad" / "corpus", corpus / "xquad")
        embedder = Embedder.from_settings(settings)
        build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
        del embedder  # the bot process loads its own
        figures = asyncio.run(soak(args, corpus, index_dir))
    figures["date"] = time.strftime("%Y-%m-%d")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
