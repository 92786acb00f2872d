"""``/gaps`` (admins): what members asked that the coverage does not answer well.

The questions of a period that were not covered, unsure or voted down, grouped by meaning,
largest group first (``index.ops.gaps``), each with what the coverage says to it now; paged, and
as a CSV file on request. Counts only: no member is named, and direct messages are never
recorded.
"""

from __future__ import annotations

import asyncio
import io
import re
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import GAPS_PER_PAGE, gaps_embed
from bot.checks import NotAdmin, admin_only
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS
from bot.services import Services, services_of
from bot.views import button_label
from index.ops.gaps import Gap, gaps_of, to_csv, with_coverage
from index.search.scope import Scope

# Groups checked against the coverage for the CSV file (an answer each, ~25 ms).
CSV_CHECKED = 100


class Gaps(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(
        name="gaps", description="What members asked that the coverage does not answer"
    )
    @app_commands.describe(
        days="How far back to look (default 30)",
        channel="Only questions asked in this channel (default: the whole server)",
        csv="Attach the whole report as a CSV file",
    )
    @admin_only("see the coverage gaps")
    async def gaps(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, 3650] = 30,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        csv: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel_id = channel.id if channel else 0
        gaps = await gaps_now(self.services, interaction.guild_id, days, channel_id)
        guild_id = interaction.guild_id
        message = await gaps_message(self.bot, self.services, gaps, days, channel_id, 1, guild_id)
        if csv:  # the coverage's word on the largest groups too, not only the page's
            ask = partial(self.services.desk.ask, scope=Scope(guild_id))
            await asyncio.to_thread(with_coverage, gaps[:CSV_CHECKED], ask)
            data = to_csv(gaps).encode()
            message["file"] = discord.File(io.BytesIO(data), filename="coverage-gaps.csv")
        await interaction.followup.send(**message, ephemeral=True)


class GapsPage(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"gaps:(?P<days>\d+):(?P<channel>\d+):(?P<page>\d+)",
):
    """◀ / ▶ under the gaps report; admins only, checked at every click."""

    def __init__(self, days: int, channel_id: int, page: int, label: str, disabled: bool = False):
        self.days, self.channel_id, self.page = days, channel_id, page
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
                custom_id=f"gaps:{days}:{channel_id}:{page}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> GapsPage:
        return cls(
            int(match["days"]), int(match["channel"]), int(match["page"]), button_label(item)
        )

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if await services_of(interaction).is_admin(interaction):
            return True
        raise NotAdmin("see the coverage gaps")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        services = services_of(interaction)
        gaps = await gaps_now(services, interaction.guild_id, self.days, self.channel_id)
        message = await gaps_message(
            interaction.client,
            services,
            gaps,
            self.days,
            self.channel_id,
            self.page,
            interaction.guild_id,
        )
        await interaction.edit_original_response(**message)


async def gaps_now(
    services: Services, guild_id: int | None, days: int, channel_id: int
) -> list[Gap]:
    """The report's groups: the rows read from the state database (given up like every state
    call, should it hang), grouped away from the event loop."""
    asked = await services.state_call(services.questions.asked, guild_id, days, channel_id or None)
    return await asyncio.to_thread(gaps_of, asked)


async def gaps_message(
    client: discord.Client,
    services: Services,
    gaps: list[Gap],
    days: int,
    channel_id: int,
    page: int,
    guild_id: int | None,
) -> dict:
    """A page of the report, each of its groups checked against the server's coverage as it
    is now (its own and the shared: "answered now" never from another server's)."""
    pages = max(1, -(-len(gaps) // GAPS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = gaps[(page - 1) * GAPS_PER_PAGE : page * GAPS_PER_PAGE]
    await asyncio.to_thread(with_coverage, shown, partial(services.desk.ask, scope=Scope(guild_id)))
    channel = client.get_channel(channel_id) if channel_id else None
    named = channel if isinstance(channel, discord.abc.GuildChannel | discord.Thread) else None
    where = f"#{named.name}" if named is not None else "whole server"
    view = discord.ui.View(timeout=None)
    if pages > 1:
        view.add_item(GapsPage(days, channel_id, page - 1, "◀", disabled=page == 1))
        view.add_item(GapsPage(days, channel_id, page + 1, "▶", disabled=page == pages))
    return {
        "embed": gaps_embed(gaps, page, days, where),
        "view": view,
        "allowed_mentions": NO_MENTIONS,
    }


async def setup(bot: NewsdeskBot) -> None:
    bot.add_dynamic_items(GapsPage)
    await bot.add_cog(Gaps(bot))
