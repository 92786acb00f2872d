"""Followed stories: a topic followed in a channel, and the new coverage of it to post there.

A follow is a topic followed in one channel. Whenever the coverage may have changed (a feed
poll, an article added, a reindex, or the periodic check that sees what other processes built),
``FollowBook.news`` takes, per follow, the articles it has not looked at yet (an article whose
text changed counts as new), builds the topic's timeline of what they add
(``Timelines.build(within=...)``), and claims them in the state database before anything is
posted. The claim, a row per follow and article, is what makes each new article announced at
most once per follow, across restarts and across processes. A channel takes at most one post
per ``interval`` seconds (NEWSDESK_FOLLOW_POST_INTERVAL_SECONDS), claimed in the database too;
a follow whose channel is not free keeps its articles unclaimed for the next check.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from index.search.scope import Scope
from index.search.storage.base import ArticleRecord
from index.statedb import StateDatabase
from index.statedb.base import Writer
from index.stories.timeline import Entry, Timelines

MAX_FOLLOWS_PER_SERVER = 25
MAX_TOPIC_CHARS = 100
ENTRIES_PER_POST = 2


class FollowRejected(ValueError):
    """A follow cannot be made or removed; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Follow:
    id: int
    guild_id: int
    channel_id: int
    topic: str
    created: float


@dataclass(frozen=True)
class News:
    """What to post for one follow: its newest entries, and how many there were."""

    follow: Follow
    entries: list[Entry]  # at most ENTRIES_PER_POST, oldest first
    count: int  # entries the new articles added in all


def sentence_key(sentence: str) -> str:
    return hashlib.sha256(" ".join(sentence.split()).encode()).hexdigest()[:24]


def _tell(db: Writer, follow_id: int, sentences: Sequence[str]) -> None:
    db.executemany(
        "INSERT INTO follow_told (follow_id, sentence) VALUES (?, ?)"
        " ON CONFLICT (follow_id, sentence) DO NOTHING",
        [(follow_id, sentence_key(s)) for s in dict.fromkeys(sentences)],
    )


def seen_key(article: ArticleRecord) -> str:
    """An article as a follow remembers it: changed text is a new article to look at."""
    return f"{article.id}@{article.hash[:16]}"


