"""Feedback: the answers given and the 👍/👎 votes cast on them.

Kept in the state database (``index.statedb``), beside the index. Voters are
stored as a salted hash of their id (the salt is made once per database), which is enough to
keep one vote per person per answer without keeping who they are.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index.statedb import StateDatabase

if TYPE_CHECKING:  # importing the answer pipeline costs seconds the CLI's export need not pay
    from index.answer.records import Answer

REASONS = {
    "wrong_answer": "Wrong answer",
    "wrong_source": "Wrong source",
    "not_covered": "Not covered by the articles",
    "other": "Something else",
}


@dataclass(frozen=True)
class Rated:
    """An answer with its votes, as ``/feedback`` lists it."""

    id: int
    question: str
    answer: str
    up: int
    down: int
    reasons: list[str]
    created: float


class FeedbackLog:
    def __init__(self, db: StateDatabase) -> None:
        self._db = db
        self._salt = db.salt()

    def record(self, question: str, answer: Answer, guild_id: int | None) -> int:
        """Store an answer about to be shown; returns the id its vote buttons carry."""
        shown = [{"article": p.title, "source": p.source, "text": p.text} for p in answer.passages]
        with self._db.writing() as db:
            [answer_id] = db.execute(
                "INSERT INTO answers (guild_id, question, asked_as, answer, covered, passages,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    guild_id,
                    question,
                    answer.read_as or answer.question,
                    answer.text,
                    int(answer.covered),
                    json.dumps(shown),
                    time.time(),
                ),
            ).fetchone()
        return answer_id

    def vote(self, answer_id: int, user_id: int, up: bool) -> bool:
        """One vote per person per answer; a second click changes it. False: no such answer."""
        with self._db.writing() as db:
            if not db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone():
                return False
            db.execute(
                "INSERT INTO votes (answer_id, voter, up, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, voter) DO UPDATE SET up = excluded.up, at = excluded.at,"
                " reason = CASE WHEN excluded.up = 1 THEN NULL ELSE votes.reason END",
                (answer_id, self._voter(user_id), int(up), time.time()),
            )
        return True

    def explain(self, answer_id: int, user_id: int, reason: str) -> bool:
        """Say what was wrong with an answer this person voted down."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        with self._db.writing() as db:
            cursor = db.execute(
                "UPDATE votes SET reason = ? WHERE answer_id = ? AND voter = ? AND up = 0",
                (reason, answer_id, self._voter(user_id)),
            )
        return cursor.rowcount == 1

    def votes(self, answer_id: int) -> tuple[int, int]:
        """(👍, 👎) on one answer."""
        [(up, down)] = self._db.rows(
            "SELECT COALESCE(SUM(up), 0), COALESCE(SUM(1 - up), 0) FROM votes WHERE answer_id = ?",
            (answer_id,),
        )
        return up, down

    def counts(self, guild_id: int | None = None) -> dict[str, int]:
        """Answers given, and votes up and down, in one server or everywhere."""
        where, args = _in_guild(guild_id)
        [(answers,)] = self._db.rows(f"SELECT COUNT(*) FROM answers a {where}", args)
        [(up, down)] = self._db.rows(
            "SELECT COALESCE(SUM(v.up), 0), COALESCE(SUM(1 - v.up), 0) "
            f"FROM votes v JOIN answers a ON a.id = v.answer_id {where}",
            args,
        )
        return {"answers": answers, "up": up, "down": down}

    def worst(self, limit: int | None = 5, guild_id: int | None = None) -> list[Rated]:
        """Answers voted down, most 👎 over 👍 first, then most recent (``limit`` None: all)."""
        where, args = _in_guild(guild_id)
        rows = self._db.rows(
            "SELECT a.id, a.question, a.answer, SUM(v.up), SUM(1 - v.up), a.created "
            f"FROM answers a JOIN votes v ON v.answer_id = a.id {where} "
            "GROUP BY a.id HAVING SUM(1 - v.up) > 0 "
            "ORDER BY SUM(1 - v.up) - SUM(v.up) DESC, a.created DESC"
            + ("" if limit is None else " LIMIT ?"),
            (*args, *([] if limit is None else [limit])),
        )
        reasons = self._reasons([row[0] for row in rows])
        return [
            Rated(id, question, answer, up, down, reasons.get(id, []), created)
            for id, question, answer, up, down, created in rows
        ]

    def _reasons(self, answer_ids: list[int]) -> dict[int, list[str]]:
        """The reasons given for each of these answers, in the order they were given."""
        if not answer_ids:
            return {}
        reasons: dict[int, list[str]] = {}
        for answer_id, reason in self._db.rows(
            f"SELECT answer_id, reason FROM votes WHERE answer_id IN ({_marks(answer_ids)}) "
            "AND reason IS NOT NULL ORDER BY at",
            answer_ids,
        ):
            reasons.setdefault(answer_id, []).append(reason)
        return reasons

    def export(self, path: Path) -> int:
        """Write the voted-down questions as eval lines (answers and evidence left to fill in)."""
        rated = self.worst(limit=None)
        ids = [item.id for item in rated]
        shown = (
            {
                answer_id: (asked_as, passages)
                for answer_id, asked_as, passages in self._db.rows(
                    f"SELECT id, asked_as, passages FROM answers WHERE id IN ({_marks(ids)})", ids
                )
            }
            if ids
            else {}
        )
        with open(path, "w", encoding="utf-8") as out:
            for item in rated:
                asked_as, passages = shown[item.id]
                line = {
                    "id": f"feedback-{item.id}",
                    "question": item.question,
                    "answers": [],  # to fill in: what the right answer says
                    "evidence": "",  # to fill in: a phrase of the passage that holds it
                    "answerable": "not_covered" not in item.reasons,
                    "feedback": {
                        "up": item.up,
                        "down": item.down,
                        "reasons": item.reasons,
                        "answer_given": item.answer,
                        "asked_as": asked_as,
                        "passages_shown": [p["article"] for p in json.loads(passages)],
                    },
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return len(rated)

    def _voter(self, user_id: int) -> str:
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()


def _marks(values: list) -> str:
    return ",".join("?" * len(values))


def _in_guild(guild_id: int | None) -> tuple[str, tuple]:
    return ("WHERE a.guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
