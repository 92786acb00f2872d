"""The bot: a thin discord.py client that loads the desk and delegates to its cogs."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.formatting import NO_MENTIONS
from index.desk import Desk
from index.settings import Settings

log = logging.getLogger(__name__)

COGS = ("bot.cogs.ask", "bot.cogs.admin")


class NewsdeskBot(commands.Bot):
    def __init__(self, settings: Settings, desk: Desk | None = None) -> None:
        intents = discord.Intents.default()
        # Needed to read "@Newsdesk who walked out?"; slash commands work without it.
        intents.message_content = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_MENTIONS,  # quoted text never pings anyone
            help_command=None,
        )
        self.settings = settings
        self._desk = desk

    @property
    def desk(self) -> Desk:
        assert self._desk is not None, "setup_hook has not run"
        return self._desk

    async def setup_hook(self) -> None:
        if self._desk is None:
            log.info("loading the model and the index (first start builds it from the corpus)")
            self._desk = await asyncio.to_thread(Desk, self.settings)
        await asyncio.to_thread(self._desk.open)
        for cog in COGS:
            await self.load_extension(cog)
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (they may take a while to appear)", len(synced))

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are questions, handled by the Ask cog."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))
