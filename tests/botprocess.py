"""Running the real bot process (``python -m bot``) against the fake Discord, for the process
tests (test_bot_process.py, test_bot_session.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fakediscord import TOKEN, FakeDiscord, Recorded

from .conftest import ROOT

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


def deferred(fake: FakeDiscord, token: str) -> bool:
    return any(r.path.endswith(f"{token}/callback") and r.json["type"] == 5 for r in fake.requests)


def in_thread(fake: FakeDiscord, thread_id: str) -> list[dict]:
    return [m for m in fake.messages.values() if m["channel_id"] == thread_id and m["embeds"]]


ARTICLE = (
    "---\ntitle: Quillborough harbour reopens\n---\n"
    "The harbour of Quillborough reopened on Monday after storm repairs."
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
