"""The real bot process (``python -m bot``) against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from fakediscord import MANAGE_GUILD, TOKEN, FakeDiscord, Interaction, Recorded
from index.indexer import BuildOptions, build
from index.settings import Settings
from index.storage.folder import FolderStorage as Store

from .conftest import ROOT, SHARED, unprivileged
from .newssite import BRIDGE, FLOODS_THURSDAY, NewsSite

pytestmark = pytest.mark.process

STARTUP_SECONDS = 90

EMBED_LIMITS = {"title": 256, "description": 4096}


def bot_environment(tmp_path: Path, index_dir: Path, corpus: Path, **settings: str) -> dict:
    """The process environment: this machine's, minus any NEWSDESK_ settings, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(
        PYTHONPATH=str(ROOT),
        NEWSDESK_CORPUS_DIR=str(corpus),
        NEWSDESK_INDEX_DIR=str(index_dir),
        NEWSDESK_STATE_DB=str(tmp_path / "state.sqlite"),
        NEWSDESK_COOLDOWN_SECONDS="0",
    )
    env.update(settings)
    return env


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 15)


async def launch(
    fake: FakeDiscord,
    tmp_path: Path,
    index_dir: Path,
    corpus: Path,
    token: str = TOKEN,
    prefix: Sequence[str] = (),
    **settings: str,
) -> BotProcess:
    """Start ``python -m bot`` (through the launcher) against ``fake``; output goes to a log.
    ``prefix`` goes before the command (see ``conftest.unprivileged``)."""
    log = tmp_path / "bot.log"
    settings = {"NEWSDESK_DISCORD_TOKEN": token, "NEWSDESK_GUILD_ID": fake.guild_id, **settings}
    env = bot_environment(tmp_path, index_dir, corpus, **settings)
    with open(log, "wb") as handle:
        process = await asyncio.create_subprocess_exec(
            *prefix,
            sys.executable,
            "-m",
            "fakediscord.launcher",
            fake.api_url,
            fake.gateway_url,
            cwd=tmp_path,
            env=env,
            stdout=handle,
            stderr=asyncio.subprocess.STDOUT,
        )
    return BotProcess(process, log)


@asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    tmp_path: Path,
    index_dir: Path,
    corpus: Path,
    prefix: Sequence[str] = (),
    **settings: str,
) -> AsyncIterator[BotProcess]:
    """A bot connected to ``fake``; stopped afterwards, its output checked for the token."""
    bot = await launch(fake, tmp_path, index_dir, corpus, prefix=prefix, **settings)
    try:
        await asyncio.wait_for(fake.identified.wait(), STARTUP_SECONDS)
        await asyncio.sleep(0.5)  # let discord.py take in the GUILD_CREATE
        yield bot
    finally:
        await bot.stop()
        assert_token_kept_secret(fake, bot, tmp_path)


def assert_token_kept_secret(fake: FakeDiscord, bot: BotProcess, folder: Path) -> None:
    """The token appears in nothing captured: output and logs, every request the bot sent
    (bodies and paths; only its Authorization header may carry it), every file it wrote."""
    assert TOKEN not in bot.output(), "the token leaked into the bot's output"
    for request in fake.requests:
        assert TOKEN not in f"{request.path} {json.dumps(request.json)}", request.path
    for path in folder.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), f"the token leaked into {path}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    # Mentions answered in place, as replies; test_threads_* covers the default thread mode.
    async with running_bot(
        fake, tmp_path, index_dir, corpus, NEWSDESK_THREAD_MODE="off"
    ) as running:
        yield running


async def logged(bot: BotProcess, line: str, times: int = 1, timeout: float = 60) -> None:
    """Wait until the bot's output holds ``line`` ``times`` times."""
    async with asyncio.timeout(timeout):
        while bot.output().count(line) < times:
            await asyncio.sleep(0.2)


def answered(fake: FakeDiscord, token: str) -> list[Recorded]:
    """The messages the bot sent for one interaction after its first response."""
    return [r for r in fake.sent(token) if "/webhooks/" in r.path]


def assert_safe(payload: dict) -> None:
    """Empty allowed mentions and Discord's size limits, on one message payload."""
    mentions = payload.get("allowed_mentions")
    assert mentions is not None and mentions.get("parse") == [], payload
    assert not mentions.get("users") and not mentions.get("roles")
    assert len(payload.get("content") or "") <= 2000
    for embed in payload.get("embeds") or []:
        total = 0
        for key, limit in EMBED_LIMITS.items():
            assert len(embed.get(key) or "") <= limit
            total += len(embed.get(key) or "")
        for field in embed.get("fields", []):
            assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
            total += len(field["name"]) + len(field["value"])
        total += len((embed.get("footer") or {}).get("text", ""))
        assert total <= 6000


