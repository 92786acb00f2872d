"""The bot: a thin discord.py client that loads the desk and delegates to its cogs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import NotAdmin
from bot.formatting import NO_MENTIONS
from bot.monitor import Monitor
from bot.settings import BotSettings
from bot.shards import IdentifyGate, ShardGuard
from bot.state import BotState, ServerSettings
from bot.views import DATABASE_AWAY, ReasonSelect, TimelinePage, VoteButton
from index.ingest.feeds import FeedBook
from index.ops.desk import Desk
from index.ops.feedback import FeedbackLog
from index.ops.gaps import QuestionLog
from index.ops.jobs import Jobs, Task, jobs_for
from index.ops.monitoring import Monitoring
from index.statedb import StateUnavailable, open_state
from index.stories.follows import FollowBook

log = logging.getLogger(__name__)


T = TypeVar("T")
# The longest a state database call may hold a question: a settings read takes 0.05 ms in
# SQLite and about 0.2 ms in PostgreSQL here (2026-11-27); 1.5 s still leaves the first
# response room before Discord's 3 s.
STATE_SECONDS = 1.5

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
        settings: BotSettings,
        desk: Desk | None = None,
        guard: ShardGuard | None = None,
        jobs: Callable[[BotSettings, Sequence[Task]], Jobs] = jobs_for,
        **sharding: Any,
    ) -> None:
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
        self.guard = guard  # the shards' locks in the database, when sharded on one
        self.exit_code = 0
        self.jobs: Jobs | None = None  # made once the cogs whose work they run are loaded
        self._make_jobs = jobs  # the queue (``index.ops.jobs``): where the settings say
        # The models load before logging in (0.5 s once exported: index/search/onnxcache.py), so an
        # unusable model or missing or damaged reader weights stop the start with one line.
        self.desk = desk or Desk(settings)
        self._state_db = open_state(settings.state_location)  # checked once, shared by all
        # The state database's calls on a question's way: threads of their own, not a place in
        # the default pool's queue behind the answers being computed (see ``state_call``).
        self._state_calls = ThreadPoolExecutor(4, thread_name_prefix="state")
        self.state = BotState(self._state_db, settings)
        self.feedback = FeedbackLog(self._state_db)
        self.feeds = FeedBook(self._state_db)
        self.feeds.use_settings(settings.feeds)
        self.follows = FollowBook(self._state_db, settings.follow_post_interval_seconds)
        self.questions = QuestionLog(self._state_db)
        self.monitoring = Monitoring()
        self.monitor = (
            Monitor(self, settings.metrics_host, settings.metrics_port)
            if settings.metrics_port
            else None
        )

    @property
    def state_db(self):
        return self._state_db

    async def job_counts(self) -> dict[str, int]:
        """Jobs in the queue by state, for the metrics."""
        return await self.jobs.counts() if self.jobs is not None else {}

    async def setup_hook(self) -> None:
        if self.monitor is not None:  # up first: a probe sees a start that hangs
            await self.monitor.start()
        log.info("loading the index (the first start builds it from the corpus)")
        await asyncio.to_thread(self.desk.open)
        if self.guard is not None:
            self._guarding = asyncio.create_task(self._keep_guard(), name="shard guard")
        # Vote buttons on answers sent before this start keep working.
        self.add_dynamic_items(VoteButton, ReasonSelect, TimelinePage)
        self.tree.on_error = self.command_failed
        for cog in COGS:
            await self.load_extension(cog)
        settings = self.settings
        self.jobs = self._make_jobs(
            settings,
            [
                Task("reindex", self.get_cog("Admin").run_reindex),
                Task(
                    "poll-feeds",
                    self.get_cog("Feeds").poll_all,
                    every=settings.feed_interval_minutes * 60,
                ),
                Task(
                    "post-follows",
                    self.get_cog("Stories").post_news,
                    every=settings.follow_check_seconds,
                ),
            ],
        )
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

    async def _keep_guard(self) -> None:
        """Stop the shards the moment another process holds one of their locks: two
        processes answering every message is worse than none for the seconds a supervisor
        takes to restart this one (exit status 3). While the primary is away, nobody can
        take them: the shards go on (``ShardGuard.check``)."""
        was = "held"
        while not self.is_closed():
            await asyncio.sleep(GUARD_CHECK_SECONDS)
            held = await asyncio.to_thread(self.guard.check)
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

    async def state_call(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` on the state database, in a worker thread, given at most
        ``STATE_SECONDS``: a database that hangs rather than refuses (its connections open, no
        reply) must neither stall the gateway nor hold a question past Discord's 3 seconds. A
        call that takes longer raises ``StateUnavailable``, which the caller already handles
        for a database that is away; the thread stays with the call until the database
        answers or drops it."""
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._state_calls, partial(call, *args, **kwargs)),
                STATE_SECONDS,
            )
        except TimeoutError:
            raise StateUnavailable(
                f"the state database did not answer in {STATE_SECONDS:g} s"
            ) from None

    async def server(self, guild_id: int | None) -> ServerSettings:
        """A server's settings (``state_call``), as last read when the database does not
        answer in time."""
        try:
            return await self.state_call(self.state.server, guild_id)
        except StateUnavailable as error:
            log.warning("server %s: settings as last read (%s)", guild_id, error)
            return self.state.last_read(guild_id)

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

    async def may_manage_channels(self, interaction: discord.Interaction) -> bool:
        """Admins, and members with Manage Channels where they asked."""
        if await self.is_admin(interaction):
            return True
        return (
            isinstance(interaction.user, discord.Member) and interaction.permissions.manage_channels
        )

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
            text = (
                f"Only {error.who} (or the admins set with /settings or NEWSDESK_ADMIN_IDS) "
                f"can {error.what}."
            )
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
        self._state_calls.shutdown(wait=False)
        self._state_db.close()

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are questions, handled by the Ask cog."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d servers", self.user, len(self.guilds))


class ShardedNewsdeskBot(NewsdeskBot, commands.AutoShardedBot):
    """The same bot running NEWSDESK_SHARD_IDS (all when unset) of NEWSDESK_SHARD_COUNT
    shards: several such processes on one database serve one bot, their IDENTIFYs spaced by
    Discord's max_concurrency across processes (``bot.shards.IdentifyGate``)."""

    def __init__(
        self, settings: BotSettings, desk: Desk | None = None, guard: ShardGuard | None = None
    ) -> None:
        shard_ids = sorted(settings.shard_ids) or None
        super().__init__(
            settings, desk, guard, shard_count=settings.shard_count, shard_ids=shard_ids
        )
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


def newsdesk_bot(
    settings: BotSettings, desk: Desk | None = None, guard: ShardGuard | None = None
) -> NewsdeskBot:
    """The bot these settings ask for: sharded when NEWSDESK_SHARD_COUNT is set."""
    if settings.shard_count is not None:
        return ShardedNewsdeskBot(settings, desk, guard)
    return NewsdeskBot(settings, desk, guard)
