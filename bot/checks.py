"""Checks on app commands, as decorators (discord.py's ``app_commands.check``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import NewsdeskBot

T = TypeVar("T")


class NotAdmin(app_commands.CheckFailure):
    """Raised by ``admin_only``; the bot's error handler refuses the member privately."""

    def __init__(
        self,
        what: str,
        who: str = "server managers (or the admins set with /settings or NEWSDESK_ADMIN_IDS)",
    ) -> None:
        super().__init__(f"not an admin: may not {what}")
        self.what, self.who = what, who


def admin_only(what: str) -> Callable[[T], T]:
    """For admins only (``Services.is_admin``), in servers only. Discord shows the command to
    members with Manage Server by default; the bot checks again on every call, so a server that
    shows it to everyone still cannot have it run by anyone else. ``what`` completes "Only
    admins can ..." in the refusal."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        if await interaction.client.services.is_admin(interaction):
            return True
        raise NotAdmin(what)

    def decorate(command: T) -> T:
        command = app_commands.check(predicate)(command)
        command = app_commands.default_permissions(manage_guild=True)(command)
        return app_commands.guild_only()(command)

    return decorate


def operators_only(what: str) -> Callable[[T], T]:
    """For the deployment's operators only (``Services.is_operator``): what touches every
    server's coverage. Shown to members with Manage Server, checked on every call."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        if await interaction.client.services.is_operator(interaction):
            return True
        raise NotAdmin(what, "the bot's operators (NEWSDESK_ADMIN_IDS, its home server's admins)")

    def decorate(command: T) -> T:
        command = app_commands.check(predicate)(command)
        command = app_commands.default_permissions(manage_guild=True)(command)
        return app_commands.guild_only()(command)

    return decorate


def channel_managers_only(what: str) -> Callable[[T], T]:
    """For members who may manage the channel (Manage Channels) and admins, in servers only;
    checked on every call like ``admin_only``."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        if await interaction.client.services.may_manage_channels(interaction):
            return True
        raise NotAdmin(
            what,
            "members who may manage channels (or the admins set with /settings or "
            "NEWSDESK_ADMIN_IDS)",
        )

    def decorate(command: T) -> T:
        command = app_commands.check(predicate)(command)
        command = app_commands.default_permissions(manage_channels=True)(command)
        return app_commands.guild_only()(command)

    return decorate