async def test_ask_mentions_and_admin_checks_end_to_end(fake: FakeDiscord, bot: BotProcess) -> None:
    reader = fake.user("reader")

    ask = await fake.slash(reader, "ask", {"question": "Who walked out of the meeting?"})
    await fake.wait_for(lambda f: answered(f, ask.token))
    first = next(r for r in fake.requests if ask.token in r.path)
    assert first.path.endswith("/callback") and first.json["type"] == 5  # deferred: "thinking"
    assert not ask.late
    embed = answered(fake, ask.token)[-1].json["embeds"][0]
    assert embed["description"].startswith("**Delcy Rodriguez**")
    assert "stormed out of the meeting" in embed["description"]

    deaths = await fake.slash(reader, "ask", {"question": "How many people have died?"})
    await fake.wait_for(lambda f: answered(f, deaths.token))
    embed = answered(fake, deaths.token)[-1].json["embeds"][0]
    assert embed["description"].startswith("**74**")
    assert "74 people dead since April" in embed["description"]

    me = fake.bot_user
    question = await fake.send_message(
        reader, f"<@{me['id']}> who walked out of the meeting?", mentions=[me]
    )

    def reply(f: FakeDiscord) -> list[Recorded]:
        return [
            r
            for r in f.sent()
            if r.path.startswith("/channels/") and r.json.get("message_reference")
        ]

    await fake.wait_for(reply)
    sent = reply(fake)[-1].json
    assert str(sent["message_reference"]["message_id"]) == question["id"]
    assert sent["embeds"][0]["description"].startswith("**Delcy Rodriguez**")

    robot = fake.user("robot", bot=True)
    await fake.send_message(robot, f"<@{me['id']}> who walked out of the meeting?", mentions=[me])
    refused = await fake.slash(reader, "reindex", {})
    await fake.wait_for(lambda f: f.sent(refused.token))
    refusal = fake.sent(refused.token)[0].json
    assert "Only server managers" in refusal["content"] and refusal["flags"] & 64
    assert len(reply(fake)) == 1  # the other bot's mention got nothing
    [sync] = [r for r in fake.requests if r.method == "PUT" and "/commands" in r.path]
    assert sync.path == f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"

    for request in fake.sent():
        assert_safe(request.json)


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


async def test_questions_are_answered_while_an_admin_reindex_runs(
    fake: FakeDiscord, bot: BotProcess, corpus: Path
) -> None:
    # Enough new articles that embedding them takes a few seconds.
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:12]:
        shutil.copy(article, corpus / article.name)
    editor, reader = fake.user("editor"), fake.user("reader")
    reindex = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
    await fake.wait_for(
        lambda f: f.sent(reindex.token) or any(reindex.token in r.path for r in f.requests)
    )
    ask = await fake.slash(
        reader, "ask", {"question": "How many people have died in the protests?"}
    )
    # Once the first reports progress it surely holds the build: a second is refused.
    await fake.wait_for(
        lambda f: any("Reindexing" in (r.json.get("content") or "") for r in f.sent(reindex.token))
    )
    again = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
    await fake.wait_for(lambda f: f.sent(again.token))
    assert "already running" in fake.sent(again.token)[-1].json["content"]

    def report(f: FakeDiscord) -> list[Recorded]:
        return [r for r in answered(f, reindex.token) if r.json.get("embeds")]

    await fake.wait_for(lambda f: answered(f, ask.token) and report(f), timeout=120)
    answer = answered(fake, ask.token)[-1]
    assert answer.json["embeds"][0]["description"].startswith("**74**")
    final = report(fake)[-1]
    assert answer.at < final.at, "the question waited for the reindex"
    embed = final.json["embeds"][0]
    assert embed["title"] == "Reindex complete"
    assert "Added 12, changed 0, removed 0" in embed["description"]
    edits = [r.json.get("content") or "" for r in answered(fake, reindex.token)]
    assert any(re.match(r"Reindexing: embedding \d+/\d+ passages", e) for e in edits), edits
    assert not ask.late and not reindex.late

    new = await fake.slash(
        reader, "ask", {"question": "What is the Amazon rainforest also known as?"}
    )
    await fake.wait_for(lambda f: answered(f, new.token))
    fields = answered(fake, new.token)[-1].json["embeds"][0]["fields"]
    assert "Amazon" in fields[0]["name"]
    for request in fake.sent():
        assert_safe(request.json)


