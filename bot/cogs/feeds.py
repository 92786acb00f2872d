"""News feeds: polled on a schedule into the coverage (the "poll-feeds" job, once a period
across every process), and ``/feeds`` for a server's admins.

The feeds of ``NEWSDESK_FEEDS`` serve every server; a server's admins add their own with
``/feeds add``, which polls the new feed at once. Every feed shows when it last ran, what it
added and why it failed (``/feeds list``).
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import feeds_embed
from bot.checks import admin_only
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS, fit
from index.ingest.feeds import Feed, FeedRejected, FeedResult, poll
from index.ingest.fetching import FetchPolicy
from index.ops.desk import ReindexRunning
from index.ops.jobs import Task
from index.statedb import StateUnavailable

log = logging.getLogger(__name__)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Feeds(commands.GroupCog, group_name="feeds", group_description="The news feeds polled"):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services
        self.policy = FetchPolicy.from_settings(bot.settings)
        self._polling = asyncio.Lock()  # the job and /feeds add never poll at once here

    async def poll_all(self) -> None:
        """The "poll-feeds" job (``bot.jobs``): every feed, once a period, whichever process
        runs it; a poll that fails leaves the index as it was and its entries for next time."""
        feeds = await asyncio.to_thread(self.services.feeds.every)
        if not feeds:
            return
        try:
            await self._poll(feeds)
        except ReindexRunning:
            log.info("feed poll not indexed: a reindex was running; its entries come next time")
        except Exception:
            log.exception("feed poll failed; the previous index keeps answering")

    async def _poll(self, feeds: list[Feed]) -> list[FeedResult]:
        async with self._polling:
            results = await poll(self.policy, self.services.feeds, feeds)
            report = await asyncio.to_thread(
                self.services.desk.add_polled, self.services.feeds, results
            )
        added = report and len(report.added) + len(report.changed)
        self.services.monitoring.polled(len(results), sum(1 for r in results if r.error))
        log.info("polled %d feeds: %s new or updated articles", len(feeds), added or "no")
        if added:
            self.bot.dispatch("coverage_changed")
        return results

    @app_commands.command(name="list", description="The feeds polled, and how each last went")
    @admin_only("see the feeds")
    async def list_(self, interaction: discord.Interaction) -> None:
        feeds = await self.services.state_call(self.services.feeds.listed, interaction.guild_id)
        await interaction.response.send_message(
            embed=feeds_embed(feeds, self.services.settings.feed_interval_minutes),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="add", description="Poll an RSS or Atom feed into the coverage")
    @app_commands.describe(url="The feed's address (http or https)")
    @admin_only("add feeds")
    async def add(self, interaction: discord.Interaction, url: str) -> None:
        assert interaction.guild_id is not None  # guild_only
        try:
            feed = await self.services.state_call(
                self.services.feeds.add, url.strip(), interaction.guild_id, interaction.user.id
            )
        except FeedRejected as reason:
            await interaction.response.send_message(f"Not added: {reason}", ephemeral=True)
            return
        log.info("feed %s added by %s", feed.url, interaction.user.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            (result,) = await self._poll([feed])
        except ReindexRunning:
            text = "Added. A reindex is running, so its stories come with the next poll."
        except Exception as error:
            log.exception("first poll of %s failed", feed.url)
            text = f"Added, but its first poll failed: {fit(str(error), 1500)}"
        else:
            text = _first_poll(result)
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="remove", description="Stop polling a feed")
    @app_commands.describe(feed="The feed, as /feeds list shows it")
    @admin_only("remove feeds")
    async def remove(self, interaction: discord.Interaction, feed: int) -> None:
        assert interaction.guild_id is not None
        try:
            removed = await self.services.state_call(
                self.services.feeds.remove, feed, interaction.guild_id
            )
        except FeedRejected as reason:
            await interaction.response.send_message(f"Not removed: {reason}", ephemeral=True)
            return
        log.info("feed %s removed by %s", removed.url, interaction.user.id)
        await interaction.response.send_message(
            f"No longer polling <{fit(removed.url, 1800)}>. Its articles stay in the coverage; "
            "/remove takes one out.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @remove.autocomplete("feed")
    async def _feeds(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[int]]:
        if not await self.services.is_admin(interaction):
            return []
        try:
            feeds = await self.services.state_call(self.services.feeds.listed, interaction.guild_id)
        except StateUnavailable:
            return []  # the command itself will say why
        return [
            app_commands.Choice(name=f.url[:100], value=f.id)
            for f in feeds
            if f.guild_id is not None and typed.lower() in f.url.lower()
        ][:25]


def _first_poll(result: FeedResult) -> str:
    if result.error:
        return f"Added, but it could not be read: {fit(result.error, 1500)}. I will keep trying."
    taken = len(result.articles)
    text = f"Added. Its first poll indexed {taken} {'story' if taken == 1 else 'stories'}."
    if result.failed:
        text += f" {len(result.failed)} could not be taken; first: {fit(result.failed[0][1], 500)}"
    return text


async def setup(bot: NewsdeskBot) -> None:
    feeds = Feeds(bot)
    every = bot.settings.feed_interval_minutes * 60
    bot.tasks.append(Task("poll-feeds", feeds.poll_all, every=every))
    await bot.add_cog(feeds)
