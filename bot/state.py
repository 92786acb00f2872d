"""What the bot remembers across restarts: each server's settings and conversations, and the
timelines whose page buttons it sent.

Both live in the state database (``index.statedb``) beside the feedback votes, not in the
index, so a reindex never touches them. They are read from it at every use, not kept per
process: with PostgreSQL, a /settings change made through one bot process holds at once in
the others, and any of them can answer a thread's follow-up.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.settings import BotSettings
from index.answer.followups import Turn
from index.statedb import StateDatabase, StateUnavailable

log = logging.getLogger(__name__)

# Turns of a thread a follow-up is read against: the rewrite uses the last, older ones add
# nothing but noise.
HISTORY_TURNS = 3


@dataclass(frozen=True)
class ServerSettings:
    """The settings a server's admins may change with /settings; defaults from the environment."""

    channel_ids: frozenset[int]  # empty: every channel
    thread_mode: str
    cooldown_seconds: float
    max_question_chars: int
    admin_role_id: int | None
    feedback_buttons: bool
    forum_answers: bool
    keep_questions: bool  # keep questions' wording for /gaps (never in direct messages)
    retention_days: int  # how long questions are kept

    @classmethod
    def defaults(cls, settings: BotSettings) -> ServerSettings:
        return cls(
            channel_ids=settings.channel_ids,
            thread_mode=settings.thread_mode,
            cooldown_seconds=settings.cooldown_seconds,
            max_question_chars=settings.max_question_chars,
            admin_role_id=None,
            feedback_buttons=settings.feedback_buttons,
            forum_answers=settings.forum_answers,
            keep_questions=settings.log_questions,
            retention_days=settings.question_retention_days,
        )


class BotState:
    def __init__(self, db: StateDatabase, settings: BotSettings) -> None:
        self._db = db
        self._defaults = ServerSettings.defaults(settings)
        # The last settings read for each server: used only while the database is away, so
        # that questions are still answered (from the index, or its replica) as the server
        # wants them.
        self._last_read: dict[int, ServerSettings] = {}

    # Per-server settings.

    def server(self, guild_id: int | None) -> ServerSettings:
        """One server's settings, read at every use (one indexed query: 0.1 ms)."""
        if guild_id is None:
            return self._defaults
        try:
            rows = self._db.rows(
                "SELECT name, value FROM server_settings WHERE guild_id = ?", (guild_id,)
            )
        except StateUnavailable as error:
            log.warning("server %s: settings as last read (%s)", guild_id, error)
            return self.last_read(guild_id)
        known = {f.name for f in fields(ServerSettings)}
        stored = {name: _load(name, value) for name, value in rows if name in known}
        self._last_read[guild_id] = replace(self._defaults, **stored)
        return self._last_read[guild_id]

    def last_read(self, guild_id: int | None) -> ServerSettings:
        """The settings this process last read for the server (defaults before any read)."""
        if guild_id is None:
            return self._defaults
        return self._last_read.get(guild_id, self._defaults)

    def change(self, guild_id: int, user_id: int, **changes: Any) -> ServerSettings:
        """Apply ``changes`` to one server, logging each with who made it."""
        before = self.server(guild_id)
        after = replace(before, **changes)
        now = time.time()
        with self._db.writing() as db:
            for name, value in changes.items():
                old, new = _dump(getattr(before, name)), _dump(value)
                if old == new:
                    continue
                db.execute(
                    "INSERT INTO server_settings (guild_id, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (guild_id, name) DO UPDATE SET value = excluded.value",
                    (guild_id, name, new),
                )
                db.execute(
                    "INSERT INTO settings_changes (guild_id, user_id, name, old, new, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (guild_id, user_id, name, old, new, now),
                )
                log.info(
                    "server %s: %s changed %s from %s to %s", guild_id, user_id, name, old, new
                )
        self._last_read[guild_id] = after
        return after

    def changes(self, guild_id: int) -> list[tuple[int, str, str, str, float]]:
        """(user id, setting, old, new, time) of every change in one server, oldest first."""
        return self._db.rows(
            "SELECT user_id, name, old, new, at FROM settings_changes WHERE guild_id = ? "
            "ORDER BY rowid",
            (guild_id,),
        )

    # Conversations: the threads the bot answers in, and what was asked there.

    def add_turn(self, thread_id: int, guild_id: int | None, question: str, answer: str) -> None:
        """Record a turn, making the thread a conversation if it was not one yet."""
        now = time.time()
        with self._db.writing() as db:
            db.execute(
                "INSERT INTO conversations (thread_id, guild_id, started) VALUES (?, ?, ?) "
                "ON CONFLICT (thread_id) DO NOTHING",
                (thread_id, guild_id, now),
            )
            db.execute(
                "INSERT INTO turns (thread_id, question, answer, at) VALUES (?, ?, ?, ?)",
                (thread_id, question, answer, now),
            )

    def conversation(self, thread_id: int) -> list[Turn] | None:
        """The thread's last few turns, oldest first; None when it is not a conversation."""
        if not self._db.rows("SELECT 1 FROM conversations WHERE thread_id = ?", (thread_id,)):
            return None
        rows = self._db.rows(
            "SELECT question, answer FROM turns WHERE thread_id = ? ORDER BY at DESC, rowid DESC "
            "LIMIT ?",
            (thread_id, HISTORY_TURNS),
        )
        return [Turn(question, answer) for question, answer in reversed(rows)]

    # Timelines sent with page buttons: a button's id holds only the row's.

    def keep_timeline(self, query: str, since: str | None) -> int:
        """The id of a timeline request (the same one for the same query and date)."""
        with self._db.writing() as db:
            row = db.execute(
                "INSERT INTO timelines (query, since, created) VALUES (?, ?, ?)"
                " ON CONFLICT (query, since) DO NOTHING RETURNING id",
                (query, since or "", time.time()),
            ).fetchone()
            if row is None:
                row = db.execute(
                    "SELECT id FROM timelines WHERE query = ? AND since = ?", (query, since or "")
                ).fetchone()
        return row[0]

    def kept_timeline(self, timeline_id: int) -> tuple[str, str | None] | None:
        """The query and date of a kept timeline request, or None."""
        rows = self._db.rows("SELECT query, since FROM timelines WHERE id = ?", (timeline_id,))
        return (rows[0][0], rows[0][1] or None) if rows else None


def _dump(value: Any) -> str:
    return json.dumps(sorted(value) if isinstance(value, frozenset) else value)


def _load(name: str, value: str) -> Any:
    loaded = json.loads(value)
    return frozenset(loaded) if name == "channel_ids" else loaded
