"""Questions: ``/ask``, "@Newsdesk ..." mentions, follow-ups in the bot's threads, forum posts.

Where an answer goes follows the server's thread mode: in place, or in a new public thread
named after the question. In a thread the bot opened (or a forum post it answered), every
later message is a follow-up, read with the thread's earlier questions; elsewhere the bot
speaks only when mentioned.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import channel_list
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS, answer_embed, fit, plain_question
from bot.state import ServerSettings
from bot.views import send_timeline, vote_view
from index.answer.followups import Turn
from index.answer.records import Answer
from index.search.filters import FilterError, read_scope
from index.search.scope import Scope
from index.statedb import StateUnavailable
from index.stories.timeline import NAME_THE_STORY, whats_new

log = logging.getLogger(__name__)

EXAMPLE = "Try: `@Newsdesk who walked out of the meeting?` or `/ask`."
THREAD_NAME_LIMIT = 100  # Discord's limit on a channel name
THREAD_ARCHIVE_MINUTES = 1440


@dataclass(frozen=True)
class Where:
    """Where an answer goes and what it is read with."""

    via: str  # for the log: "/ask" or "message"
    channel: Any  # where the question was asked
    history: list[Turn]  # the earlier turns of the thread's conversation, oldest first
    conversing: bool  # the channel is a thread the bot converses in: the answer is a turn
    in_place: Callable[..., Awaitable[Any]]  # sends a message where the question was asked
    # Opens a thread for the answer, when the server's thread mode wants one here.
    open_thread: Callable[..., Awaitable[discord.Thread]] | None = None
    point_to_thread: bool = False  # say in place where the answer went (/ask)


class Ask(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services
        self._last_question: dict[int, float] = {}  # user id -> monotonic time

    def refusal(
        self,
        user: discord.abc.User,
        server: ServerSettings,
        guild_id: int | None,
        channel_id: int | None,
        question: str,
    ) -> str | None:
        """Why this question is not answered, or None. Records the question for the cooldown."""
        if guild_id is None and not self.services.settings.answer_dms:
            return "I only answer questions in servers, not in direct messages."
        if server.channel_ids and guild_id is not None and channel_id not in server.channel_ids:
            return f"I answer questions in {channel_list(server.channel_ids)}."
        if not question.strip():
            return f"Ask me a question about the news coverage. {EXAMPLE}"
        if len(question) > server.max_question_chars:
            return (
                f"That question is {len(question):,} characters long; please keep it under "
                f"{server.max_question_chars:,}."
            )
        now = time.monotonic()
        wait = self._last_question.get(user.id, -1e9) + server.cooldown_seconds - now
        if wait > 0:
            return f"One question at a time, please: try again in {wait:.0f} s."
        self._last_question[user.id] = now
        return None

    async def respond(
        self,
        question: str,
        user: discord.abc.User,
        guild_id: int | None,
        server: ServerSettings,
        where: Where,
        scope: Scope | None = None,
    ) -> None:
        """Answer ``question`` and send the answer where it belongs: in a new thread when
        ``where`` may open one (and it opens), else in place. The one delivery path for /ask,
        mentions, follow-ups and forum posts; ``server``: its settings, read once per question;
        ``scope``: a member's filters (default: the shared coverage and this server's own).
        "What's new about X since Monday?" is answered with the timeline of what is new."""
        scope = scope or Scope(guild_id)
        question = plain_question(question)
        routed = whats_new(question)
        if routed is not None:
            if not routed.topic:
                await where.in_place(content=NAME_THE_STORY, allowed_mentions=NO_MENTIONS)
                return
            log.info("%s from %s: what is new since %s", where.via, user.id, routed.since)
            await send_timeline(
                self.services, where.in_place, None, routed.topic, routed.since, Scope(guild_id)
            )
            return
        try:
            answer = await asyncio.to_thread(self.services.desk.ask, question, where.history, scope)
        except Exception:
            log.exception("answering failed")
            await where.in_place(
                content="Something went wrong while answering; please try again.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        asked = (
            repr(question) if self.services.settings.log_questions else f"({len(question)} chars)"
        )
        log.info(
            "%s from %s: %s -> %s in %.0f ms",
            where.via,
            user.id,
            asked,
            answer.status
            if answer.confidence is None
            else f"{answer.status} ({answer.confidence:.2f})",
            answer.seconds * 1000,
        )
        self.services.monitoring.answered(answer.status, answer.seconds, answer.timings)
        message, answer_id = await self.reply(question, answer, guild_id, server.feedback_buttons)
        await self.record(answer, user, guild_id, where, server, answer_id)
        thread = await _open_thread(where.open_thread, question) if where.open_thread else None
        if thread is not None:
            await self.remember(thread, answer)
            await thread.send(**message)
            if where.point_to_thread:
                await where.in_place(
                    content=f"Answered in {thread.mention}; ask follow-ups there.",
                    allowed_mentions=NO_MENTIONS,
                )
            return
        if where.conversing:
            await self.remember(where.channel, answer)
        await where.in_place(**message)

    async def reply(
        self, question: str, answer: Answer, guild_id: int | None, buttons: bool
    ) -> tuple[dict[str, Any], int | None]:
        """The message for an answer: its embed and, when ``buttons``, vote buttons; and the
        id its votes are recorded under."""
        message: dict[str, Any] = {"embed": answer_embed(answer), "allowed_mentions": NO_MENTIONS}
        if not buttons:
            return message, None
        try:
            answer_id = await self.services.state_call(
                self.services.feedback.record, question, answer, guild_id
            )
        except StateUnavailable as error:  # the answer matters more than its buttons
            log.warning("answer sent without vote buttons: %s", error)
            return message, None
        message["view"] = vote_view(answer_id)
        return message, answer_id

    async def record(
        self,
        answer: Answer,
        user: discord.abc.User,
        guild_id: int | None,
        where: Where,
        server: ServerSettings,
        answer_id: int | None,
    ) -> None:
        """For /gaps: a question asked in a server (never in a DM) and how it went; its
        wording (as it was read, for a follow-up) and vector only where the server keeps them."""
        if guild_id is None:
            return
        asked = answer.read_as or answer.question
        vector = None
        if server.keep_questions:  # the answer just embedded it: from the query cache
            vector = await asyncio.to_thread(self.services.desk.embedder.encode_query, asked)
        try:
            await self.services.state_call(
                self.services.questions.record,
                guild_id,
                _home(where.channel, getattr(where.channel, "id", None)),
                user.id,
                answer.status,
                answer.confidence,
                asked if server.keep_questions else None,
                vector,
                answer_id,
                keep_days=server.retention_days,
            )
        except StateUnavailable as error:
            log.warning("question not recorded for /gaps: %s", error)

    async def conversation(self, channel: Any) -> list[Turn] | None:
        """The earlier turns when ``channel`` is a thread the bot converses in, else None."""
        if not isinstance(channel, discord.Thread):
            return None
        try:
            return await self.services.state_call(self.services.state.conversation, channel.id)
        except StateUnavailable as error:
            log.warning("thread %s read without its conversation: %s", channel.id, error)
            return None

    async def remember(self, thread: discord.Thread, answer: Answer) -> None:
        """Record a turn before its answer is sent: a follow-up typed the moment the answer
        appears must find the thread's conversation."""
        # The question as it was searched for, so a follow-up of a follow-up keeps the topic.
        asked = answer.read_as or answer.question
        try:
            await self.services.state_call(
                self.services.state.add_turn, thread.id, thread.guild.id, asked, answer.text
            )
        except StateUnavailable as error:
            log.warning("turn in thread %s not kept: %s", thread.id, error)

    @app_commands.command(name="ask", description="Ask a question about the news coverage")
    @app_commands.describe(
        question="What you want to know, e.g. who walked out of the meeting?",
        source="Only articles from this outlet",
        since="Only articles from this day on: 10 September, Monday, 2025-09-10",
        until="Only articles up to this day",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: str,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        channel = interaction.channel
        try:
            scope = await asyncio.to_thread(read_scope, interaction.guild_id, source, since, until)
            await asyncio.to_thread(self.services.desk.check_source, scope)
        except FilterError as reason:
            await interaction.response.send_message(
                f"{fit(str(reason), 1800)}.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        server = await self.services.server(interaction.guild_id)
        home = _home(channel, interaction.channel_id)
        refusal = self.refusal(interaction.user, server, interaction.guild_id, home, question)
        if refusal:
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        # Discord wants a first response within 3 s: say "thinking" now, answer after.
        await interaction.response.defer(thinking=True)
        history = await self.conversation(channel)
        where = Where(
            via="/ask",
            channel=channel,
            history=history or [],
            conversing=history is not None,
            in_place=interaction.followup.send,
            open_thread=partial(channel.create_thread, type=discord.ChannelType.public_thread)
            if server.thread_mode == "all" and isinstance(channel, discord.TextChannel)
            else None,
            point_to_thread=True,
        )
        await self.respond(question, interaction.user, interaction.guild_id, server, where, scope)

    @ask.autocomplete("source")
    async def _outlets(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """The outlets of the coverage the member may ask about (never another server's)."""
        articles = await asyncio.to_thread(self.services.desk.articles, Scope(interaction.guild_id))
        names = sorted({a.source for a in articles if a.source}, key=str.casefold)
        typed = typed.casefold()
        return [
            app_commands.Choice(name=name[:100], value=name[:100])
            for name in names
            if typed in name.casefold()
        ][:25]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        channel = message.channel
        guild_id = message.guild.id if message.guild else None
        mentioned = any(user.id == me.id for user in message.mentions)
        history = await self.conversation(channel)
        forum_post = _first_post_of_forum_thread(message, channel)
        # In a server the bot speaks when mentioned or in its own threads; in a DM, always.
        if guild_id is not None and not (mentioned or history is not None or forum_post):
            return  # most messages: no settings read
        server = await self.services.server(guild_id)
        conversing = history is not None or (
            forum_post
            and isinstance(channel, discord.Thread)
            and _answers_forum_posts(server, channel)
        )
        if guild_id is not None and not (mentioned or conversing):
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        if conversing and not mentioned and not question:
            return  # an image or a sticker in the thread: nothing was asked
        home = _home(channel, channel.id)
        refusal = self.refusal(message.author, server, guild_id, home, question)
        if refusal:
            await message.reply(refusal, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        threads = isinstance(channel, discord.TextChannel) and server.thread_mode != "off"
        where = Where(
            via="message",
            channel=channel,
            history=history or [],
            conversing=conversing,
            in_place=partial(message.reply, mention_author=False),
            open_thread=message.create_thread if threads else None,
        )
        async with channel.typing():
            await self.respond(question, message.author, guild_id, server, where)


def _first_post_of_forum_thread(message: discord.Message, channel: Any) -> bool:
    """The first message of a forum post: it has the thread's own id."""
    return (
        isinstance(channel, discord.Thread)
        and isinstance(channel.parent, discord.ForumChannel)
        and message.id == channel.id
    )


def _answers_forum_posts(server: ServerSettings, thread: discord.Thread) -> bool:
    """The server answers forum posts, in this forum. Posts in forums outside the server's
    answer channels are left alone rather than each told where to ask."""
    here = not server.channel_ids or thread.parent_id in server.channel_ids
    return server.forum_answers and here


def _home(channel: Any, channel_id: int | None) -> int | None:
    """The channel whose settings apply: a thread's parent, else the channel itself."""
    return channel.parent_id if isinstance(channel, discord.Thread) else channel_id


async def _open_thread(create: Any, question: str) -> discord.Thread | None:
    """A thread named after the question, or None when none could be opened: missing
    permissions, an HTTP error or an answer the library could not read all mean "answer in
    place" rather than no answer."""
    name = plain_question(question) or "Question"
    name = name[0].upper() + name[1:]
    if len(name) > THREAD_NAME_LIMIT:  # plain text: thread names show no markdown
        name = name[: THREAD_NAME_LIMIT - 1].rsplit(" ", 1)[0] + "…"
    try:
        return await create(name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES)
    except Exception as error:
        log.warning("could not open a thread (%r); answering in place", error)
        return None


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Ask(bot))
