"""Shared fixtures: the real packaged model and a real index of ``seeds/`` on disk, built once."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path

import discord
import pytest
import simcord

from bot.client import NewsdeskBot
from bot.services import Services
from bot.settings import BotSettings
from index.ops.desk import Desk
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.settings import Settings
from localpg import PostgresServer

from .newssite import FLOODS_MONDAY, NewsSite

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"


def unprivileged() -> list[str]:
    """A command prefix that runs a process without root's power to write anywhere, so that
    folder permissions bind it (the tests here often run as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("runs as root, and setpriv (util-linux) is missing to drop the override")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


TIERS = ("unit", "simcord", "process", "eval", "crash", "torch")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked with no tier is a unit test, so ``-m "unit or simcord"`` selects it."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(env_file=None)


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return Embedder.from_settings(settings)


@pytest.fixture(scope="session")
def seed_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, settings: Settings
) -> Path:
    """An index of the seed corpus. Read-only for tests: copy it before changing anything."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build(SEEDS, index_dir, embedder, BuildOptions.from_settings(settings))
    return index_dir


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the seed corpus."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


# The bot in simcord (see test_bot_simcord.py and test_bot_experience.py).


@pytest.fixture
def bot_settings(settings, seed_index: Path, corpus: Path, tmp_path: Path):
    """Settings with a writable corpus and index copied from the seed ones."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    return replace(
        BotSettings(**{f.name: getattr(settings, f.name) for f in fields(settings)}),
        corpus_dir=corpus,
        index_dir=index_dir,
        state_db=tmp_path / "state.sqlite",
        cooldown_seconds=0,
    )


@pytest.fixture
def simcord_bot(bot_settings, embedder):
    return NewsdeskBot(Services.build(bot_settings, Desk(bot_settings, embedder)))


@pytest.fixture
def server(simcord_env, simcord_bot):
    guild = simcord_env.create_guild("Newsroom")
    # The bot's home server (NEWSDESK_GUILD_ID): its admins are the operators.
    services = simcord_bot.services
    services.settings = replace(services.settings, guild_id=guild.id)
    channel = guild.create_text_channel("general")
    reader = guild.add_member(simcord_env.create_user("reader"))
    editors = guild.create_role("editors", permissions=discord.Permissions(manage_guild=True))
    editor = guild.add_member(simcord_env.create_user("editor"), roles=[editors])
    return guild, channel, reader, editor


def lead(description: str) -> str:
    """The short answer an answer embed leads with: sure ("**74**") or not ("Probably
    **74**")."""
    match = re.match(r"(?:Probably )?\*\*(.+?)\*\*", description)
    assert match, f"no short answer leads {description!r}"
    return match.group(1)


def callbacks(env: simcord.Env) -> list[dict]:
    """The interaction responses the bot sent, in order."""
    return [e.json for e in env.http_requests if e.path.endswith("/callback")]


def embed_of(result: simcord.InteractionResult) -> discord.Embed:
    messages = [m for m in [result.response, *result.followups] if m and m.embeds]
    assert messages, f"no embed in {result!r}"
    return messages[-1].embeds[0]


def reply_of(result: simcord.InteractionResult) -> simcord.results.ResponseMessage:
    """The last message the bot sent for an interaction (a deferred reply edits the first)."""
    messages = [m for m in [result.response, *result.followups] if m]
    assert messages, f"no reply in {result!r}"
    return messages[-1]


@pytest.fixture
def news_site() -> Iterator[NewsSite]:
    """A news site on 127.0.0.1 (tests/newssite.py) with one story in its feeds."""
    site = NewsSite()
    site.start()
    site.publish(FLOODS_MONDAY)
    yield site
    site.stop()


# A real PostgreSQL (localpg/): one server for the run, a new database per test.


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    return postgres.database(f"t{next(_databases)}")


_databases = itertools.count()
