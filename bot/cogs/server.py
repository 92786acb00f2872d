"""``/settings``: a server's admins see and change how Newsdesk behaves there.

Each change is stored per server (defaults come from the environment), applies at once, and is
logged with who made it.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import THREAD_MODE_TEXT, settings_embed
from bot.checks import admin_only
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS

log = logging.getLogger(__name__)

MAX_COOLDOWN = 3600


class Server(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="settings", description="Show or change Newsdesk's settings here")
    @app_commands.describe(
        thread_mode="Where answers go",
        add_channel="Answer questions in this channel too (once any is set, only in those)",
        remove_channel="Stop answering in this channel",
        all_channels="Answer in every channel again",
        cooldown="Seconds a member waits between two questions",
        max_question_chars="Longest question accepted, in characters",
        admin_role="Members with this role may use the admin commands",
        clear_admin_role="Remove the admin role (Manage Server still works)",
        feedback_buttons="Show 👍/👎 buttons under answers",
        forum_answers="Answer each new post in forum channels",
        keep_questions="Keep the wording of questions for /gaps (off: only how each went)",
        retention_days="Days questions are kept for /gaps",
    )
    @app_commands.choices(
        thread_mode=[app_commands.Choice(name=t, value=m) for m, t in THREAD_MODE_TEXT.items()]
    )
    @admin_only("see or change the settings")
    async def settings(
        self,
        interaction: discord.Interaction,
        thread_mode: str | None = None,
        add_channel: discord.TextChannel | discord.ForumChannel | None = None,
        remove_channel: discord.TextChannel | discord.ForumChannel | None = None,
        all_channels: bool | None = None,
        cooldown: app_commands.Range[float, 0, MAX_COOLDOWN] | None = None,
        max_question_chars: app_commands.Range[int, 20, 4000] | None = None,
        admin_role: discord.Role | None = None,
        clear_admin_role: bool | None = None,
        feedback_buttons: bool | None = None,
        forum_answers: bool | None = None,
        keep_questions: bool | None = None,
        retention_days: app_commands.Range[int, 1, 3650] | None = None,
    ) -> None:
        assert interaction.guild is not None  # guild_only
        state = self.services.state
        server = await self.services.server(interaction.guild.id)
        changes: dict[str, Any] = {
            name: value
            for name, value in {
                "thread_mode": thread_mode,
                "cooldown_seconds": cooldown,
                "max_question_chars": max_question_chars,
                "feedback_buttons": feedback_buttons,
                "forum_answers": forum_answers,
                "keep_questions": keep_questions,
                "retention_days": retention_days,
            }.items()
            if value is not None
        }
        channels = set(server.channel_ids)
        if all_channels:
            channels.clear()
        if add_channel:
            channels.add(add_channel.id)
        if remove_channel:
            channels.discard(remove_channel.id)
        if channels != server.channel_ids:
            changes["channel_ids"] = frozenset(channels)
        if admin_role:
            changes["admin_role_id"] = admin_role.id
        elif clear_admin_role:
            changes["admin_role_id"] = None
        if changes:
            server = await self.services.state_call(
                state.change, interaction.guild.id, interaction.user.id, **changes
            )
        await interaction.response.send_message(
            content=f"Changed: {', '.join(sorted(changes))}." if changes else None,
            embed=settings_embed(server, interaction.guild.name),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Server(bot))
