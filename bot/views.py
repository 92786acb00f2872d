"""Buttons and menus under the bot's messages.

The vote buttons, the "what was wrong?" menu and a timeline's page buttons are dynamic items:
their custom ids carry the answer's (or the timeline's) id, so they keep working on old
messages after a restart. Discord says who clicked;
the bot checks what that person may do on every click, never trusting who saw the button.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.cards import timeline_embed, timeline_pages
from bot.formatting import NO_MENTIONS, fit
from bot.services import Services, services_of
from index.ops.feedback import REASONS
from index.search.scope import Scope
from index.statedb import StateUnavailable

log = logging.getLogger(__name__)

# A timeline that takes longer than this to gather says so on the pending reply.
PROGRESS_AFTER_SECONDS = 1.0

# What a member reads when the state database is away or does not answer in time.
NOT_NOW = "Votes cannot be recorded just now; please try again in a little while."
DATABASE_AWAY = "The bot's database is not answering just now; please try again in a while."


def button_label(item: discord.ui.Item[Any]) -> str:
    """The label of the button a dynamic item was made from ("" for anything else)."""
    return (item.label or "") if isinstance(item, discord.ui.Button) else ""


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
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["id"]), match["up"] == "1")

    async def callback(self, interaction: discord.Interaction) -> None:
        services = services_of(interaction)
        try:
            recorded = await services.state_call(
                services.feedback.vote, self.answer_id, interaction.user.id, self.up
            )
            counts = (
                await services.state_call(services.feedback.votes, self.answer_id)
                if recorded
                else None
            )
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
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ReasonSelect:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        reason = self.item.values[0]
        services = services_of(interaction)
        try:
            noted = await services.state_call(
                services.feedback.explain, self.answer_id, interaction.user.id, reason
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


class TimelinePage(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"timeline:(?P<id>\d+):(?P<page>\d+)(?P<open>:open)?",
):
    """◀ / ▶ under a timeline (the message turns to that page), or "Timeline" under a followed
    story's post (the timeline opens for the one who clicked). The id is that of a timeline
    request the bot kept (``BotState.keep_timeline``): buttons work after a restart, and show
    the coverage as it is when clicked."""

    def __init__(
        self, timeline_id: int, page: int, label: str, disabled: bool = False, opens: bool = False
    ) -> None:
        self.timeline_id, self.page, self.opens = timeline_id, page, opens
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
                custom_id=f"timeline:{timeline_id}:{page}{':open' if opens else ''}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> TimelinePage:
        return cls(
            int(match["id"]), int(match["page"]), button_label(item), opens=bool(match["open"])
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        services = services_of(interaction)
        try:
            kept = await services.state_call(services.state.kept_timeline, self.timeline_id)
        except StateUnavailable as error:
            log.warning("timeline %s not shown: %s", self.timeline_id, error)
            await interaction.response.send_message(DATABASE_AWAY, ephemeral=True)
            return
        if kept is None:
            await interaction.response.send_message(
                "That timeline is no longer on record; ask /timeline again.", ephemeral=True
            )
            return
        query, since = kept
        # Told from the coverage of the server where the button is pressed, whoever kept it.
        scope = Scope(interaction.guild_id)
        if self.opens:
            await interaction.response.defer(ephemeral=True, thinking=True)
            message = await timeline_message(
                services, self.timeline_id, query, since, self.page, scope
            )
            await interaction.followup.send(**message, ephemeral=True)
        else:
            await interaction.response.defer()
            message = await timeline_message(
                services, self.timeline_id, query, since, self.page, scope
            )
            await interaction.edit_original_response(**message)


async def send_timeline(
    services: Services,
    send: Callable[..., Awaitable[Any]],
    edit: Callable[..., Awaitable[Any]] | None,
    topic: str,
    since: str | None,
    scope: Scope,
) -> None:
    """Build the timeline (from the coverage ``scope`` admits) and send its first page;
    ``edit`` (when given) shows progress on the pending reply if the build takes more than a
    moment."""
    try:
        timeline_id = await services.state_call(services.state.keep_timeline, topic, since)
    except StateUnavailable as error:
        log.warning("timeline without page buttons: %s", error)
        timeline_id = 0
    building = asyncio.create_task(timeline_message(services, timeline_id, topic, since, 1, scope))
    done, _ = await asyncio.wait({building}, timeout=PROGRESS_AFTER_SECONDS)
    if not done and edit is not None:
        await edit(content=f"Gathering the coverage of “{fit(topic, 200)}”…")
    message = await building
    if timeline_id == 0:
        message.pop("view")
    await send(**message)


async def timeline_message(
    services: Services, timeline_id: int, query: str, since: str | None, page: int, scope: Scope
) -> dict[str, Any]:
    """A page of a timeline, built from the current index (what ``scope`` admits: the asking
    server's coverage), with its page buttons."""
    timeline = await asyncio.to_thread(services.desk.timeline, query, since, None, None, scope)
    pages = timeline_pages(timeline)
    page = min(max(page, 1), pages)
    view = discord.ui.View(timeout=None)
    if pages > 1:
        view.add_item(TimelinePage(timeline_id, page - 1, "◀ Older", disabled=page == 1))
        view.add_item(TimelinePage(timeline_id, page + 1, "Newer ▶", disabled=page == pages))
    return {
        "embed": timeline_embed(timeline, page),
        "view": view,
        "allowed_mentions": NO_MENTIONS,
    }


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
