"""What the bot serves from, built once by ``python -m bot`` before it logs in and passed into
the client, as discord.py's ``examples/advanced_startup.py`` passes its pools: the desk (index,
models), the state database and the books kept in it, the metrics, and the thread pool that
bounds every state call. Cogs, views, checks and the monitor reach them here, typed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import discord

from bot.settings import BotSettings
from bot.state import BotState, ServerSettings
from index.ingest.feeds import FeedBook
from index.ops.desk import Desk
from index.ops.feedback import FeedbackLog
from index.ops.gaps import QuestionLog
from index.ops.monitoring import Monitoring
from index.statedb import StateDatabase, StateUnavailable, open_state
from index.stories.follows import FollowBook

log = logging.getLogger(__name__)

T = TypeVar("T")
# The longest a state database call may hold a question: a settings read takes 0.05 ms in
# SQLite and about 0.2 ms in PostgreSQL here (2026-11-27); 1.5 s still leaves the first
# response room before Discord's 3 s.
STATE_SECONDS = 1.5


@dataclass
class Services:
    settings: BotSettings
    desk: Desk
    state_db: StateDatabase  # checked once at start, shared by every book below
    state: BotState
    feedback: FeedbackLog
    feeds: FeedBook
    follows: FollowBook
    questions: QuestionLog
    monitoring: Monitoring
    # The state database's calls on a question's way: threads of their own, not a place in the
    # default pool's queue behind the answers being computed (see ``state_call``).
    state_calls: ThreadPoolExecutor

    @classmethod
    def build(cls, settings: BotSettings, desk: Desk | None = None) -> Services:
        """Everything from ``settings``. The models load here, before logging in (0.5 s once
        exported: index/search/onnxcache.py), so an unusable model or missing or damaged
        reader weights stop the start with one line."""
        desk = desk or Desk(settings)
        state_db = open_state(settings.state_location)
        feeds = FeedBook(state_db)
        feeds.use_settings(settings.feeds)
        return cls(
            settings=settings,
            desk=desk,
            state_db=state_db,
            state=BotState(state_db, settings),
            feedback=FeedbackLog(state_db),
            feeds=feeds,
            follows=FollowBook(state_db, settings.follow_post_interval_seconds),
            questions=QuestionLog(state_db),
            monitoring=Monitoring(),
            state_calls=ThreadPoolExecutor(4, thread_name_prefix="state"),
        )

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
                loop.run_in_executor(self.state_calls, partial(call, *args, **kwargs)),
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

    async def is_operator(self, interaction: discord.Interaction) -> bool:
        """The deployment's operators, who change the shared coverage and reindex: the ids
        (of users or roles) in NEWSDESK_ADMIN_IDS, and the admins of NEWSDESK_GUILD_ID when it
        is set. Another server's admins change only that server's own coverage."""
        user = interaction.user
        if user.id in self.settings.admin_ids:
            return True
        if isinstance(user, discord.Member) and any(
            r.id in self.settings.admin_ids for r in user.roles
        ):
            return True
        home = self.settings.guild_id
        return (
            home is not None and interaction.guild_id == home and await self.is_admin(interaction)
        )

    async def may_manage_channels(self, interaction: discord.Interaction) -> bool:
        """Admins, and members with Manage Channels where they asked."""
        if await self.is_admin(interaction):
            return True
        return (
            isinstance(interaction.user, discord.Member) and interaction.permissions.manage_channels
        )

    def close(self) -> None:
        self.state_calls.shutdown(wait=False)
        self.state_db.close()


def services_of(interaction: discord.Interaction) -> Services:
    """The services of the bot an interaction came to: a button or menu callback is typed for
    any client (discord.py's ``DynamicItem``), the bot is always ``NewsdeskBot``."""
    services = getattr(interaction.client, "services", None)
    if not isinstance(services, Services):
        raise TypeError(f"{type(interaction.client).__name__} carries no Newsdesk services")
    return services
