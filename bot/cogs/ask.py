"""Questions: ``/ask`` and "@Newsdesk ..." mentions, with the same guard rails and answer."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS, answer_embed
from index.answering import Answer

log = logging.getLogger(__name__)

EXAMPLE = "Try: `@Newsdesk who walked out of the meeting?` or `/ask`."


class Ask(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._last_question: dict[int, float] = {}  # user id -> monotonic time

    def refusal(
        self, user: discord.abc.User, guild_id: int | None, channel_id: int | None, question: str
    ) -> str | None:
        """Why this question is not answered, or None. Records the question for the cooldown."""
        if guild_id is None and not self.settings.answer_dms:
            return "I only answer questions in servers, not in direct messages."
        allowed = self.settings.channel_ids
        if allowed and guild_id is not None and channel_id not in allowed:
            channels = ", ".join(f"<#{c}>" for c in sorted(allowed))
            return f"I answer questions in {channels}."
        if not question.strip():
            return f"Ask me a question about the news coverage. {EXAMPLE}"
        if len(question) > self.settings.max_question_chars:
            return (
                f"That question is {len(question):,} characters long; please keep it under "
                f"{self.settings.max_question_chars:,}."
            )
        now = time.monotonic()
        wait = self._last_question.get(user.id, -1e9) + self.settings.cooldown_seconds - now
        if wait > 0:
            return f"One question at a time, please: try again in {wait:.0f} s."
        self._last_question[user.id] = now
        return None

    async def answer(self, question: str, user: discord.abc.User, via: str) -> Answer:
        """Answer off the event loop and log one line about it."""
        answer = await asyncio.to_thread(self.bot.desk.ask, question)
        asked = repr(question) if self.settings.log_questions else f"({len(question)} chars)"
        log.info(
            "%s from %s: %s -> %s in %.0f ms",
            via,
            user.id,
            asked,
            "answered" if answer.covered else "not covered",
            answer.seconds * 1000,
        )
        return answer

    @app_commands.command(name="ask", description="Ask a question about the news coverage")
    @app_commands.describe(question="What you want to know, e.g. who walked out of the meeting?")
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        refusal = self.refusal(
            interaction.user, interaction.guild_id, interaction.channel_id, question
        )
        if refusal:
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        # Discord wants a first response within 3 s: say "thinking" now, answer after.
        await interaction.response.defer(thinking=True)
        try:
            answer = await self.answer(question, interaction.user, "/ask")
        except Exception:
            log.exception("answering failed")
            await interaction.followup.send(
                "Something went wrong while answering; please try again.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        await interaction.followup.send(embed=answer_embed(answer), allowed_mentions=NO_MENTIONS)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        # In a server the bot answers when mentioned; in a direct message, every message.
        if message.guild is not None and not any(user.id == me.id for user in message.mentions):
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        guild_id = message.guild.id if message.guild else None
        refusal = self.refusal(message.author, guild_id, message.channel.id, question)
        if refusal:
            await message.reply(refusal, mention_author=False, allowed_mentions=NO_MENTIONS)
            return
        try:
            async with message.channel.typing():
                answer = await self.answer(question, message.author, "mention")
        except Exception:
            log.exception("answering failed")
            await message.reply(
                "Something went wrong while answering; please try again.",
                mention_author=False,
                allowed_mentions=NO_MENTIONS,
            )
            return
        await message.reply(
            embed=answer_embed(answer), mention_author=False, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Ask(bot))
