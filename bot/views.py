"""Buttons and menus under the bot's messages.

The vote buttons and the "what was wrong?" menu are dynamic items: their custom ids carry the
answer's id, so they keep working on old messages after a restart. Discord says who clicked;
the bot checks what that person may do on every click, never trusting who saw the button.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.formatting import NO_MENTIONS
from index.feedback import REASONS
from index.statedb import StateUnavailable

if TYPE_CHECKING:
    from bot.client import NewsdeskBot

log = logging.getLogger(__name__)

# What a member reads when the state database is away or does not answer in time.
NOT_NOW = "Votes cannot be recorded just now; please try again in a little while."


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"vote:(?P<id>\d+):(?P<up>[01])"
):
    def __init__(self, answer_id: int, up: bool, count: int = 0) -> None:
        self.answer_id, self.up = answer_id, up
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                label=str(count) if count else None,
                style=discord.ButtonStyle.secondary,
                custom_id=f"vote:{answer_id}:{int(up)}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["id"]), match["up"] == "1")

    async def callback(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        bot = interaction.client
        try:
            recorded = await bot.state_call(
                bot.feedback.vote, self.answer_id, interaction.user.id, self.up
            )
            counts = await bot.state_call(bot.feedback.votes, self.answer_id) if recorded else None
        except StateUnavailable as error:
            log.warning("vote on answer %s not recorded: %s", self.answer_id, error)
            await interaction.response.send_message(NOT_NOW, ephemeral=True)
            return
        if counts is None:
            await interaction.response.send_message(
                "That answer is no longer on record.", ephemeral=True
            )
            return
        up, down = counts
        # Acknowledge by updating the counts on the buttons everyone sees.
        await interaction.response.edit_message(view=vote_view(self.answer_id, up, down))
        if not self.up:
            await interaction.followup.send(
                "Sorry about that. What was wrong? (optional)",
                view=discord.ui.View(timeout=None).add_item(ReasonSelect(self.answer_id)),
                ephemeral=True,
            )


class ReasonSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"why:(?P<id>\d+)"):
    def __init__(self, answer_id: int) -> None:
        self.answer_id = answer_id
        super().__init__(
            discord.ui.Select(
                placeholder="What was wrong with the answer?",
                options=[
                    discord.SelectOption(label=text, value=key) for key, text in REASONS.items()
                ],
                custom_id=f"why:{answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> ReasonSelect:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        reason = self.item.values[0]
        bot = interaction.client
        try:
            noted = await bot.state_call(
                bot.feedback.explain, self.answer_id, interaction.user.id, reason
            )
        except StateUnavailable as error:
            log.warning("reason for answer %s not noted: %s", self.answer_id, error)
            await interaction.response.edit_message(content=NOT_NOW, view=None)
            return
        text = f"Thanks, noted: {REASONS[reason].lower()}." if noted else "Vote 👎 first, please."
        await interaction.response.edit_message(content=text, view=None)


def vote_view(answer_id: int, up: int = 0, down: int = 0) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(answer_id, True, up))
    view.add_item(VoteButton(answer_id, False, down))
    return view


class Confirm(discord.ui.View):
    """Confirm or cancel a destructive admin action; only the admin who asked may press."""

    def __init__(
        self,
        owner_id: int,
        allowed: Callable[[discord.Interaction], Awaitable[bool]],
        action: Callable[[discord.Interaction], Awaitable[Any]],
    ) -> None:
        super().__init__(timeout=120)
        self.owner_id, self.allowed, self.action = owner_id, allowed, action

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id or not await self.allowed(interaction):
            await interaction.response.send_message(
                "Only the admin who asked can confirm this.", ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Remove", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Removing…", view=None)
        await self.action(interaction)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Cancelled; nothing was removed.", view=None, allowed_mentions=NO_MENTIONS
        )