async def test_quoted_mentions_ping_nobody_and_long_passages_fit(
    fake: FakeDiscord, seed_index: Path, tmp_path: Path, corpus: Path, embedder, settings
) -> None:
    (corpus / "hostile.txt").write_text(
        "Council @everyone <@&42> notice\n\n"
        + " ".join(
            f"@everyone the council of <@123> voted {n} times on the **budget** motion."
            for n in range(60)
        )
    )
    index_dir = tmp_path / "hostile-index"
    build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    async with running_bot(fake, tmp_path, index_dir, corpus):
        ask = await fake.slash(
            fake.user("reader"),
            "ask",
            {"question": "@everyone how many times did the council vote?"},
        )
        await fake.wait_for(lambda f: answered(f, ask.token))
        payload = answered(fake, ask.token)[-1].json
        assert_safe(payload)
        embed = payload["embeds"][0]
        text = "\n".join(
            [embed["title"], embed["description"]]
            + [f["name"] + f["value"] for f in embed["fields"]]
        )
        assert "@everyone" not in text.replace("@\u200beveryone", "")
        assert "\\*\\*budget\\*\\*" in text  # quoted markdown stays literal


async def test_a_question_asked_while_the_gateway_was_down_is_answered_after_a_resume(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    me = fake.bot_user
    await fake.drop_connections()
    question = await fake.send_message(
        fake.user("reader"), f"<@{me['id']}> who walked out of the meeting?", mentions=[me]
    )
    fake.come_back()
    await fake.wait_for(lambda f: f.resumes == 1, timeout=60)

    def reply(f: FakeDiscord) -> list[Recorded]:
        return [
            r
            for r in f.sent()
            if str((r.json.get("message_reference") or {}).get("message_id")) == question["id"]
        ]

    await fake.wait_for(reply)
    assert reply(fake)[0].json["embeds"][0]["description"].startswith("**Delcy Rodriguez**")
    assert fake.identifies == 1, "resumed, not a new session"


async def test_the_bot_identifies_again_when_its_session_cannot_be_resumed(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    fake.accept_resume = False
    await fake.drop_connections()
    fake.come_back()
    await fake.wait_for(lambda f: f.identifies >= 2, timeout=60)
    await asyncio.sleep(0.5)  # let discord.py take in the new GUILD_CREATE
    ask = await fake.slash(
        fake.user("reader"), "ask", {"question": "Who walked out of the meeting?"}
    )
    await fake.wait_for(lambda f: answered(f, ask.token))
    assert answered(fake, ask.token)[-1].json["embeds"][0]["description"].startswith("**Delcy")
    assert not ask.late


@pytest.mark.parametrize("status", [429, 500])
async def test_a_reply_is_delivered_through_429_and_500(
    fake: FakeDiscord, bot: BotProcess, status: int
) -> None:
    fake.failures = [(status, 0.5)]
    ask = await fake.slash(
        fake.user("reader"), "ask", {"question": "How many people have died in the protests?"}
    )
    await fake.wait_for(lambda f: len(answered(f, ask.token)) >= 2, timeout=60)
    attempts = answered(fake, ask.token)
    assert attempts[0].json == attempts[-1].json  # the same reply, retried by discord.py
    assert attempts[-1].json["embeds"][0]["description"].startswith("**74**")
    assert "Traceback" not in bot.output()


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
        assert (await ask("Who walked out of the meeting?")).startswith("**Delcy Rodriguez**")

        done = await reindex()
        assert "Added 1, changed 0, removed 0" in done["embeds"][0]["description"]
        assert (await ask("When did the harbour reopen?")).startswith("**Monday**")


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
        assert answered(fake, ask.token)[-1].json["embeds"][0]["description"].startswith("**Delcy")
        again = await reindex()
        await fake.wait_for(
            lambda f: any(r.json.get("embeds") for r in answered(f, again.token)), timeout=120
        )
        report = [r for r in answered(fake, again.token) if r.json.get("embeds")][-1]
        assert "Added 12, changed 0, removed 0" in report.json["embeds"][0]["description"]
    assert list((index_dir / "builds").iterdir()) == [(index_dir / "current").resolve()]


def run_bot(tmp_path: Path, **env: str) -> tuple[int, str]:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "bot"],
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
    weights.write_bytes(Settings().reader_weights.read_bytes()[:4096])
    code, output = run_bot(
        tmp_path, NEWSDESK_DISCORD_TOKEN=TOKEN, NEWSDESK_READER_WEIGHTS=str(weights)
    )
    assert code == 1
    assert f"The reader's weights at {weights} are damaged" in output
    assert "git checkout" in output and "python -m index.reader train" in output
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
    """200 questions from 20 users at once, with a cooldown, while an admin reindexes."""
    fake.heartbeat_interval_ms = 500  # a heartbeat that is late means the event loop stalled
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:8]:
        shutil.copy(article, corpus / article.name)
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    async with running_bot(fake, tmp_path, index_dir, corpus, NEWSDESK_COOLDOWN_SECONDS="1"):
        reindex = await fake.slash(fake.user("editor"), "reindex", {}, permissions=MANAGE_GUILD)
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
            deferred = [i for i in interactions if i.token in done and not i.late]
            return len(done & {i.token for i in interactions}) == 200 and all(
                answered(f, i.token) for i in deferred if _deferred(f, i.token)
            )

        await fake.wait_for(settled, timeout=240)
        await fake.wait_for(
            lambda f: [r for r in answered(f, reindex.token) if r.json.get("embeds")], 240
        )

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
                assert replies[0].json["embeds"][0]["description"].startswith("**")
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


