"""Live coverage: articles fetched from URLs and from RSS/Atom feeds.

The feeds, their conditional-GET validators, the entries already taken and the web articles an
admin removed live in the state database (``FeedBook``). ``fetch_urls`` and ``poll`` do the
network work through one ``Fetcher`` (one request at a time, a delay per site) and return the
articles; ``Desk.add_requested`` and ``Desk.add_polled`` save and index them in one incremental
build, and only then record the poll, so the entries of a failed build are taken
again next time. The bot runs them on a schedule; ``python -m index fetch`` runs them once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import feedparser

from index.ingest.fetching import (
    FEED_TYPES,
    PAGE_TYPES,
    Fetcher,
    FetchPolicy,
    FetchRefused,
    FetchUnavailable,
)
from index.ingest.pages import NotAnArticle, WebArticle, canonical_url, extract
from index.statedb import StateDatabase
from index.statedb.base import Writer

log = logging.getLogger(__name__)

# New entries taken from one feed per poll, newest first: a feed's first poll can list a
# hundred old stories, and each costs a request and its delay.
MAX_NEW_ENTRIES = 30


class FeedRejected(ValueError):
    """A feed cannot be added or removed; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    guild_id: int | None  # None: from NEWSDESK_FEEDS, polled for every server
    added_by: int | None
    etag: str | None = None
    last_modified: str | None = None
    last_run: float | None = None
    last_added: int | None = None
    last_error: str | None = None


@dataclass
class FeedResult:
    """One feed's poll: what it brought, for the caller to index, then to ``FeedBook.record``."""

    feed: Feed
    articles: list[WebArticle] = field(default_factory=list)
    taken: dict[str, str] = field(default_factory=dict)  # entry -> its updated stamp
    failed: list[tuple[str, str]] = field(default_factory=list)  # (link, why)
    error: str | None = None  # why the feed itself could not be read
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Fetched:
    """What a list of URLs gave: articles, and for each URL refused, why."""

    articles: list[WebArticle] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


class FeedBook:
    """The feeds and the memory of what was taken, in the state database."""

    COLUMNS = "id, url, guild_id, added_by, etag, last_modified, last_run, last_added, last_error"

    def __init__(self, db: StateDatabase) -> None:
        self._db = db

    def use_settings(self, urls: Sequence[str]) -> None:
        """Make the feeds of NEWSDESK_FEEDS exactly ``urls`` (what they took is kept for
        those that stay)."""
        with self._db.writing() as db:
            kept = {
                row[1]: row[0]
                for row in db.execute("SELECT id, url FROM feeds WHERE guild_id IS NULL").fetchall()
            }
            for url in set(kept) - set(urls):
                self._delete(db, kept[url])
            for url in dict.fromkeys(urls):
                if url not in kept:
                    db.execute(
                        "INSERT INTO feeds (url, guild_id, added) VALUES (?, NULL, ?)",
                        (url, time.time()),
                    )

    def add(self, url: str, guild_id: int, user_id: int) -> Feed:
        if not url.startswith(("http://", "https://")):
            raise FeedRejected("A feed address starts with http:// or https://.")
        if any(feed.url == url for feed in self.listed(guild_id)):
            raise FeedRejected("That feed is already polled for this server.")
        with self._db.writing() as db:
            db.execute(
                "INSERT INTO feeds (url, guild_id, added_by, added) VALUES (?, ?, ?, ?)",
                (url, guild_id, user_id, time.time()),
            )
        return next(feed for feed in self.listed(guild_id) if feed.url == url)

    def remove(self, feed_id: int, guild_id: int) -> Feed:
        feed = next((f for f in self.listed(guild_id) if f.id == feed_id), None)
        if feed is None:
            raise FeedRejected("There is no such feed here; the list of feeds shows them.")
        if feed.guild_id is None:
            raise FeedRejected("That feed is set in NEWSDESK_FEEDS; the operator changes it there.")
        with self._db.writing() as db:
            self._delete(db, feed.id)
        return feed

    def listed(self, guild_id: int | None) -> list[Feed]:
        """The feeds a server sees: those from the settings and its own."""
        rows = self._db.rows(
            f"SELECT {self.COLUMNS} FROM feeds WHERE guild_id IS NULL OR guild_id = ? ORDER BY id",
            (guild_id,),
        )
        return [Feed(*row) for row in rows]

    def every(self) -> list[Feed]:
        return [Feed(*row) for row in self._db.rows(f"SELECT {self.COLUMNS} FROM feeds")]

    def taken(self, feed_id: int) -> dict[str, str]:
        rows = self._db.rows(
            "SELECT entry, updated FROM feed_entries WHERE feed_id = ?", (feed_id,)
        )
        return dict(rows)

    def record(self, result: FeedResult, added: int, failed: str | None = None) -> None:
        """After the build: the feed's validators, how its run went, the entries taken; after
        a ``failed`` build only how it went, so the next poll takes its entries again."""
        feed, kept = result.feed, result.error is None and failed is None
        with self._db.writing() as db:
            db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, last_run = ?, last_added = ?,"
                " last_error = ? WHERE id = ?",
                (
                    result.etag if kept else feed.etag,
                    result.last_modified if kept else feed.last_modified,
                    time.time(),
                    added,
                    failed or result.error or _failures(result.failed),
                    feed.id,
                ),
            )
            if not kept:
                return
            db.executemany(
                "INSERT INTO feed_entries (feed_id, entry, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (feed_id, entry) DO UPDATE SET updated = excluded.updated",
                [(feed.id, entry, updated) for entry, updated in result.taken.items()],
            )

    # Web articles an admin removed stay removed from that collection (``server``: a server's
    # own, None: the shared coverage): its feeds skip them until one is added by hand.

    def removed(self, url: str, server: int | None = None) -> bool:
        return bool(
            self._db.rows(
                "SELECT 1 FROM removed_web WHERE guild_id = ? AND url = ?", (server or 0, url)
            )
        )

    def remember_removed(self, url: str, server: int | None = None) -> None:
        with self._db.writing() as db:
            db.execute(
                "INSERT INTO removed_web (guild_id, url, at) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id, url) DO UPDATE SET at = excluded.at",
                (server or 0, canonical_url(url), time.time()),
            )

    def readmit(self, urls: Sequence[str], server: int | None = None) -> None:
        with self._db.writing() as db:
            db.executemany(
                "DELETE FROM removed_web WHERE guild_id = ? AND url = ?",
                [(server or 0, u) for u in urls],
            )

    @staticmethod
    def _delete(db: Writer, feed_id: int) -> None:
        db.execute("DELETE FROM feed_entries WHERE feed_id = ?", (feed_id,))
        db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))


