"""The bot's own settings: the index's (``index.settings``) and Discord's, read from the same
environment and ``.env`` (``NEWSDESK_`` names, listed in ``.env.example``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.settings import PREFIX, Settings, SettingsError

# Where answers go: "off" in place; "mentions" a mention opens a thread, /ask answers in place;
# "all" both open a thread.
THREAD_MODES = ("off", "mentions", "all")


@dataclass(frozen=True)
class BotSettings(Settings):
    """Discord's settings beside the index's: the token, who administers, the defaults of each
    server, shards and the operators' endpoints."""

    discord_token: str = field(default="", repr=False)
    guild_id: int | None = None
    admin_ids: frozenset[int] = frozenset()
    channel_ids: frozenset[int] = frozenset()
    cooldown_seconds: float = 5.0
    max_question_chars: int = 500
    log_questions: bool = True
    # Each server's default for keeping questions' wording for /gaps (it may turn it off with
    # /settings; it is NEWSDESK_LOG_QUESTIONS's), and how many days questions are kept.
    question_retention_days: int = 90
    answer_dms: bool = True
    # Shards (discord.py's), for several bot processes on one database: each runs shard_ids
    # of shard_count; unset, one process runs the one connection. Jobs (a reindex, the feed
    # poll) run once across them (index/ops/jobs.py).
    shard_count: int | None = None
    shard_ids: frozenset[int] = frozenset()
    # /metrics and /healthz on this port (unset: not served), on this address.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # Defaults for each server; its admins change them with /settings.
    thread_mode: str = "mentions"
    forum_answers: bool = False  # answer each new post of a forum channel in its thread
    feedback_buttons: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.question_retention_days < 1:
            raise SettingsError(
                f"{PREFIX}QUESTION_RETENTION_DAYS={self.question_retention_days} is not valid: "
                "1 day or more"
            )
        if self.shard_ids and self.shard_count is None:
            raise SettingsError(f"{PREFIX}SHARD_IDS needs {PREFIX}SHARD_COUNT: how many in all")
        if self.shard_count is not None and self.shard_count < 1:
            raise SettingsError(f"{PREFIX}SHARD_COUNT={self.shard_count} is not valid: 1 or more")
        if self.shard_count is not None and any(
            not 0 <= shard < self.shard_count for shard in self.shard_ids
        ):
            raise SettingsError(
                f"{PREFIX}SHARD_IDS must each be from 0 to {PREFIX}SHARD_COUNT - 1 "
                f"({self.shard_count - 1})"
            )
        if self.thread_mode not in THREAD_MODES:
            raise SettingsError(
                f"{PREFIX}THREAD_MODE={self.thread_mode!r} is not valid: use one of "
                + ", ".join(THREAD_MODES)
            )
