"""Managing the coverage: ``/reindex`` (operators only), ``/add`` (a file or a web page) and
``/remove`` (admins), and ``/sources``.

Each server has its own coverage beside the shared one (``index.ingest.collections``): a
server's admins add to and remove from their server's own; the operators
(``Services.is_operator``) add to and remove from the shared coverage, and reindex. Rights are
checked by the bot on every call and every confirm button, not only by Discord hiding the
commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import added_embed, progress_text, report_embed, sources_embed
from bot.checks import admin_only, operators_only
from bot.client import NewsdeskBot
from bot.formatting import MESSAGE_LIMIT, NO_MENTIONS, fit, safe
from bot.views import Confirm
from index.errors import IndexUnavailable
from index.ingest.collections import refusal, server_of
from index.ingest.feeds import fetch_urls
from index.ingest.fetching import FetchPolicy
from index.ops.desk import ArticleRejected, Desk, ReindexRunning
from index.ops.jobs import Task
from index.search.build import BuildProgress, BuildReport
from index.search.scope import Scope
from index.search.storage.base import ArticleRecord, BuildRunning

log = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds between status edits: well inside Discord's rate limits
BUSY = "A reindex is already running; try again when it has finished."


class Admin(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="reindex", description="Rebuild the index from the articles folder")
    @app_commands.describe(full="Re-embed every article, not only new or changed ones")
    @operators_only("reindex every server's coverage")
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        """A job (``bot.jobs``): it runs in whichever process takes it, once, and edits this
        reply with its progress and its report; a second one waits for the first."""
        await interaction.response.defer(thinking=True)
        deferred = await self.bot.defer(
            "reindex", full=full, application_id=interaction.application_id,
            token=interaction.token,
        )  # fmt: skip
        log.info("reindex (full=%s) asked by %s: %s", full, interaction.user.id, deferred)
        if deferred == "queued":
            await interaction.edit_original_response(
                content="A reindex is running; this one is queued and starts when it ends. "
                "I keep answering from the current index meanwhile."
            )
        elif deferred == "already waiting":
            await interaction.edit_original_response(
                content="A reindex is running and another is already waiting to follow it; "
                "that one will take in everything, so this one was not queued."
            )

    async def run_reindex(
        self, full: bool = False, application_id: int | None = None, token: str | None = None
    ) -> None:
        """The "reindex" job: rebuild, showing progress on the admin's reply (through its
        interaction's webhook, valid 15 minutes, from whichever process runs the job)."""

        async def show(**message: Any) -> None:
            if application_id and token:
                with contextlib.suppress(discord.HTTPException):
                    await edit_original(self.bot, application_id, token, **message)

        log.info("reindex job running here (full=%s)", full)
        desk = self.services.desk
        current: dict[str, BuildProgress] = {}  # written by the build thread, read here
        job = asyncio.create_task(
            asyncio.to_thread(_reindex, desk, full, lambda p: current.update(latest=p))
        )
        shown = ""
        while not job.done():
            await asyncio.wait({job}, timeout=PROGRESS_EVERY)
            text = progress_text(current["latest"]) if current else "Reindexing: reading articles…"
            if not job.done() and text != shown:
                shown = text
                await show(content=text)
        try:
            report = job.result()
        except Exception as error:
            log.exception("reindex failed; the previous index keeps answering")
            await show(content=_failure("Reindex", error))
            return
        await show(content=None, embed=report_embed(report))
        self.bot.dispatch("coverage_changed")

    @app_commands.command(name="add", description="Add an article to the coverage")
    @app_commands.describe(
        article="A .txt, .md, .html or .json file holding the article",
        url="Or the address of the article's web page",
    )
    @admin_only("add articles")
    async def add(
        self,
        interaction: discord.Interaction,
        article: discord.Attachment | None = None,
        url: str | None = None,
    ) -> None:
        if (article is None) == (url is None):
            await interaction.response.send_message(
                "Attach an article file or give its web address (url:), one of the two.",
                ephemeral=True,
            )
            return
        if url is not None:
            await self._add_url(interaction, url.strip())
            return
        assert article is not None
        limit = self.services.settings.max_upload_bytes
        if article.size > limit:  # refused before downloading a byte
            await interaction.response.send_message(
                f"`{safe(article.filename)}` is {article.size:,} bytes; the limit is {limit:,}.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await interaction.response.defer(thinking=True)
        log.info("/add %r (%d bytes) from %s", article.filename, article.size, interaction.user.id)

        server = await self._collection(interaction)

        async def add_file() -> tuple[list[ArticleRecord], BuildReport]:
            data = await article.read()
            return await asyncio.to_thread(
                self.services.desk.add_article, article.filename, data, server
            )

        await self._show_added(interaction, add_file())

    async def _add_url(self, interaction: discord.Interaction, url: str) -> None:
        """Fetched through the SSRF guard; a refusal is private and saves nothing."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        log.info("/add url %r from %s", url, interaction.user.id)
        fetched = await fetch_urls(FetchPolicy.from_settings(self.services.settings), [url])
        if fetched.refused:
            reason = fetched.refused[0][1]
            await interaction.edit_original_response(
                content=f"Not added: {fit(reason, 1800)}.", allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.edit_original_response(content="Fetched; indexing it now…")
        job = asyncio.to_thread(
            self.services.desk.add_requested,
            self.services.feeds,
            fetched.articles,
            await self._collection(interaction),
        )
        await self._show_added(interaction, job)

    async def _collection(self, interaction: discord.Interaction) -> int | None:
        """Where what this admin adds goes: the shared coverage for an operator, else their
        server's own."""
        return None if await self.services.is_operator(interaction) else interaction.guild_id

    async def _show_added(
        self,
        interaction: discord.Interaction,
        adding: Awaitable[tuple[list[ArticleRecord], BuildReport]],
    ) -> None:
        """Wait for an article to be indexed, then show it, or why it was not added."""
        try:
            records, report = await adding
        except ArticleRejected as reason:
            await interaction.edit_original_response(
                content=f"Not added: {fit(str(reason), 1800)}", allowed_mentions=NO_MENTIONS
            )
        except ReindexRunning:
            await interaction.edit_original_response(content=BUSY)
        except Exception as error:
            await self._failed(interaction, "Adding the article", error)
        else:
            here = await asyncio.to_thread(self.services.desk.articles, Scope(interaction.guild_id))
            await interaction.edit_original_response(
                content=None,
                embed=added_embed(records, report, len(here)),
                allowed_mentions=NO_MENTIONS,
            )
            self.bot.dispatch("coverage_changed")

    @app_commands.command(name="remove", description="Remove an article from the coverage")
    @app_commands.describe(article="The article's title, as /sources lists it")
    @admin_only("remove articles")
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        scope = Scope(interaction.guild_id)  # never another server's: not even its title
        records = {a.id: a for a in await asyncio.to_thread(self.services.desk.articles, scope)}
        record = records.get(article)
        if record is None:
            await interaction.response.send_message(
                "I have no such article; pick one from the list as you type.", ephemeral=True
            )
            return

        async def remove(confirmed: discord.Interaction) -> None:
            operator = await self.services.is_operator(confirmed)
            try:
                removed, report = await asyncio.to_thread(
                    self.services.desk.remove_article, record.id, confirmed.guild_id, operator
                )
            except (ArticleRejected, ReindexRunning) as reason:
                text = BUSY if isinstance(reason, ReindexRunning) else fit(str(reason), 1800)
                await confirmed.edit_original_response(content=f"Not removed: {text}")
                return
            except Exception as error:
                await self._failed(confirmed, "Removing the article", error)
                return
            if removed.url:  # a feed bringing it again does not bring it back
                self.services.feeds.remember_removed(removed.url, server_of(removed.id))
            log.info("removed %s at the request of %s", removed.id, confirmed.user.id)
            here = await asyncio.to_thread(self.services.desk.articles, scope)
            await confirmed.edit_original_response(
                content=f"Removed **{fit(removed.title, 300)}** ({removed.passages} passages). "
                f"{len(here)} articles answer here now.",
                allowed_mentions=NO_MENTIONS,
            )

        await interaction.response.send_message(
            f"Remove **{fit(record.title, 300)}** ({record.passages} passages) from the coverage? "
            "Its file is moved aside, not deleted.",
            view=Confirm(interaction.user.id, self.services.is_admin, remove),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @remove.autocomplete("article")
    async def _titles(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        if not await self.services.is_admin(interaction):
            return []  # titles are public, but the command is not theirs to use
        typed = typed.lower()
        operator = await self.services.is_operator(interaction)
        server = interaction.guild_id
        articles = await asyncio.to_thread(self.services.desk.articles, Scope(server))
        mine = [a for a in articles if not refusal(a.id, server, operator)]
        matches = [a for a in mine if typed in a.title.lower()][:25]  # Discord shows 25
        # A choice's value is limited to 100 characters; ids are paths inside the corpus.
        return [
            app_commands.Choice(name=a.title[:100], value=a.id) for a in matches if len(a.id) <= 100
        ]

    @app_commands.command(name="sources", description="List the indexed articles")
    @app_commands.describe(page="Page number, when the list is long")
    async def sources(self, interaction: discord.Interaction, page: int = 1) -> None:
        """The articles questions here are answered from: the shared coverage, and in a
        server its own (marked as such)."""
        articles = await asyncio.to_thread(self.services.desk.articles, Scope(interaction.guild_id))
        await interaction.response.send_message(
            embed=sources_embed(articles, page), allowed_mentions=NO_MENTIONS
        )

    async def _failed(self, interaction: discord.Interaction, what: str, error: Exception) -> None:
        if isinstance(error, IndexUnavailable):  # the database away: said, not a bug
            log.warning("%s failed: %s", what, error)
        else:
            log.error("%s failed", what, exc_info=error)
        await interaction.edit_original_response(
            content=_failure(what, error), allowed_mentions=NO_MENTIONS
        )


async def edit_original(bot: NewsdeskBot, application_id: int, token: str, **fields: Any) -> None:
    """Edit an interaction's first reply from its id and token alone, from any process: what
    ``Interaction.edit_original_response`` does (discord.py 2.7, pinned), for a job that
    runs where the command did not."""
    from discord.http import handle_message_parameters
    from discord.webhook.async_ import async_context

    http = bot.http
    with handle_message_parameters(allowed_mentions=NO_MENTIONS, **fields) as params:
        await async_context.get().edit_original_interaction_response(
            application_id,
            token,
            session=http._HTTPClient__session,  # type: ignore[attr-defined]  # as Interaction does
            proxy=http.proxy,
            proxy_auth=http.proxy_auth,
            payload=params.payload,
            multipart=params.multipart,
            files=params.files,
        )


def _failure(what: str, error: Exception) -> str:
    return (
        f"{what} failed: {fit(str(error), MESSAGE_LIMIT - 100)}\n"
        "The previous index is still answering questions."
    )


# How long a reindex job waits for a build this process or another is running (an /add, a
# feed poll) before it gives up, and how often it looks.
BUSY_WAIT_SECONDS = 600.0
BUSY_POLL_SECONDS = 1.0


def _reindex(desk: Desk, full: bool, on_progress: Callable[[BuildProgress], None]) -> BuildReport:
    """Rebuild once the build running now (here, or another process's) has ended."""
    waited_until = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        try:
            return desk.reindex(full, on_progress)
        except (ReindexRunning, BuildRunning):
            if time.monotonic() > waited_until:
                raise
            time.sleep(BUSY_POLL_SECONDS)


async def setup(bot: NewsdeskBot) -> None:
    admin = Admin(bot)
    bot.tasks.append(Task("reindex", admin.run_reindex))
    await bot.add_cog(admin)
