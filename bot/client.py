"""The bot: a thin discord.py client that loads the desk and delegates to its cogs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import NotAdmin
from bot.formatting import NO_MENTIONS
from bot.monitor import Monitor
from bot.services import Services
from bot.settings import BotSettings
from bot.views import DATABASE_AWAY, ReasonSelect, TimelinePage, VoteButton
from index.ops.jobs import Deferred, Jobs, Task, jobs_for
from index.settings import Settings
from index.statedb import StateUnavailable

if TYPE_CHECKING:  # psycopg only for a sharded process on a database
    from bot.shards import IdentifyGate, ShardGuard

log = logging.getLogger(__name__)


COGS = (
    "bot.cogs.ask",
    "bot.cogs.admin",
    "bot.cogs.server",
    "bot.cogs.feedback",
    "bot.cogs.feeds",
    "bot.cogs.stories",
    "bot.cogs.gaps",
)


# How often a sharded process checks that it still holds its shards' locks.
GUARD_CHECK_SECONDS = 5.0


class NewsdeskBot(commands.Bot):
    def __init__(
        self,
        services: Services,
        guard: ShardGuard | None = None,
        jobs: Callable[[Settings, Sequence[Task]], Jobs] = jobs_for,
        **sharding: Any,
    ) -> None:
        """``services``: built once by main (``Services.build``); ``guard``: the shards' locks
        in the database, when sharded on one; ``jobs``: makes the queue (``index.ops.jobs``)
        where the settings say, once the cogs whose work it runs are loaded."""
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
        self.services = services
        self.guard = guard
        self.exit_code = 0
        self.jobs: Jobs | None = None
        # What the jobs queue runs, each added by the cog whose work it is, as it loads.
        self.tasks: list[Task] = []
        self._make_jobs = jobs
        self.monitor = (
            Monitor(self, self.settings.metrics_host, self.settings.metrics_port)
            if self.settings.metrics_port
            else None
        )

    @property
    def settings(self) -> BotSettings:
        return self.services.settings

    async def defer(self, name: str, **arguments: Any) -> Deferred:
        """Ask the jobs queue for task ``name`` (``Jobs.defer``)."""
        if self.jobs is None:
            raise RuntimeError("the jobs queue starts with the bot (setup_hook)")
        return await self.jobs.defer(name, **arguments)

    async def job_counts(self) -> dict[str, int]:
        """Jobs in the queue by state, for the metrics."""
        return await self.jobs.counts() if self.jobs is not None else {}

    async def setup_hook(self) -> None:
        if self.monitor is not None:  # up first: a probe sees a start that hangs
            await self.monitor.start()
        log.info("loading the index (the first start builds it from the corpus)")
        await asyncio.to_thread(self.services.desk.open)
        if self.guard is not None:
            self._guarding = asyncio.create_task(self._keep_guard(self.guard), name="shard guard")
        # Vote buttons on answers sent before this start keep working.
        self.add_dynamic_items(VoteButton, ReasonSelect, TimelinePage)
        self.tree.error(self.command_failed)
        for cog in COGS:
            await self.load_extension(cog)
        self.jobs = self._make_jobs(self.settings, self.tasks)
        await self.jobs.start()
        await self.jobs.defer("poll-feeds")  # at start, then once a period
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (they may take a while to appear)", len(synced))

    async def _keep_guard(self, guard: ShardGuard) -> None:
        """Stop the shards the moment another process holds one of their locks: two
        processes answering every message is worse than none for the seconds a supervisor
        takes to restart this one (exit status 3). While the primary is away, nobody can
        take them: the shards go on (``ShardGuard.check``)."""
        was = "held"
        while not self.is_closed():
            await asyncio.sleep(GUARD_CHECK_SECONDS)
            held = await asyncio.to_thread(guard.check)
            if held == "taken":
                log.error("lost the shard locks to another process: stopping the shards")
                self.exit_code = 3
                await self.close()
                return
            if held == "away" and was != "away":
                log.warning(
                    "the primary database is away: the shards go on (no process can take "
                    "their locks meanwhile) and take them again when it is back"
                )
            was = held

    async def command_failed(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Every command's errors: a member who is not an admin is refused privately, and so is
        one whose command met a state database that is away or hangs; a command that raised is
        logged with its traceback and the member gets a short private apology instead of
        Discord's "The application did not respond"."""
        name = interaction.command.name if interaction.command else "?"
        cause = getattr(error, "original", error)  # what the command itself raised
        if isinstance(error, NotAdmin):
            log.warning("refused /%s from %s: not an admin", name, interaction.user.id)
            text = f"Only {error.who} can {error.what}."
        elif isinstance(cause, StateUnavailable):
            # Away, or given up after STATE_SECONDS (a write given up may still land: running
            # the command again is safe, it sets the same).
            log.warning("/%s: %s", name, cause)
            text = DATABASE_AWAY
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
        if self.jobs is not None:
            await self.jobs.stop()
        if self.monitor is not None:
            await self.monitor.stop()
        await super().close()
        self.services.close()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are questions, handled by the Ask cog."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))


class ShardedNewsdeskBot(NewsdeskBot, commands.AutoShardedBot):
    """The same bot running NEWSDESK_SHARD_IDS (all when unset) of NEWSDESK_SHARD_COUNT
    shards: several such processes on one database serve one bot, their IDENTIFYs spaced by
    Discord's max_concurrency across processes (``bot.shards.IdentifyGate``)."""

    def __init__(self, services: Services, guard: ShardGuard | None = None) -> None:
        settings = services.settings
        shard_ids = sorted(settings.shard_ids) or None
        super().__init__(services, guard, shard_count=settings.shard_count, shard_ids=shard_ids)
        self.identify_gate: IdentifyGate | None = None

    async def setup_hook(self) -> None:
        await super().setup_hook()
        if self.settings.database_url:
            try:
                limits = await self.fetch_session_start_limits()
                concurrency = limits.max_concurrency
            except discord.HTTPException as error:
                log.warning("session start limits not read (%s): one IDENTIFY at a time", error)
                concurrency = 1
            from bot.shards import IdentifyGate

            self.identify_gate = await asyncio.to_thread(
                IdentifyGate, self.settings.database_url, concurrency, self.shard_count or 1
            )

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self.identify_gate is None or shard_id is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        await asyncio.to_thread(self.identify_gate.wait_turn, shard_id)

    async def close(self) -> None:
        await super().close()
        if self.identify_gate is not None:
            self.identify_gate.close()

    async def on_ready(self) -> None:
        shards, count = sorted(self.shards), self.shard_count
        log.info(
            "ready as %s in %d servers, shards %s of %s", self.user, len(self.guilds), shards, count
        )


def newsdesk_bot(services: Services, guard: ShardGuard | None = None) -> NewsdeskBot:
    """The bot the settings ask for: sharded when NEWSDESK_SHARD_COUNT is set."""
    if services.settings.shard_count is not None:
        return ShardedNewsdeskBot(services, guard)
    return NewsdeskBot(services, guard)