async def fetch_urls(policy: FetchPolicy, urls: Sequence[str]) -> Fetched:
    """The articles at ``urls`` (one copy of each story), and why any was refused."""
    fetched = Fetched()
    async with Fetcher(policy) as fetcher:
        for url in dict.fromkeys(urls):
            try:
                fetched.articles.append(await _article(fetcher, url))
            except (FetchRefused, NotAnArticle) as reason:
                fetched.refused.append((url, str(reason)))
    fetched.articles = _one_copy(fetched.articles)
    return fetched


async def poll(policy: FetchPolicy, book: FeedBook, feeds: Sequence[Feed]) -> list[FeedResult]:
    """Each feed's new and updated entries, fetched one at a time."""
    async with Fetcher(policy) as fetcher:
        results = [await _poll_one(fetcher, book, feed) for feed in feeds]
    # The same story in two feeds: indexed once.
    kept = {id(a) for a in _one_copy([a for r in results for a in r.articles])}
    for result in results:
        result.articles = [a for a in result.articles if id(a) in kept]
    return results


async def _article(fetcher: Fetcher, url: str, feed_date: str | None = None) -> WebArticle:
    page = await fetcher.get(url, PAGE_TYPES)
    return extract(page.body, page.url, feed_date)


async def _poll_one(fetcher: Fetcher, book: FeedBook, feed: Feed) -> FeedResult:
    result = FeedResult(feed, etag=feed.etag, last_modified=feed.last_modified)
    try:
        answer = await fetcher.get(feed.url, FEED_TYPES, feed.etag, feed.last_modified)
    except FetchRefused as reason:
        result.error = str(reason)
        return result
    # A 304 need not repeat the validators: keep the ones that earned it.
    result.etag = answer.etag or feed.etag
    result.last_modified = answer.last_modified or feed.last_modified
    if answer.not_modified:
        return result
    parsed = feedparser.parse(answer.body)
    if parsed.bozo and not parsed.entries:
        result.error = f"{feed.url} is not a feed I can read ({parsed.bozo_exception})"
        return result
    taken = book.taken(feed.id)
    for entry in parsed.entries[:MAX_NEW_ENTRIES]:
        link = entry.get("link")
        key = entry.get("id") or link
        # dict.get: feedparser's own get maps a missing "updated" to "published", warning.
        updated = dict.get(entry, "updated") or dict.get(entry, "published") or ""
        if not link or not key or taken.get(key) == updated:
            continue
        if book.removed(canonical_url(link), feed.guild_id):
            result.taken[key] = updated
            continue
        stamp = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")  # UTC
        date = time.strftime("%Y-%m-%d", stamp) if stamp else None
        try:
            article = await _article(fetcher, link, date)
        except (FetchRefused, NotAnArticle) as reason:
            result.failed.append((link, str(reason)))
            if not isinstance(reason, FetchUnavailable):  # tried again next poll
                result.taken[key] = updated
            continue
        result.taken[key] = updated
        if not book.removed(article.url, feed.guild_id):
            result.articles.append(article)
    return result


def _one_copy(articles: list[WebArticle]) -> list[WebArticle]:
    """One article per canonical URL, the last fetched (the freshest) kept."""
    return list({article.url: article for article in articles}.values())


def _failures(failed: list[tuple[str, str]]) -> str | None:
    if not failed:
        return None
    return f"{len(failed)} entries not taken; first: {failed[0][1]}"
