"""Following a story: ``/timeline``, and ``/follow`` / ``/following`` / ``/unfollow``.

A timeline is a story's dated entries across the coverage (``index.stories.timeline``), paged with
buttons that outlive a restart. A followed story gets one post in its channel whenever new
coverage adds to it: the "post-follows" job runs after this process's own builds
(``coverage_changed``, dispatched by /add, /reindex and the feed polls) and on a schedule,
which also sees what other processes on the same database built. ``index.stories.follows`` claims
each article in the state database before it is posted, so every new article is announced
at most once per follow, whichever process runs the job.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import follow_embed, following_embed
from bot.checks import channel_managers_only
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS, fit
from bot.views import TimelinePage, send_timeline
from index.errors import IndexUnavailable
from index.ingest.articles import parse_date
from index.ops.jobs import Task
from index.search.scope import Scope
from index.statedb import StateUnavailable
from index.stories.follows import FollowRejected, News

log = logging.getLogger(__name__)


class Stories(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services
        self._checking = asyncio.Lock()

    @app_commands.command(name="timeline", description="A story's dated timeline")
    @app_commands.describe(
        topic="The story, e.g. Kellbridge floods",
        since="Only what is new after this date: 3 September, Monday, 2026-09-03",
    )
    async def timeline(
        self, interaction: discord.Interaction, topic: str, since: str | None = None
    ) -> None:
        when = None
        if since:
            when = await asyncio.to_thread(parse_date, since)
            if when is None:
                await interaction.response.send_message(
                    f"I cannot read “{fit(since, 100)}” as a date; try 3 September or 2026-09-03.",
                    ephemeral=True,
                )
                return
        await interaction.response.defer(thinking=True)
        await send_timeline(
            self.services,
            interaction.followup.send,
            interaction.edit_original_response,
            topic,
            when,
            Scope(interaction.guild_id),
        )

    @app_commands.command(name="follow", description="Post new coverage of a story in this channel")
    @app_commands.describe(topic="The story to follow, e.g. Kellbridge floods")
    @channel_managers_only("follow a story")
    async def follow(self, interaction: discord.Interaction, topic: str) -> None:
        scope = Scope(interaction.guild_id)
        articles = await asyncio.to_thread(self.services.desk.articles, scope)
        so_far = await asyncio.to_thread(
            self.services.desk.timeline, topic, None, None, None, scope
        )
        try:
            follow = await self.services.state_call(
                self.services.follows.follow,
                interaction.guild_id,
                interaction.channel_id,
                topic,
                articles,
                [e.sentence for e in so_far.entries],
            )
        except FollowRejected as reason:
            await interaction.response.send_message(str(reason), ephemeral=True)
            return
        log.info(
            "follow %s: %r in %s by %s",
            follow.id,
            follow.topic,
            follow.channel_id,
            interaction.user.id,
        )
        await interaction.response.send_message(
            f"Following “{fit(follow.topic, 200)}” here: new coverage of it will be posted in "
            "this channel. /timeline shows the story so far; /unfollow stops.",
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="following", description="The stories followed in this server")
    @app_commands.guild_only()
    async def following(self, interaction: discord.Interaction) -> None:
        follows = await self.services.state_call(
            self.services.follows.following, interaction.guild_id
        )
        name = interaction.guild.name if interaction.guild else "this server"
        await interaction.response.send_message(
            embed=following_embed(follows, name), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="unfollow", description="Stop posting a followed story")
    @app_commands.describe(story="The followed story (start typing its topic)")
    @channel_managers_only("unfollow a story")
    async def unfollow(self, interaction: discord.Interaction, story: int) -> None:
        try:
            follow = await self.services.state_call(
                self.services.follows.unfollow, story, interaction.guild_id
            )
        except FollowRejected as reason:
            await interaction.response.send_message(str(reason), ephemeral=True)
            return
        log.info("unfollow %s by %s", follow.id, interaction.user.id)
        await interaction.response.send_message(
            f"No longer following “{fit(follow.topic, 200)}” in <#{follow.channel_id}>.",
            allowed_mentions=NO_MENTIONS,
        )

    @unfollow.autocomplete("story")
    async def _followed(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[int]]:
        if not await self.services.may_manage_channels(interaction):
            return []  # the names of followed stories are for those who may change them
        follows = await self.services.state_call(
            self.services.follows.following, interaction.guild_id
        )
        return [
            app_commands.Choice(name=fit(f.topic, 100), value=f.id)
            for f in follows
            if typed.lower() in f.topic.lower()
        ][:25]

    # Posting followed stories.

    @commands.Cog.listener()
    async def on_coverage_changed(self) -> None:
        await self.bot.defer("post-follows")

    async def post_news(self) -> None:
        """The "post-follows" job (``bot.jobs``): post what new coverage adds to each followed
        story, once across every process (posts go by REST: any process reaches any channel)."""
        async with self._checking:
            try:
                articles = await asyncio.to_thread(self.services.desk.articles)
                timelines = self.services.desk.timelines()
                found = await asyncio.to_thread(self.services.follows.news, timelines, articles)
            except (StateUnavailable, IndexUnavailable) as error:
                log.warning("followed stories not checked: %s", error)
                return
            for news in found:
                await self._post(news)

    async def _post(self, news: News) -> None:
        follow = news.follow
        channel = self.bot.get_partial_messageable(follow.channel_id, guild_id=follow.guild_id)
        try:
            timeline_id = await self.services.state_call(
                self.services.state.keep_timeline, follow.topic, None
            )
            view = discord.ui.View(timeout=None).add_item(
                TimelinePage(timeline_id, 1, "Timeline", opens=True)
            )
        except StateUnavailable:
            view = discord.ui.View()
        try:
            await channel.send(embed=follow_embed(news), view=view, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.warning("follow %s: could not post to %s (%s)", follow.id, follow.channel_id, error)
            return
        log.info("follow %s: posted %d new entries to %s", follow.id, news.count, follow.channel_id)


async def setup(bot: NewsdeskBot) -> None:
    stories = Stories(bot)
    every = bot.settings.follow_check_seconds
    bot.tasks.append(Task("post-follows", stories.post_news, every=every))
    await bot.add_cog(stories)
