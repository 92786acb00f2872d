"""``python -m bot``: run Newsdesk on Discord with the settings from the environment and .env."""

from __future__ import annotations

import asyncio
import logging
import sys

import discord

from bot.settings import BotSettings
from index.errors import ONE_LINE_ERRORS
from index.settings import SettingsError

log = logging.getLogger("bot")

MISSING_TOKEN = (
    "error: no Discord bot token. Put this line in .env (copy .env.example):\n"
    "  NEWSDESK_DISCORD_TOKEN=<the token from discord.com/developers/applications -> your app "
    "-> Bot -> Reset Token>\n"
    "The README's 'Create the Discord application' section walks through it."
)


class RedactSecrets(logging.Filter):
    """Replaces the token wherever it would appear in a log line, traceback included."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        record.msg, record.args = message, ()
        return True


def configure_logging(token: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(token))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)


async def run(settings: BotSettings) -> int:
    # Imported here: the models load only once the settings are known to be usable.
    from bot.client import newsdesk_bot
    from bot.services import Services
    from bot.shards import ShardGuard

    guard = None
    if settings.shard_count is not None and settings.database_url:
        # Before anything else: a second process for the same shards is refused at once.
        shards = settings.shard_ids or frozenset(range(settings.shard_count))
        guard = ShardGuard(settings.database_url, sorted(shards), settings.shard_count)
        await asyncio.to_thread(guard.acquire)
    try:
        # Every service first (the models, the state database): what cannot start stops the
        # start here, with one line, before logging in.
        services = await asyncio.to_thread(Services.build, settings)
        async with newsdesk_bot(services, guard=guard) as bot:
            await bot.start(settings.discord_token)
        return bot.exit_code
    finally:
        if guard is not None:
            guard.release()


def main() -> int:
    try:
        settings = BotSettings.from_env()
        if not settings.discord_token.strip():
            print(MISSING_TOKEN, file=sys.stderr)
            return 2
        settings.check_paths()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.discord_token)
    try:
        return asyncio.run(run(settings))
    except discord.LoginFailure:
        print(
            "error: Discord rejected the token in NEWSDESK_DISCORD_TOKEN. Reset it in the "
            "developer portal (your app -> Bot -> Reset Token) and update .env.",
            file=sys.stderr,
        )
        return 1
    except discord.PrivilegedIntentsRequired:
        print(
            "error: the Message Content intent is not enabled for this bot. Turn it on in the "
            "developer portal (your app -> Bot -> Privileged Gateway Intents).",
            file=sys.stderr,
        )
        return 1
    except ONE_LINE_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
