"""Admin and browsing commands: ``/reindex`` (admins only) and ``/sources``."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NewsdeskBot
from bot.formatting import (
    MESSAGE_LIMIT,
    NO_MENTIONS,
    fit,
    progress_text,
    report_embed,
    sources_embed,
)
from index.desk import ReindexRunning
from index.indexer import BuildProgress

log = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds between status edits: well inside Discord's rate limits


def is_admin(interaction: discord.Interaction, admin_ids: frozenset[int]) -> bool:
    """Checked by the bot on every admin path, whatever Discord's command settings say."""
    user = interaction.user
    if user.id in admin_ids:
        return True
    if not isinstance(user, discord.Member):
        return False  # direct messages never administer anything
    if any(role.id in admin_ids for role in user.roles):
        return True
    # The invoker's permissions as Discord resolved them for this interaction.
    return interaction.permissions.manage_guild


class Admin(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @app_commands.command(name="reindex", description="Rebuild the index from the articles folder")
    @app_commands.describe(full="Re-embed every article, not only new or changed ones")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def reindex(self, interaction: discord.Interaction, full: bool = False) -> None:
        desk = self.bot.desk
        if not is_admin(interaction, self.bot.settings.admin_ids):
            log.warning("refused /reindex from %s: not an admin", interaction.user.id)
            await interaction.response.send_message(
                "Only server managers (or ids listed in NEWSDESK_ADMIN_IDS) can reindex.",
                ephemeral=True,
            )
            return
        if desk.reindexing:
            await interaction.response.send_message(
                "A reindex is already running; I will keep answering from the current index "
                "until it finishes.",
                ephemeral=True,
            )
            return
        await interaction.response.defer(thinking=True)
        log.info("reindex (full=%s) started by %s", full, interaction.user.id)
        current: dict[str, BuildProgress] = {}  # written by the build thread, read here
        job = asyncio.create_task(
            asyncio.to_thread(desk.reindex, full, lambda p: current.update(latest=p))
        )
        shown = ""
        while not job.done():
            await asyncio.wait({job}, timeout=PROGRESS_EVERY)
            text = progress_text(current["latest"]) if current else "Reindexing: reading articles…"
            if not job.done() and text != shown:
                shown = text
                await interaction.edit_original_response(content=text)
        try:
            report = job.result()
        except ReindexRunning:
            await interaction.edit_original_response(
                content="A reindex is already running; this one was not started."
            )
            return
        except Exception as error:
            log.exception("reindex failed")
            await interaction.edit_original_response(
                content=f"Reindex failed: {fit(str(error), MESSAGE_LIMIT - 100)}\n"
                "The previous index is still answering questions.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await interaction.edit_original_response(content=None, embed=report_embed(report))

    @app_commands.command(name="sources", description="List the indexed articles")
    @app_commands.describe(page="Page number, when the list is long")
    async def sources(self, interaction: discord.Interaction, page: int = 1) -> None:
        articles = await asyncio.to_thread(self.bot.desk.articles)
        await interaction.response.send_message(
            embed=sources_embed(articles, page), allowed_mentions=NO_MENTIONS
        )


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Admin(bot))