def _deferred(fake: FakeDiscord, token: str) -> bool:
    return any(r.path.endswith(f"{token}/callback") and r.json["type"] == 5 for r in fake.requests)


async def test_threads_follow_ups_and_votes_that_outlive_a_restart(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    reader, other, me = fake.user("reader"), fake.user("other"), fake.bot_user

    def in_thread(f: FakeDiscord, thread_id: str) -> list[dict]:
        return [m for m in f.messages.values() if m["channel_id"] == thread_id and m["embeds"]]

    async with running_bot(fake, tmp_path, index_dir, corpus):
        asked = await fake.send_message(
            reader, f"<@{me['id']}> how many votes were needed?", mentions=[me]
        )
        thread = asked["id"]  # a thread opened from a message takes the message's id
        await fake.wait_for(lambda f: in_thread(f, thread))
        assert fake.threads[thread]["name"] == "How many votes were needed?"
        [first] = in_thread(fake, thread)
        assert first["embeds"][0]["title"] == "how many votes were needed?"

        await fake.send_message(reader, "And in the General Assembly?", [], channel_id=thread)
        await fake.wait_for(lambda f: len(in_thread(f, thread)) == 2)
        followup = in_thread(fake, thread)[1]["embeds"][0]["description"]
        assert followup.startswith("**18**") and "simple majority of 18 votes" in followup

        buttons = [c["custom_id"] for row in first["components"] for c in row["components"]]
        answer_id = buttons[0].split(":")[1]
        assert buttons == [f"vote:{answer_id}:1", f"vote:{answer_id}:0"]
        down = await fake.click(reader, first, f"vote:{answer_id}:0")
        await fake.wait_for(
            lambda f: any("What was wrong" in r.json["content"] for r in f.sent(down.token))
        )
        why = next(m for m in fake.messages.values() if "What was wrong" in m["content"])
        reason = await fake.click(reader, why, f"why:{answer_id}", values=["wrong_source"])
        await fake.wait_for(lambda f: "noted" in f.messages[why["id"]]["content"])
        assert fake.interactions[reason.token].responded

    fake.identified.clear()
    async with running_bot(fake, tmp_path, index_dir, corpus):
        up = await fake.click(other, fake.messages[first["id"]], f"vote:{answer_id}:1")
        await fake.wait_for(lambda f: f.interactions[up.token].responded)

    labels = [
        c.get("label")
        for row in fake.messages[first["id"]]["components"]
        for c in row["components"]
    ]
    assert labels == ["1", "1"], "both votes counted, the one cast before the restart too"
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        votes = db.execute("SELECT up, reason FROM votes ORDER BY up").fetchall()
    assert votes == [(0, "wrong_source"), (1, None)]


ARTICLE = (
    "---\ntitle: Quillborough harbour reopens\n---\n"
    "The harbour of Quillborough reopened on Monday after storm repairs."
)


async def test_an_article_added_by_attachment_is_downloaded_and_answers_at_once(
    fake: FakeDiscord, bot: BotProcess, corpus: Path
) -> None:
    """The attachment is downloaded over HTTP from the CDN and indexed at once; who may add
    and which files are refused is tested in simcord (test_bot_experience.py)."""
    editor, reader = fake.user("editor"), fake.user("reader")
    added = await fake.slash(
        editor, "add", {"article": ("../../etc/x.md", ARTICLE.encode())}, permissions=MANAGE_GUILD
    )
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)), 60)
    embed = answered(fake, added.token)[-1].json["embeds"][0]
    assert embed["title"] == "Article added" and "Quillborough" in embed["description"]
    assert (corpus / "quillborough-harbour-reopens.md").read_text() == ARTICLE

    ask = await fake.slash(reader, "ask", {"question": "When did the harbour reopen?"})
    await fake.wait_for(lambda f: answered(f, ask.token))
    assert answered(fake, ask.token)[-1].json["embeds"][0]["description"].startswith("**Monday**")


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
        assert embed["description"].startswith("**More than 12,000**")
        assert "reported 26 Nov 2026" in embed["description"]

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


