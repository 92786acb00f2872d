"""The real bot process (``python -m bot``) against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psycopg
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from bot.shards import SHARD_LOCK, lock_key
from fakediscord import MANAGE_GUILD, TOKEN, FakeDiscord, Interaction, Recorded, shard_of
from index.reader import WEIGHTS
from index.search.storage.folder import FolderStorage as Store
from localpg import PostgresServer

from .botprocess import (
    ARTICLE,
    STARTUP_SECONDS,
    BotProcess,
    answered,
    assert_safe,
    assert_token_kept_secret,
    bot_environment,
    deferred,
    free_port,
    in_thread,
    launch,
    logged,
    running_bot,
)
from .conftest import ROOT, SHARED, lead, unprivileged
from .newssite import BRIDGE, FLOODS_THURSDAY, NewsSite
from .stories import COUNTING, ELEVEN, NINE, TOLLS_ARTICLE, TWENTY_THREE

# A partner server's own article (the cluster test).
SALTMERE = (
    "---\ntitle: Saltmere harbour dredging\ndate: 2026-09-04\nsource: The Saltmere Post\n---\n"
    "The Saltmere harbour board will dredge the Quillon channel this winter, its chair Orla "
    "Venn said on Friday."
)
DREDGING = "Who chairs the board that will dredge the Quillon channel?"

pytestmark = pytest.mark.process


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


async def test_a_first_start_builds_the_index_and_syncs_commands_globally_without_a_guild(
    fake: FakeDiscord, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"  # nothing there yet
    async with running_bot(fake, tmp_path, index_dir, corpus, NEWSDESK_GUILD_ID="") as bot:
        [sync] = [r for r in fake.requests if r.method == "PUT" and "/commands" in r.path]
        assert sync.path == f"/applications/{fake.app_id}/commands", "global, not per guild"
        names = {c["name"]: c for c in sync.json}
        assert {"ask", "sources", "reindex", "add", "remove", "settings", "feedback"} <= set(names)
        assert int(names["reindex"]["default_member_permissions"]) == MANAGE_GUILD
        ask = await fake.slash(fake.user("reader"), "ask", {"question": "Who walked out?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        assert (index_dir / "current").exists()
        log = bot.output()
        assert "Building it from" in log and "embedding" in log and "(0/" in log


async def test_an_unwritable_index_folder_fails_a_reindex_and_the_old_index_serves(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    (corpus / "harbour.md").write_text(ARTICLE)
    editor, reader = fake.user("editor"), fake.user("reader")

    async def reindex() -> dict:
        started = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)

        def ended(f: FakeDiscord) -> list[Recorded]:
            return [
                r
                for r in answered(f, started.token)
                if r.json.get("embeds") or "failed" in (r.json.get("content") or "")
            ]

        await fake.wait_for(ended, timeout=60)
        return ended(fake)[-1].json

    async def ask(question: str) -> str:
        asked = await fake.slash(reader, "ask", {"question": question})
        await fake.wait_for(lambda f: answered(f, asked.token))
        return answered(fake, asked.token)[-1].json["embeds"][0]["description"]

    async with running_bot(fake, tmp_path, index_dir, corpus, prefix=unprivileged()):
        builds = index_dir / "builds"
        builds.chmod(0o555)  # a new build cannot be written beside the current one
        try:
            failed = await reindex()
        finally:
            builds.chmod(0o755)
        assert "Reindex failed" in failed["content"] and "Permission denied" in failed["content"]
        assert "previous index is still answering" in failed["content"]
        assert lead(await ask("Who walked out of the meeting?")) == "Delcy Rodriguez"

        done = await reindex()
        assert "Added 1, changed 0, removed 0" in done["embeds"][0]["description"]
        assert lead(await ask("When did the harbour reopen?")) == "Monday"


async def test_a_bot_killed_during_a_reindex_restarts_on_the_old_index_and_reindexes(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:12]:
        shutil.copy(article, corpus / article.name)
    editor = fake.user("editor")

    async def reindex() -> Interaction:
        return await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)

    bot = await launch(fake, tmp_path, index_dir, corpus)
    await asyncio.wait_for(fake.identified.wait(), STARTUP_SECONDS)
    await asyncio.sleep(0.5)
    started = await reindex()
    await fake.wait_for(
        lambda f: any(
            "embedding" in (r.json.get("content") or "") for r in answered(f, started.token)
        )
    )
    bot.process.kill()  # SIGKILL, mid-build: as if the machine died
    await bot.process.wait()
    assert_token_kept_secret(fake, bot, tmp_path)
    store = Store.open(index_dir)
    assert store.manifest.articles == 1, "the old index is still current"
    store.close()

    fake.identified.clear()
    async with running_bot(fake, tmp_path, index_dir, corpus):
        ask = await fake.slash(
            fake.user("reader"), "ask", {"question": "Who walked out of the meeting?"}
        )
        await fake.wait_for(lambda f: answered(f, ask.token))
        assert lead(answered(fake, ask.token)[-1].json["embeds"][0]["description"]).startswith(
            "Delcy"
        )
        again = await reindex()
        await fake.wait_for(
            lambda f: any(r.json.get("embeds") for r in answered(f, again.token)), timeout=120
        )
        report = [r for r in answered(fake, again.token) if r.json.get("embeds")][-1]
        assert "Added 12, changed 0, removed 0" in report.json["embeds"][0]["description"]
    assert list((index_dir / "builds").iterdir()) == [(index_dir / "current").resolve()]


def run_bot(tmp_path: Path, **env: str) -> tuple[int, str]:
    """``python -m bot`` expected to stop before logging in. Pointed at a closed port on
    loopback: should it go on, it fails there rather than reaching for discord.com."""
    import subprocess

    closed = "http://127.0.0.1:9/api/v10"
    result = subprocess.run(
        [sys.executable, "-m", "fakediscord.launcher", closed, "ws://127.0.0.1:9"],
        cwd=tmp_path,
        env={**bot_environment(tmp_path, tmp_path / "index", tmp_path / "corpus"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def test_a_missing_token_exits_with_a_clear_message(tmp_path: Path) -> None:
    code, output = run_bot(tmp_path, NEWSDESK_DISCORD_TOKEN="")
    assert code == 2
    assert "NEWSDESK_DISCORD_TOKEN=" in output and ".env" in output
    assert "Traceback" not in output


def test_a_damaged_state_database_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"votes and settings" + bytes(range(256)) * 32)
    code, output = run_bot(tmp_path, NEWSDESK_DISCORD_TOKEN=TOKEN)
    assert code == 1
    assert f"The state database {state} is damaged" in output and "backup" in output
    assert "Traceback" not in output and "voice will NOT be supported" not in output
    assert not (tmp_path / "index").exists(), "stopped before any work"


def test_damaged_reader_weights_stop_the_start_with_a_clear_message(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    weights = tmp_path / "reader.safetensors"
    weights.write_bytes(WEIGHTS.read_bytes()[:4096])
    code, output = run_bot(
        tmp_path, NEWSDESK_DISCORD_TOKEN=TOKEN, NEWSDESK_READER_WEIGHTS=str(weights)
    )
    assert code == 1
    assert f"The reader's weights at {weights} are damaged" in output
    assert "git checkout" in output and "python -m index.training.reader train" in output
    assert "Traceback" not in output
    assert not (tmp_path / "index").exists(), "stopped before any work"


def test_a_model_folder_that_cannot_be_used_stops_the_start_with_a_clear_message(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "seeds", tmp_path / "corpus")
    model = tmp_path / "model"
    model.mkdir()
    code, output = run_bot(tmp_path, NEWSDESK_DISCORD_TOKEN=TOKEN, NEWSDESK_MODEL=str(model))
    assert code == 1
    assert f"NEWSDESK_MODEL={model} has no tokenizer.json" in output
    assert "Traceback" not in output
    assert not (tmp_path / "index").exists(), "stopped before any work"


async def test_a_rejected_token_exits_without_printing_it(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    wrong = "wrong-token-" + "y" * 40
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    bot = await launch(fake, tmp_path, index_dir, corpus, token=wrong)
    await asyncio.wait_for(bot.process.wait(), STARTUP_SECONDS)
    text = bot.output()
    assert bot.process.returncode == 1
    assert "Discord rejected the token" in text
    assert wrong not in text and "Traceback" not in text


async def test_load_while_reindexing_loses_nothing_and_never_stalls(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """200 questions from 20 users at once, with a cooldown, while an admin reindexes: each
    gets one first response within the deadline, those let through one answer each; the
    reindex shows its progress, refuses a second one meanwhile, and its articles answer after."""
    fake.heartbeat_interval_ms = 500  # a heartbeat that is late means the event loop stalled
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:8]:
        shutil.copy(article, corpus / article.name)
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    editor = fake.user("editor")
    async with running_bot(fake, tmp_path, index_dir, corpus, NEWSDESK_COOLDOWN_SECONDS="1"):
        reindex = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
        questions = [
            "Who walked out of the meeting?",
            "How many votes were needed?",
            "Where was the OAS meeting held?",
            "How many people have died in the protests?",
        ]
        sent: dict[str, list] = {}

        async def user(number: int) -> None:
            person = fake.user(f"user{number}")
            sent[person["id"]] = []
            for i in range(10):
                question = questions[(number + i) % len(questions)]
                sent[person["id"]].append(await fake.slash(person, "ask", {"question": question}))
                await asyncio.sleep(0.25)

        started = fake.heartbeats[-1] if fake.heartbeats else None
        await asyncio.gather(*(user(n) for n in range(20)))
        interactions = [i for asked in sent.values() for i in asked]
        assert len(interactions) == 200

        def settled(f: FakeDiscord) -> bool:
            callbacks = [r for r in f.requests if r.path.endswith("/callback")]
            done = {r.path.split("/")[3] for r in callbacks}
            in_time = [i for i in interactions if i.token in done and not i.late]
            return len(done & {i.token for i in interactions}) == 200 and all(
                answered(f, i.token) for i in in_time if deferred(f, i.token)
            )

        # Once the first reports progress it surely holds the build: a second is queued
        # behind it, a third is told one is waiting.
        await fake.wait_for(
            lambda f: any(
                "Reindexing" in (r.json.get("content") or "") for r in answered(f, reindex.token)
            )
        )
        again = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
        await fake.wait_for(lambda f: answered(f, again.token))
        assert "this one is queued" in answered(fake, again.token)[-1].json["content"]
        third = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
        await fake.wait_for(lambda f: answered(f, third.token))
        assert "already waiting" in answered(fake, third.token)[-1].json["content"]

        await fake.wait_for(settled, timeout=240)
        await fake.wait_for(
            lambda f: [r for r in answered(f, reindex.token) if r.json.get("embeds")], 240
        )
        edits = [r.json.get("content") or "" for r in answered(fake, reindex.token)]
        assert any(re.match(r"Reindexing: embedding \d+/\d+ passages", e) for e in edits), edits
        report = [r for r in answered(fake, reindex.token) if r.json.get("embeds")][-1]
        assert report.json["embeds"][0]["title"] == "Reindex complete"
        assert "Added 8, changed 0, removed 0" in report.json["embeds"][0]["description"]
        assert not reindex.late
        # The queued one ran after it, and found nothing left to do.
        await fake.wait_for(
            lambda f: [r for r in answered(f, again.token) if r.json.get("embeds")], 60
        )
        queued = [r for r in answered(fake, again.token) if r.json.get("embeds")][-1]
        assert "Added 0, changed 0, removed 0" in queued.json["embeds"][0]["description"]
        new = await fake.slash(
            editor, "ask", {"question": "What is the Amazon rainforest also known as?"}
        )
        await fake.wait_for(lambda f: answered(f, new.token))
        assert "Amazon" in answered(fake, new.token)[-1].json["embeds"][0]["fields"][0]["name"]
        for request in fake.sent():
            assert_safe(request.json)

    for user_id, asked in sent.items():
        answered_at = []
        for interaction in asked:
            callbacks = [
                r for r in fake.requests if r.path.endswith(f"{interaction.token}/callback")
            ]
            assert len(callbacks) == 1, "every question gets exactly one first response"
            assert not interaction.late
            if callbacks[0].json["type"] == 5:
                replies = answered(fake, interaction.token)
                assert len(replies) == 1, "answered exactly once"
                assert lead(replies[0].json["embeds"][0]["description"])
                answered_at.append(interaction.created)
            else:
                data = callbacks[0].json["data"]
                assert data["flags"] & 64 and "try again in" in data["content"]
        # The bot times the cooldown from when it reads each question, which under load lags the
        # dispatch by a varying amount; so compare dispatch times with slack. Without a cooldown
        # a user's answered questions would be 0.25 s apart.
        gaps = [b - a for a, b in zip(answered_at, answered_at[1:], strict=False)]
        assert answered_at and all(gap >= 0.6 for gap in gaps), (user_id, gaps)

    beats = [t for t in fake.heartbeats if started is None or t >= started]
    longest = max(b - a for a, b in zip(beats, beats[1:], strict=False))
    assert longest < 0.5 + 1.0, f"the event loop stalled: {longest:.2f}s between heartbeats"


async def test_feeds_and_article_urls_keep_the_coverage_current(
    fake: FakeDiscord, news_site: NewsSite, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """The operator's scenario: a feed in NEWSDESK_FEEDS, a story published after the start,
    a member's question answered with it and its date; and an admin's /add url:."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    feed = {
        "NEWSDESK_FEEDS": news_site.url("/rss.xml"),
        "NEWSDESK_FEED_INTERVAL_MINUTES": "0.03",  # about two seconds
        "NEWSDESK_FETCH_ALLOW_PRIVATE": "true",  # the site is on 127.0.0.1
        "NEWSDESK_FETCH_DELAY_SECONDS": "0",
    }
    async with running_bot(fake, tmp_path, index_dir, corpus, **feed) as bot:
        await logged(bot, "polled 1 feeds: 1 new")
        news_site.publish(FLOODS_THURSDAY)
        await logged(bot, "polled 1 feeds: 1 new", times=2)
        reader, editor = fake.user("reader"), fake.user("editor")
        ask = await fake.slash(reader, "ask", {"question": "How many people are in shelters?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        embed = answered(fake, ask.token)[-1].json["embeds"][0]
        # The reader's span, with or without the "More than" (both are in the sentence).
        assert re.fullmatch(r"(More than )?12,000", lead(embed["description"])), embed
        assert "reported 26 Nov 2026" in embed["description"]

        # Two outlets' reports of a toll that changed (tests/stories.py), polled from the feed:
        # the newest figure, and the earlier ones with their outlets and dates.
        stories = (NINE, ELEVEN, TWENTY_THREE, COUNTING)
        news_site.stories |= {story.slug: story for story in stories}
        news_site.in_feed[:0] = [story.slug for story in reversed(stories)]  # in one poll
        await logged(bot, "polled 1 feeds: 4 new")
        question = {"question": "How many people died in the Kellbridge floods?"}
        ask = await fake.slash(reader, "ask", question)
        await fake.wait_for(lambda f: answered(f, ask.token))
        description = answered(fake, ask.token)[-1].json["embeds"][0]["description"]
        assert lead(description) == "Twenty-three", description
        [line] = [x for x in description.split("\n") if x.startswith("Earlier reports: ")]
        assert sorted(line.removeprefix("Earlier reports: ").split(" · ")) == [
            "11 (The Northern Ledger, 3 Sep)",
            "nine (The Meridian Courier, 3 Sep)",
        ]

        news_site.stories[BRIDGE.slug] = BRIDGE  # on the site, in no feed
        added = await fake.slash(
            editor, "add", {"url": news_site.url("/news/bridge")}, permissions=MANAGE_GUILD
        )
        await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)))
        embed = answered(fake, added.token)[-1].json["embeds"][0]
        assert embed["title"] == "Article added" and "reported 25 Nov 2026" in embed["description"]
        ask = await fake.slash(reader, "ask", {"question": "When will the stone bridge reopen?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        assert "April" in answered(fake, ask.token)[-1].json["embeds"][0]["description"]
        for request in fake.sent():
            assert_safe(request.json)


async def test_a_followed_story_is_posted_once_per_new_article_across_a_restart(
    fake: FakeDiscord, news_site: NewsSite, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """/follow in a channel; stories of it come through the feed, one poll each: one post
    per new article, none again after a restart, and the next new one after it."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    quick = {
        "NEWSDESK_FEEDS": news_site.url("/rss.xml"),
        "NEWSDESK_FEED_INTERVAL_MINUTES": "0.03",  # about two seconds
        "NEWSDESK_FETCH_ALLOW_PRIVATE": "true",
        "NEWSDESK_FETCH_DELAY_SECONDS": "0",
        "NEWSDESK_FOLLOW_CHECK_SECONDS": "1",
        "NEWSDESK_FOLLOW_POST_INTERVAL_SECONDS": "0",
    }
    editor = fake.user("editor")

    def posts() -> list[dict]:
        return [
            m
            for m in fake.messages.values()
            if m["channel_id"] == fake.channel_id
            and m["embeds"]
            and m["embeds"][0]["title"] == "New in “Kellbridge floods”"
        ]

    async with running_bot(fake, tmp_path, index_dir, corpus, **quick) as bot:
        await logged(bot, "polled 1 feeds: 1 new")
        followed = await fake.slash(
            editor, "follow", {"topic": "Kellbridge floods"}, permissions=MANAGE_GUILD
        )
        await fake.wait_for(lambda f: f.interactions[followed.token].responded)
        for count, story in enumerate((NINE, ELEVEN), start=1):
            news_site.publish(story)
            await fake.wait_for(lambda f, n=count: len(posts()) == n, 60)
    async with running_bot(fake, tmp_path, index_dir, corpus, **quick) as bot:
        await logged(bot, "polled 1 feeds: no new", times=2)
        await asyncio.sleep(2)  # two follow checks
        assert len(posts()) == 2, "nothing posted again after the restart"
        news_site.publish(TWENTY_THREE)
        await fake.wait_for(lambda f: len(posts()) == 3, 60)
        await asyncio.sleep(2)
    said = [p["embeds"][0]["description"] for p in posts()]
    assert "At least nine people" in said[0] and "risen to 11" in said[1] and "23" in said[2]
    assert not any("nine people" in s for s in said[1:]), "only what each article added"
    sent = [r.json for r in fake.sent() if r.path.endswith(f"/channels/{fake.channel_id}/messages")]
    assert len([s for s in sent if s.get("embeds")]) == 3
    for payload in sent:
        assert_safe(payload)
    for post in posts():
        [button] = [c for row in post["components"] for c in row["components"]]
        assert button["label"] == "Timeline" and button["custom_id"].startswith("timeline:")


async def test_a_cluster_process_that_loses_its_shard_locks_stops_its_shards(
    fake: FakeDiscord, database_url: str, corpus: Path, tmp_path: Path
) -> None:
    """The shard's lock goes with its database connection. Cut, it is taken again and the
    shard goes on; cut while another process waits for it, that one has it, so this one
    stops (exit status 3) rather than answer beside it."""
    sharded = {"NEWSDESK_DATABASE_URL": database_url, "NEWSDESK_SHARD_COUNT": "1"}
    bot = await launch(fake, tmp_path, tmp_path / "unused", corpus, **sharded)
    key = lock_key(SHARD_LOCK, 1)

    def cut() -> int:
        with psycopg.connect(database_url, autocommit=True) as admin:
            (count,) = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = %s AND granted",
                (key,),
            ).fetchone()
        return count

    try:
        await fake.wait_for(lambda f: (0, 1) in f.shards_identified, STARTUP_SECONDS)
        assert cut() == 1
        await logged(bot, "shard locks taken again", timeout=30)
        assert bot.process.returncode is None, "nobody else wanted the shard: it goes on"

        with psycopg.connect(database_url, autocommit=True) as other:
            # Queued behind this process's lock, it gets it the moment the lock is free.
            waiting = asyncio.create_task(
                asyncio.to_thread(other.execute, "SELECT pg_advisory_lock(%s, 0)", (key,))
            )
            await asyncio.sleep(0.5)
            assert cut() == 1
            await waiting
            assert await asyncio.wait_for(bot.process.wait(), 30) == 3
        assert "lost the shard locks to another process: stopping the shards" in bot.output()
    finally:
        await bot.stop()


async def scrape(port: int) -> tuple[int, dict[str, Metric]]:
    """A process's /healthz status and its /metrics, read with prometheus-client's parser."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
            status = health.status
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    return status, {f.name: f for f in text_string_to_metric_families(text)}


def reindex_reported(fake: FakeDiscord, token: str) -> bool:
    return any(
        (r.json.get("embeds") or [{}])[0].get("title") == "Reindex complete"
        for r in answered(fake, token)
    )


async def test_cluster_three_processes_on_a_primary_and_a_standby(tmp_path: Path) -> None:
    """Three machines: three processes, each with its shard of three, its server, its own
    articles folder and its metrics, on one primary and one hot standby (where answers are
    read). An article added through one is answered through the others; the process running
    a full reindex is killed (SIGKILL) mid-build and another finishes it, the admin's reply
    edited all the same (the build was one transaction: nothing half-written). The primary
    stops: the two left answer from the standby, /add and /reindex say the database is away,
    nothing is saved by halves. Back: the shard locks are taken again, the jobs worker works
    again, the article is added and answered, and a thread started before the outage goes on.
    Two servers' own coverage: what a partner server's admin adds is answered there and never
    through another server; the shared coverage and /reindex are the operator's."""
    fake = FakeDiscord(servers=3)
    await fake.start()
    primary = PostgresServer()
    primary.start()
    standby: PostgresServer | None = None
    bots: dict[int, BotProcess] = {}  # by server number
    ports = {number: free_port() for number in range(3)}
    # The operator (NEWSDESK_ADMIN_IDS), and a partner server's admin (Manage Server there).
    reader, editor, partner = fake.user("reader"), fake.user("editor"), fake.user("partner")
    try:
        url = primary.database("news")
        standby = primary.standby()
        shards = {number: shard_of(guild, 3) for number, guild in enumerate(fake.server_ids)}
        assert sorted(shards.values()) == [0, 1, 2], "a server on each shard"
        for number, shard in shards.items():
            machine = tmp_path / f"machine{number}"
            # XQuAD's articles: a build of some seconds, so that a reindex can be killed midway.
            corpus = shutil.copytree(SHARED / "eval" / "xquad" / "corpus", machine / "corpus")
            bots[number] = await launch(
                fake, machine, machine / "unused", corpus,
                NEWSDESK_DATABASE_URL=url, NEWSDESK_DATABASE_REPLICA_URL=standby.url("news"),
                NEWSDESK_SHARD_COUNT="3", NEWSDESK_SHARD_IDS=str(shard),
                NEWSDESK_METRICS_PORT=str(ports[number]), NEWSDESK_ADMIN_IDS=editor["id"],
            )  # fmt: skip
        for bot in bots.values():
            await logged(bot, "ready as", timeout=STARTUP_SECONDS + 60)
        me = fake.bot_user

        async def ask(question: str, server: int) -> str:
            asked = await fake.slash(reader, "ask", {"question": question}, server=server)
            await fake.wait_for(lambda f: answered(f, asked.token), 60)
            return lead(answered(fake, asked.token)[-1].json["embeds"][0]["description"])

        async def answers(question: str, server: int, expected: str) -> None:
            for _ in range(50):  # the standby replays a build within moments
                if expected in await ask(question, server):
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"server {server} never answered {expected!r} to {question!r}")

        async def add(name: str, article: str, server: int, by: dict = editor) -> dict:
            added = await fake.slash(
                by, "add", {"article": (name, article.encode())},
                permissions=MANAGE_GUILD, server=server,
            )  # fmt: skip
            await fake.wait_for(lambda f: answered(f, added.token), 60)
            await asyncio.sleep(0.5)  # the reply's last edit
            return answered(fake, added.token)[-1].json

        async def reindex(server: int, full: bool = False) -> Interaction:
            return await fake.slash(
                editor, "reindex", {"full": full}, permissions=MANAGE_GUILD, server=server
            )

        for number in bots:
            health, families = await scrape(ports[number])
            assert health == 200
            assert [s.value for s in families["newsdesk_shards_connected"].samples] == [1]
            assert "newsdesk_replica_lag_seconds" in families
            states = {s.labels["state"] for s in families["newsdesk_jobs"].samples}
            assert states <= {"todo", "doing", "failed"}

        harbour = "When did the Quillborough harbour reopen?"
        assert (await add("harbour.md", ARTICLE, 0))["embeds"][0]["title"] == "Article added"
        for server in (1, 2):
            await answers(harbour, server, "Monday")
        assert "/add 'harbour.md'" in bots[0].output()
        assert not any("/add" in bots[n].output() for n in (1, 2))
        # The partner's own article: answered in its server, never through another.
        own = await add("saltmere.md", SALTMERE, 1, by=partner)
        assert own["embeds"][0]["title"] == "Article added"
        await answers(DREDGING, 1, "Orla Venn")
        for server in (0, 2):
            token = (await fake.slash(reader, "ask", {"question": DREDGING}, server=server)).token
            await fake.wait_for(lambda f, token=token: answered(f, token), 60)
            assert "Saltmere" not in str(answered(fake, token)[-1].json)
        refused = await fake.slash(partner, "reindex", {}, permissions=MANAGE_GUILD, server=1)
        await fake.wait_for(lambda f: f.sent(refused.token))
        assert "Only the bot's operators" in fake.sent(refused.token)[0].json["content"]

        full = await reindex(0, full=True)
        await fake.wait_for(
            lambda f: any("reindex job running here" in b.output() for b in bots.values()), 60
        )
        [killed] = [n for n, b in bots.items() if "reindex job running here" in b.output()]
        bots[killed].process.kill()
        await bots[killed].process.wait()
        await fake.wait_for(lambda f: reindex_reported(f, full.token), 180)
        left = [n for n in bots if n != killed]
        assert any("was left by a stopped worker: retried" in bots[n].output() for n in left)

        talk = fake.server_channels[left[0]]
        started = await fake.send_message(reader, f"<@{me['id']}> {harbour}", [me], talk)
        await fake.wait_for(lambda f: in_thread(f, started["id"]), 60)

        primary.halt()
        for server in left:
            assert await ask(harbour, server) == "Monday", "answered from the standby"
        refused = await add("tolls.md", TOLLS_ARTICLE, left[0])
        assert "Cannot reach the index database" in refused["content"]
        assert "still answering" in refused["content"]
        away = await reindex(left[1])
        await fake.wait_for(lambda f: answered(f, away.token), 30)
        assert "not answering just now" in answered(fake, away.token)[-1].json["content"]
        for number in left:
            assert bots[number].process.returncode is None
            assert "the primary database is away: the shards go on" in bots[number].output()

        primary.resume()
        for number in left:
            await logged(bots[number], "shard locks taken again", timeout=30)
        added = await add("tolls.md", TOLLS_ARTICLE, left[0])
        assert added["embeds"][0]["title"] == "Article added"
        for server in left:
            await answers("When do the tolls on the Kellbridge bridge start?", server, "March")
            assert await ask(harbour, server) == "Monday", "nothing lost"
        await fake.send_message(reader, "And after what?", [], started["id"])
        await fake.wait_for(lambda f: len(in_thread(f, started["id"])) == 2, 60)
        # The jobs worker, stopped with its database, works again: a reindex runs.
        for number in left:
            await logged(bots[number], "the jobs worker is started again", timeout=30)
        again = await reindex(left[1])
        await fake.wait_for(lambda f: reindex_reported(f, again.token), 60)
        failed = "Adding the article failed: Cannot reach the index database"
        assert failed in bots[left[0]].output()
        for number in left:
            health, families = await scrape(ports[number])
            assert health == 200
            questions = families["newsdesk_questions"].samples
            assert sum(s.value for s in questions if s.name == "newsdesk_questions_total") >= 3
    finally:
        for number, bot in bots.items():
            await bot.stop()
            assert_token_kept_secret(fake, bot, tmp_path / f"machine{number}")
        if standby is not None:
            standby.stop()
        primary.stop()
        await fake.stop()


async def test_cluster_two_sharded_processes_serve_one_bot_from_postgres(
    fake: FakeDiscord, database_url: str, corpus: Path, tmp_path: Path
) -> None:
    """Two processes, one shard of two each, on one PostgreSQL for the index, the articles and
    the state, each with an articles folder of its own (two machines): each answers its own
    server; an article added through one is answered by the other at once and stays through a
    full reindex run on the other; the process that takes over a shard carries on its threads
    and votes."""
    reader, editor, me = fake.user("reader"), fake.user("editor"), fake.bot_user
    # The editor is an operator: what they add in either server is the shared coverage.
    sharded = {
        "NEWSDESK_DATABASE_URL": database_url,
        "NEWSDESK_SHARD_COUNT": "2",
        "NEWSDESK_ADMIN_IDS": editor["id"],
    }
    home = {
        fake.guild_id: shard_of(fake.guild_id, 2),
        fake.other_guild_id: 1 - shard_of(fake.guild_id, 2),
    }
    launched: list[tuple[BotProcess, Path]] = []

    async def start(shard: int) -> BotProcess:
        identified = len(fake.shards_identified)
        folder = tmp_path / f"shard{shard}-{len(launched)}"
        own = folder / "corpus"
        shutil.copytree(corpus, own)
        bot = await launch(
            fake, folder, tmp_path / "unused", own, NEWSDESK_SHARD_IDS=str(shard), **sharded
        )
        launched.append((bot, folder))
        await fake.wait_for(
            lambda f: (shard, 2) in f.shards_identified[identified:], STARTUP_SECONDS
        )
        return bot

    try:
        # Both start on an empty database: one builds the index, the other waits for its lock.
        bots = list(await asyncio.gather(start(0), start(1)))
        here, there = bots[home[fake.guild_id]], bots[home[fake.other_guild_id]]
        # A third process for a shard already run is refused: two would answer every message.
        twin = tmp_path / "twin"
        twin.mkdir()
        duplicate = await launch(
            fake, twin, tmp_path / "unused", corpus, NEWSDESK_SHARD_IDS="0", **sharded
        )
        assert await asyncio.wait_for(duplicate.process.wait(), STARTUP_SECONDS) != 0
        assert "Shard 0 of 2 is already run by another live process" in duplicate.output()
        asked = await fake.send_message(reader, f"<@{me['id']}> how many votes were needed?", [me])
        thread = asked["id"]
        first = await fake.wait_for(lambda f: in_thread(f, thread), 60)
        assert "message from" in here.output() and "message from" not in there.output()

        added = await fake.slash(
            editor, "add", {"article": ("harbour.md", ARTICLE.encode())},
            permissions=MANAGE_GUILD, server=1,
        )  # fmt: skip
        await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)))
        assert "/add 'harbour.md'" in there.output() and "/add" not in here.output()
        ask = await fake.slash(reader, "ask", {"question": "When did the harbour reopen?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        description = answered(fake, ask.token)[-1].json["embeds"][0]["description"]
        assert lead(description) == "Monday", "the other process's article, no restart"

        buttons = [c["custom_id"] for row in first[0]["components"] for c in row["components"]]
        down = await fake.click(reader, first[0], buttons[1])
        await fake.wait_for(lambda f: f.interactions[down.token].responded)

        # The shard's process is replaced: the new one carries on the thread and the votes.
        await here.stop()
        shard = home[fake.guild_id]
        here = bots[shard] = await start(shard)
        await fake.send_message(reader, "And in the General Assembly?", [], channel_id=thread)
        await fake.wait_for(lambda f: len(in_thread(f, thread)) == 2, 60)
        followup = in_thread(fake, thread)[1]["embeds"][0]["description"]
        assert lead(followup) == "18", "the conversation came from the database"
        up = await fake.click(fake.user("other"), fake.messages[first[0]["id"]], buttons[0])
        await fake.wait_for(lambda f: f.interactions[up.token].responded)
        labels = [
            c.get("label")
            for row in fake.messages[first[0]["id"]]["components"]
            for c in row["components"]
        ]
        assert labels == ["1", "1"], "the vote cast through the old process counted too"

        # Its folder never held the article: the full build reads the database's articles.
        reindex = await fake.slash(editor, "reindex", {"full": True}, permissions=MANAGE_GUILD)
        await fake.wait_for(
            lambda f: any(
                (r.json.get("embeds") or [{}])[0].get("title") == "Reindex complete"
                for r in answered(f, reindex.token)
            ),
            120,
        )
        again = await fake.slash(reader, "ask", {"question": "When did the harbour reopen?"})
        await fake.wait_for(lambda f: answered(f, again.token))
        assert lead(answered(fake, again.token)[-1].json["embeds"][0]["description"]) == "Monday"
    finally:
        for bot, folder in launched:
            await bot.stop()
            assert_token_kept_secret(fake, bot, folder)
    assert not any((folder / "state.sqlite").exists() for _, folder in launched)
    assert not (tmp_path / "unused").exists()
