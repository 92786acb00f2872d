"""``/feedback`` (admins): how answers were rated in this server, and the worst of them.

The 👍/👎 buttons themselves are in ``bot.views``; ``python -m index feedback export`` turns the
voted-down questions into eval lines.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards import feedback_embed
from bot.checks import admin_only
from bot.client import NewsdeskBot
from bot.formatting import NO_MENTIONS


class Feedback(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="feedback", description="See how answers were rated here")
    @admin_only("see the feedback")
    async def feedback(self, interaction: discord.Interaction) -> None:
        votes = self.services.feedback
        counts = await self.services.state_call(votes.counts, interaction.guild_id)
        worst = await self.services.state_call(votes.worst, 5, interaction.guild_id)
        await interaction.response.send_message(
            embed=feedback_embed(counts, worst), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Feedback(bot))
