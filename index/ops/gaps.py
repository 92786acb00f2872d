"""Coverage gaps: what members ask that the coverage does not answer, for the admins who keep it.

Every question answered in a server is recorded (``QuestionLog.record``): when, where, how
it went (sure, unsure, not covered) and how sure, and, only where the server's settings allow
it, its wording and its vector (the embedder's, to group it by meaning). Who asked is kept as a
salted hash, to count members, never to name them; direct messages are never recorded.
Rows older than the server's retention (90 days unless changed) are deleted.

``report`` gathers the questions of a period that were not covered, unsure, or voted down,
groups them by meaning (each joins the first group whose first question is at least
``GROUPED`` alike, by cosine), and lists the groups largest first: how many times, by how many
members, when last, two wordings. The caller adds what the coverage says to each group now
(``with_coverage``): the closest article, and whether a new article answers it surely.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from index.statedb import StateDatabase

if TYPE_CHECKING:  # the answer path loads models: only its type here
    from index.answer.records import Answer

# Questions this alike (cosine of their vectors) ask the same: on eval/gaps.jsonl (11 groups
# of paraphrases by different people, 15 questions alone), every pair is grouped right from
# 0.60 to 0.70 (0.994 at 0.75, 0.991 at 0.5; paraphrases are 0.64 to 0.98 alike, unrelated
# questions at most 0.56).
GROUPED = 0.65
BLOCK = 256  # questions compared with the groups found so far in one matrix product
RETENTION_DAYS = 90
OUTCOMES = ("sure", "unsure", "not covered")
DAY = 86_400.0


@dataclass(frozen=True)
class Asked:
    """One recorded question, as a report reads it."""

    at: float
    guild_id: int
    channel_id: int | None
    asker: str
    outcome: str
    confidence: float | None
    question: str | None  # None where the server keeps no wording
    vector: np.ndarray | None
    down: int  # 👎 votes its answer got


@dataclass
class Gap:
    """Questions that asked the same thing and were not answered well."""

    questions: list[Asked]
    examples: list[str] = field(default_factory=list)  # two wordings
    closest: str | None = None  # the closest article's title, when any
    answered: bool = False  # the coverage now answers it surely

    @property
    def times(self) -> int:
        return len(self.questions)

    @property
    def members(self) -> int:
        return len({q.asker for q in self.questions})

    @property
    def last(self) -> float:
        return max(q.at for q in self.questions)

    def outcomes(self) -> dict[str, int]:
        counted = {outcome: 0 for outcome in OUTCOMES}
        for q in self.questions:
            counted[q.outcome] += 1
        counted["voted down"] = sum(1 for q in self.questions if q.down)
        return counted

    def to_json(self) -> dict:
        return {
            "times": self.times,
            "members": self.members,
            "last_asked": self.last,
            "examples": self.examples,
            "outcomes": self.outcomes(),
            "closest_article": self.closest,
            "answered_now": self.answered,
        }


class QuestionLog:
    """The questions asked in servers, in the state database."""

    def __init__(self, db: StateDatabase) -> None:
        self._db = db
        self._salt = db.salt()

    def record(
        self,
        guild_id: int,
        channel_id: int | None,
        user_id: int,
        outcome: str,
        confidence: float | None,
        question: str | None,
        vector: np.ndarray | None,
        answer_id: int | None = None,
        keep_days: float = RETENTION_DAYS,
        now: float | None = None,
    ) -> None:
        """One answered question; ``question`` and ``vector`` only where the server keeps
        wordings (pass None for both otherwise). The server's questions older than
        ``keep_days`` go at the same time."""
        now = time.time() if now is None else now
        blob = None if vector is None else np.asarray(vector, dtype=np.float16).tobytes()
        with self._db.writing() as db:
            db.execute(
                "DELETE FROM questions WHERE guild_id = ? AND at < ?",
                (guild_id, now - keep_days * DAY),
            )
            db.execute(
                "INSERT INTO questions (guild_id, channel_id, asker, at, outcome, confidence,"
                " question, vector, answer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    self._asker(user_id),
                    now,
                    outcome,
                    confidence,
                    question,
                    blob,
                    answer_id,
                ),
            )

    def asked(
        self,
        guild_id: int | None,
        days: float,
        channel_id: int | None = None,
        now: float | None = None,
    ) -> list[Asked]:
        """The questions of the last ``days`` (a server's, or every server's with None)."""
        since = (time.time() if now is None else now) - days * DAY
        where, args = ["q.at >= ?"], [since]
        if guild_id is not None:
            where.append("q.guild_id = ?")
            args.append(guild_id)
        if channel_id is not None:
            where.append("q.channel_id = ?")
            args.append(channel_id)
        rows = self._db.rows(
            "SELECT q.at, q.guild_id, q.channel_id, q.asker, q.outcome, q.confidence,"
            " q.question, q.vector,"
            " (SELECT count(*) FROM votes v WHERE v.answer_id = q.answer_id AND v.up = 0)"
            f" FROM questions q WHERE {' AND '.join(where)} ORDER BY q.at",
            args,
        )
        return [
            Asked(at, guild, channel, asker, outcome, confidence, question, _vector(vector), down)
            for at, guild, channel, asker, outcome, confidence, question, vector, down in rows
        ]

    def _asker(self, user_id: int) -> str:
        return hashlib.sha256(f"{self._salt}:asker:{user_id}".encode()).hexdigest()[:20]


def _vector(blob: bytes | None) -> np.ndarray | None:
    if not blob:
        return None
    vector = np.frombuffer(bytes(blob), dtype=np.float16).astype(np.float32)
    return vector / (np.linalg.norm(vector) or 1.0)


def is_gap(asked: Asked) -> bool:
    """Not covered, unsure, or voted down: what an admin would want to look at."""
    return asked.outcome != "sure" or asked.down > 0


def group(questions: Sequence[Asked], alike: float = GROUPED) -> list[Gap]:
    """The questions grouped by meaning, largest group first (then the latest asked); those
    kept without a wording form one group of their own at the end.

    Each question joins the group whose first question is most alike, when that is at least
    ``alike``, else starts one. The questions are compared a block at a time with one matrix
    product against the groups found before the block (10,000 questions: BENCHMARKS.md)."""
    worded = [(q, q.vector) for q in questions if q.vector is not None]
    groups: list[list[Asked]] = []
    if worded:
        vectors = np.stack([vector for _, vector in worded])
        leaders = np.empty_like(vectors)  # each group's first question
        count = 0
        for start in range(0, len(worded), BLOCK):
            block = vectors[start : start + BLOCK]
            before = count
            earlier = block @ leaders[:before].T  # against the groups found before the block
            for row, ((q, _), vector) in enumerate(
                zip(worded[start : start + BLOCK], block, strict=True)
            ):
                best, score = -1, -np.inf
                if before:
                    best = int(np.argmax(earlier[row]))
                    score = earlier[row, best]
                if count > before:  # groups started within this block
                    within = leaders[before:count] @ vector
                    j = int(np.argmax(within))
                    if within[j] > score:
                        best, score = before + j, within[j]
                if score >= alike:
                    groups[best].append(q)
                else:
                    leaders[count] = vector
                    count += 1
                    groups.append([q])
    gaps = [Gap(g, _examples(g)) for g in groups]
    gaps.sort(key=lambda g: (-g.times, -g.last))
    unworded = [q for q in questions if q.vector is None]
    if unworded:
        gaps.append(Gap(unworded, []))
    return gaps


def _examples(questions: list[Asked]) -> list[str]:
    """The two latest different wordings."""
    wordings = list(dict.fromkeys(q.question for q in reversed(questions) if q.question))
    return wordings[:2]


def report(
    log: QuestionLog, guild_id: int | None, days: float, channel_id: int | None = None
) -> list[Gap]:
    """The gaps of the last ``days``, grouped, largest first (without the coverage's word on
    each: ``with_coverage``)."""
    return gaps_of(log.asked(guild_id, days, channel_id))


def gaps_of(asked: Sequence[Asked]) -> list[Gap]:
    return group([q for q in asked if is_gap(q)])


def with_coverage(gaps: Sequence[Gap], ask: Callable[[str], Answer]) -> None:
    """What the coverage says to each group now: its closest article, and whether it answers
    the group's latest wording surely (an article added since answers it)."""
    for gap in gaps:
        if not gap.examples:
            continue
        answer = ask(gap.examples[0])
        gap.answered = answer.status == "sure"
        gap.closest = (
            answer.article
            if answer.covered
            else (answer.passages[0].title if answer.passages else None)
        )


def to_csv(gaps: Sequence[Gap]) -> str:
    """The report as CSV: one row per group, counts only (no member, no channel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["times", "members", "last_asked_utc", "not_covered", "unsure", "voted_down",
         "example", "other_example", "closest_article", "answered_now"]
    )  # fmt: skip
    for gap in gaps:
        counted = gap.outcomes()
        examples = [*gap.examples, "", ""][:2]
        writer.writerow(
            [
                gap.times,
                gap.members,
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(gap.last)),
                counted["not covered"],
                counted["unsure"],
                counted["voted down"],
                *examples,
                gap.closest or "",
                "yes" if gap.answered else "no",
            ]
        )
    return out.getvalue()
