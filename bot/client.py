"""The bot: a thin discord.py client that loads the desk and delegates to its cogs."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import NotAdmin
from bot.formatting import NO_MENTIONS
from bot.state import BotState, ServerSettings
from bot.views import ReasonSelect, VoteButton
from index.desk import Desk
from index.feedback import FeedbackLog
from index.feeds import FeedBook
from index.settings import Settings
from index.statedb import open_state

log = logging.getLogger(__name__)

COGS = ("bot.cogs.ask", "bot.cogs.admin", "bot.cogs.server", "bot.cogs.feedback", "bot.cogs.feeds")


class NewsdeskBot(commands.Bot):
    def __init__(self, settings: Settings, desk: Desk | None = None, **sharding: Any) -> None:
        # A text bot: no voice, so no start-up warnings about voice libraries it lacks.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        # Needed to read "@Newsdesk who walked out?"; slash commands work without it.
        intents.message_content = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=NO_MENTIONS,  # quoted text never pings anyone
            help_command=None,
            **sharding,
        )
        self.settings = settings
        # The models load before logging in (0.5 s once exported: index/onnxcache.py), so an
        # unusable model or missing or damaged reader weights stop the start with one line.
        self.desk = desk or Desk(settings)
        self._state_db = open_state(settings.state_location)  # checked once, shared by all
        # Settings reads come before a question's first response (3 s): their own threads, not
        # a place in the default pool's queue behind the answers being computed.
        self._settings_reads = ThreadPoolExecutor(2, thread_name_prefix="settings")
        self.state = BotState(self._state_db, settings)
        self.feedback = FeedbackLog(self._state_db)
        self.feeds = FeedBook(self._state_db)
        self.feeds.use_settings(settings.feeds)

    async def setup_hook(self) -> None:
        log.info("loading the index (the first start builds it from the corpus)")
        await asyncio.to_thread(self.desk.open)
        # Vote buttons on answers sent before this start keep working.
        self.add_dynamic_items(VoteButton, ReasonSelect)
        self.tree.on_error = self.command_failed
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

    async def server(self, guild_id: int | None) -> ServerSettings:
        """A server's settings, read from the state database in a worker thread: a database
        that hangs rather than refuses must not stall the gateway and every other member."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._settings_reads, self.state.server, guild_id)

    async def is_admin(self, interaction: discord.Interaction) -> bool:
        """Checked on every admin path, whatever Discord's command settings say: members with
        Manage Server, ids in NEWSDESK_ADMIN_IDS, and holders of the server's admin role."""
        user = interaction.user
        if user.id in self.settings.admin_ids:
            return True
        if not isinstance(user, discord.Member):
            return False  # direct messages never administer anything
        admin_role = (await self.server(interaction.guild_id)).admin_role_id
        if any(r.id in self.settings.admin_ids or r.id == admin_role for r in user.roles):
            return True
        # The invoker's permissions as Discord resolved them for this interaction.
        return interaction.permissions.manage_guild

    async def command_failed(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Every command's errors: a member who is not an admin is refused privately; a command
        that raised is logged with its traceback and the member gets a short private apology
        instead of Discord's "The application did not respond"."""
        name = interaction.command.name if interaction.command else "?"
        if isinstance(error, NotAdmin):
            log.warning("refused /%s from %s: not an admin", name, interaction.user.id)
            text = (
                f"Only server managers (or the admins set with /settings or NEWSDESK_ADMIN_IDS) "
                f"can {error.what}."
            )
        else:
            log.error("/%s failed", name, exc_info=error)
            text = "Something went wrong with that command; it has been logged. Please try again."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException:
            log.warning("could not tell the member about /%s", name)

    async def close(self) -> None:
        await super().close()
        self._settings_reads.shutdown(wait=False)
        self._state_db.close()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are questions, handled by the Ask cog."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))


class ShardedNewsdeskBot(NewsdeskBot, commands.AutoShardedBot):
    """The same bot running NEWSDESK_SHARD_IDS (all when unset) of NEWSDESK_SHARD_COUNT
    shards: several such processes on one database serve one bot."""

    def __init__(self, settings: Settings, desk: Desk | None = None) -> None:
        shard_ids = sorted(settings.shard_ids) or None
        super().__init__(settings, desk, shard_count=settings.shard_count, shard_ids=shard_ids)

    async def on_ready(self) -> None:
        shards, count = sorted(self.shards), self.shard_count
        log.info(
            "ready as %s in %d servers, shards %s of %s", self.user, len(self.guilds), shards, count
        )


def newsdesk_bot(settings: Settings, desk: Desk | None = None) -> NewsdeskBot:
    """The bot these settings ask for: sharded when NEWSDESK_SHARD_COUNT is set."""
    if settings.shard_count is not None:
        return ShardedNewsdeskBot(settings, desk)
    return NewsdeskBot(settings, desk)