class FollowBook:
    """The follows and what each has been shown, in the state database."""

    COLUMNS = "id, guild_id, channel_id, topic, created"

    def __init__(self, db: StateDatabase, interval: float = 60.0) -> None:
        self._db = db
        self.interval = interval

    def follow(
        self,
        guild_id: int,
        channel_id: int,
        topic: str,
        articles: Sequence[ArticleRecord],
        told: Sequence[str] = (),
    ) -> Follow:
        """Follow ``topic`` in a channel from now on: the articles indexed now are not news,
        nor are the sentences ``told`` (the story's timeline so far), should their article
        change."""
        topic = " ".join(topic.split())
        if not topic:
            raise FollowRejected("Name the story to follow, e.g. “Kellbridge floods”.")
        if len(topic) > MAX_TOPIC_CHARS:
            raise FollowRejected(f"Keep the topic under {MAX_TOPIC_CHARS} characters.")
        followed = self.following(guild_id)
        if any(f.channel_id == channel_id and f.topic.lower() == topic.lower() for f in followed):
            raise FollowRejected(f"“{topic}” is already followed in this channel.")
        if len(followed) >= MAX_FOLLOWS_PER_SERVER:
            raise FollowRejected(
                f"This server follows {MAX_FOLLOWS_PER_SERVER} stories, the most it may; "
                "/unfollow one first."
            )
        now = time.time()
        with self._db.writing() as db:
            [follow_id] = db.execute(
                "INSERT INTO follows (guild_id, channel_id, topic, created) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (guild_id, channel_id, topic, now),
            ).fetchone()
            db.executemany(
                "INSERT INTO follow_articles (follow_id, article, at) VALUES (?, ?, ?)"
                " ON CONFLICT (follow_id, article) DO NOTHING",
                [(follow_id, seen_key(a), now) for a in articles],
            )
            _tell(db, follow_id, told)
        return Follow(follow_id, guild_id, channel_id, topic, now)

    def unfollow(self, follow_id: int, guild_id: int) -> Follow:
        follow = next((f for f in self.following(guild_id) if f.id == follow_id), None)
        if follow is None:
            raise FollowRejected("No such story is followed here; /following lists them.")
        with self._db.writing() as db:
            db.execute("DELETE FROM follow_articles WHERE follow_id = ?", (follow.id,))
            db.execute("DELETE FROM follow_told WHERE follow_id = ?", (follow.id,))
            db.execute("DELETE FROM follows WHERE id = ?", (follow.id,))
        return follow

    def following(self, guild_id: int | None = None) -> list[Follow]:
        """A server's follows (every server's with None), oldest first."""
        if guild_id is None:
            rows = self._db.rows(f"SELECT {self.COLUMNS} FROM follows ORDER BY id")
        else:
            rows = self._db.rows(
                f"SELECT {self.COLUMNS} FROM follows WHERE guild_id = ? ORDER BY id", (guild_id,)
            )
        return [Follow(*row) for row in rows]

    def get(self, follow_id: int) -> Follow | None:
        rows = self._db.rows(f"SELECT {self.COLUMNS} FROM follows WHERE id = ?", (follow_id,))
        return Follow(*rows[0]) if rows else None

    def news(
        self,
        timelines: Timelines,
        articles: Sequence[ArticleRecord],
        guilds: set[int] | None = None,
        now: float | None = None,
    ) -> list[News]:
        """For every follow (in ``guilds``, those the caller can post to), what the articles
        it has not looked at add to its story: claimed here, so the caller posts each exactly
        once (and nobody else does)."""
        now = time.time() if now is None else now
        found = []
        for follow in self.following():
            if guilds is not None and follow.guild_id not in guilds:
                continue
            # A follow is told from its server's coverage only (and the shared one).
            scope = Scope(follow.guild_id)
            mine = [a for a in articles if scope.admits(a.id, a.source, a.date)]
            unseen = self._unseen(follow, mine)
            if not unseen:
                continue
            timeline = timelines.build(follow.topic, within={a.id for a in unseen}, scope=scope)
            if not timeline.entries:
                self._claim(follow, unseen, now)  # nothing for this story: looked at
                continue
            if not self._channel_free(follow.channel_id, now):
                continue  # the channel had a post just now: these wait for the next check
            claimed = {key.split("@")[0] for key in self._claim(follow, unseen, now)}
            entries = [e for e in timeline.entries if e.article_id in claimed]
            entries = self._untold(follow, entries)
            if entries:
                found.append(News(follow, entries[-ENTRIES_PER_POST:], len(entries)))
        return found

    def _untold(self, follow: Follow, entries: list[Entry]) -> list[Entry]:
        """The entries the follow has not told before (an article that changed keeps most of
        its sentences), now marked told."""
        told = {
            key
            for (key,) in self._db.rows(
                "SELECT sentence FROM follow_told WHERE follow_id = ?", (follow.id,)
            )
        }
        untold = [e for e in entries if sentence_key(e.sentence) not in told]
        with self._db.writing() as db:
            _tell(db, follow.id, [e.sentence for e in untold])
        return untold

    def _unseen(self, follow: Follow, articles: Sequence[ArticleRecord]) -> list[ArticleRecord]:
        seen = {
            key
            for (key,) in self._db.rows(
                "SELECT article FROM follow_articles WHERE follow_id = ?", (follow.id,)
            )
        }
        return [a for a in articles if seen_key(a) not in seen]

    def _claim(self, follow: Follow, articles: Sequence[ArticleRecord], now: float) -> list[str]:
        """Mark ``articles`` looked at; returns the keys this call claimed (not another's)."""
        claimed = []
        with self._db.writing() as db:
            for article in articles:
                row = db.execute(
                    "INSERT INTO follow_articles (follow_id, article, at) VALUES (?, ?, ?)"
                    " ON CONFLICT (follow_id, article) DO NOTHING RETURNING article",
                    (follow.id, seen_key(article), now),
                ).fetchone()
                if row is not None:
                    claimed.append(row[0])
        return claimed

    def _channel_free(self, channel_id: int, now: float) -> bool:
        """Take the channel's posting slot when its last post is old enough (one process
        wins it)."""
        with self._db.writing() as db:
            row = db.execute(
                "INSERT INTO follow_channels (channel_id, last_post) VALUES (?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET last_post = excluded.last_post"
                " WHERE follow_channels.last_post <= ? RETURNING channel_id",
                (channel_id, now, now - self.interval),
            ).fetchone()
        return row is not None