async def test_the_bot_answers_from_postgres_and_sees_another_process_reindex(
    fake: FakeDiscord, database_url: str, corpus: Path, tmp_path: Path
) -> None:
    """First start builds the index into the database; a CLI build in another process adds
    an article, and the running bot answers from it without a restart."""
    database = {"NEWSDESK_DATABASE_URL": database_url}
    async with running_bot(fake, tmp_path, tmp_path / "unused", corpus, **database):
        reader = fake.user("reader")
        ask = await fake.slash(reader, "ask", {"question": "Who walked out of the meeting?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        embed = answered(fake, ask.token)[-1].json["embeds"][0]
        assert embed["description"].startswith("**Delcy Rodriguez**")
        assert not (tmp_path / "unused").exists()  # nothing written to the index folder

        (corpus / "harbour.md").write_text(ARTICLE)
        builder = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "index", "build", "--corpus", str(corpus),
            env=bot_environment(tmp_path, tmp_path / "unused", corpus, **database),
        )  # fmt: skip
        assert await builder.wait() == 0
        ask = await fake.slash(reader, "ask", {"question": "When did the harbour reopen?"})
        await fake.wait_for(lambda f: answered(f, ask.token))
        embed = answered(fake, ask.token)[-1].json["embeds"][0]
        assert embed["description"].startswith("**Monday**")


async def test_admin_interactions_replayed_without_rights_are_refused(
    fake: FakeDiscord, bot: BotProcess, corpus: Path
) -> None:
    editor, reader = fake.user("editor"), fake.user("reader")
    seed = "venezuela-dares-us-to-send-in-the-marines.txt"

    def refusal(f: FakeDiscord, interaction: Interaction) -> str:
        sent = f.sent(interaction.token)
        return sent[0].json["content"] if sent and sent[0].json["flags"] & 64 else ""

    # An admin's /remove asks to confirm; others press its Remove button.
    asked = await fake.slash(editor, "remove", {"article": seed}, permissions=MANAGE_GUILD)
    await fake.wait_for(lambda f: f.sent(asked.token))
    confirm = fake.messages[fake.interactions[asked.token].message_id]
    [remove] = [
        c["custom_id"]
        for row in confirm["components"]
        for c in row["components"]
        if c["label"] == "Remove"
    ]
    by_reader = await fake.click(reader, confirm, remove)
    await fake.wait_for(lambda f: refusal(f, by_reader))
    assert "Only the admin who asked" in refusal(fake, by_reader)
    # The admin who asked, after losing Manage Server: the rights are checked on the click.
    demoted = await fake.click(editor, confirm, remove)
    await fake.wait_for(lambda f: refusal(f, demoted))
    assert (corpus / seed).exists(), "nothing removed"

    # The admin's /reindex, replayed exactly by a member without rights.
    reindex = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, reindex.token)))
    replayed = await fake.replay(reindex, reader)
    await fake.wait_for(lambda f: refusal(f, replayed))
    assert "Only server managers" in refusal(fake, replayed)
    assert not answered(fake, replayed.token), "no reindex was started"


async def test_a_new_forum_post_is_answered_in_its_thread_when_set_to(
    fake: FakeDiscord, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    reader = fake.user("reader")

    def answers(f: FakeDiscord, thread_id: str) -> list[str]:
        return [
            m["embeds"][0]["description"]
            for m in f.messages.values()
            if m["channel_id"] == thread_id and m["embeds"]
        ]

    async with running_bot(fake, tmp_path, index_dir, corpus, NEWSDESK_FORUM_ANSWERS="true"):
        post = await fake.forum_post(reader, "The walkout", "Who walked out of the meeting?")
        await fake.wait_for(lambda f: answers(f, post["id"]))
        assert answers(fake, post["id"])[0].startswith("**Delcy Rodriguez**")
        await fake.send_message(reader, "Who did she call the boss?", [], channel_id=post["id"])
        await fake.wait_for(lambda f: len(answers(f, post["id"])) == 2)
        assert answers(fake, post["id"])[1].startswith("**Sullivan**")
