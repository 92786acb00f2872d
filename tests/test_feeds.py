"""Feeds and web articles into the real index: conditional GET, new entries only, one copy of
each story, updates replacing the old passages, removals that stick, dates in answers."""

from __future__ import annotations

import pytest

from index.ingest.feeds import FeedBook, FeedRejected, fetch_urls, poll
from index.ingest.fetching import FetchPolicy
from index.ops.desk import Desk
from index.statedb import open_state

from .newssite import BRIDGE, FLOODS_THURSDAY, NewsSite

OPEN = FetchPolicy(allow_private=True, delay=0, timeout=5)


@pytest.fixture
def desk(bot_settings, embedder) -> Desk:
    desk = Desk(bot_settings, embedder)
    desk.open()
    return desk


@pytest.fixture
def book(bot_settings) -> FeedBook:
    return FeedBook(open_state(bot_settings.state_db))


async def poll_once(desk: Desk, book: FeedBook) -> list:
    results = await poll(OPEN, book, book.every())
    desk.add_polled(book, results)
    return results


async def test_a_feed_brings_new_stories_with_their_dates_and_the_latest_wins(
    news_site: NewsSite, desk: Desk, book: FeedBook
) -> None:
    book.use_settings([news_site.url("/rss.xml")])
    [first] = await poll_once(desk, book)
    assert [a.title for a in first.articles] == ["Floods kill 74 in the river valley"]
    answer = desk.ask("How many people have the floods killed in the Arden valley?")
    assert answer.text == "74" and answer.date == "2026-11-23"

    news_site.publish(FLOODS_THURSDAY)
    [second] = await poll_once(desk, book)
    assert [a.title for a in second.articles] == [FLOODS_THURSDAY.title]  # new entries only
    # Without the preference for the newest article this answers 74 (recency_weight=0).
    latest = desk.ask("What is the latest number of people killed by the floods?")
    assert latest.text == "81" and latest.date == "2026-11-26"
    # Not asked for the latest: the older story may answer, and the answer says a newer one
    # is among its passages.
    older = desk.ask("How many people have the Arden valley floods killed?")
    assert older.text == "74" and older.newer() is not None
    assert older.newer().date == "2026-11-26"
    dates = {a.title: a.date for a in desk.articles()}
    assert dates[FLOODS_THURSDAY.title] == "2026-11-26"
    assert [a.date for a in desk.articles()][:2] == ["2026-11-26", "2026-11-23"]  # newest first

    [third] = await poll_once(desk, book)
    assert third.articles == [] and third.error is None
    feed_requests = news_site.asked("/rss.xml")
    assert "If-None-Match" not in feed_requests[0].headers
    assert feed_requests[-1].headers["If-None-Match"]  # answered 304: nothing fetched after it
    [feed] = book.every()
    assert feed.last_added == 0 and feed.last_run is not None and feed.last_error is None


async def test_the_same_story_in_two_feeds_is_one_article(
    news_site: NewsSite, desk: Desk, book: FeedBook
) -> None:
    # The RSS feed links the story page with tracking parameters, the Atom feed its AMP copy.
    book.use_settings([news_site.url("/rss.xml"), news_site.url("/atom.xml")])
    results = await poll_once(desk, book)
    assert sum(len(r.articles) for r in results) == 1
    assert sum(a.title.startswith("Floods kill 74") for a in desk.articles()) == 1


async def test_an_updated_story_replaces_its_old_passages(
    news_site: NewsSite, desk: Desk, book: FeedBook
) -> None:
    url = news_site.url("/changing")
    records, _ = desk.add_requested(book, (await fetch_urls(OPEN, [url])).articles)
    assert records[0].date == "2026-11-21"
    assert "74" in desk.ask("What is the death toll from the river floods?").text
    records, report = desk.add_requested(book, (await fetch_urls(OPEN, [url])).articles)
    assert report.changed == [records[0].id] and report.added == []
    assert records[0].date == "2026-11-22"
    answer = desk.ask("What is the death toll from the river floods?")
    assert "81" in answer.text
    assert all("risen to 74" not in p.text for p in answer.passages)


async def test_a_removed_story_stays_removed_until_added_by_hand(
    news_site: NewsSite, desk: Desk, book: FeedBook
) -> None:
    book.use_settings([news_site.url("/rss.xml")])
    await poll_once(desk, book)
    [story] = [a for a in desk.articles() if a.url and "floods-monday" in a.url]
    desk.remove_article(story.id)
    book.remember_removed(story.url)
    # Another feed brings the same story (as its AMP copy): it is not taken back.
    book.use_settings([news_site.url("/rss.xml"), news_site.url("/atom.xml")])
    results = await poll_once(desk, book)
    assert all(r.articles == [] for r in results)
    assert story.id not in {a.id for a in desk.articles()}
    # An admin adding it by URL takes it back.
    desk.add_requested(book, (await fetch_urls(OPEN, [story.url])).articles)
    assert story.id in {a.id for a in desk.articles()} and not book.removed(story.url)


async def test_an_entry_that_cannot_be_fetched_is_reported_not_indexed(
    news_site: NewsSite, desk: Desk, book: FeedBook
) -> None:
    news_site.publish(BRIDGE, with_page=False)
    book.use_settings([news_site.url("/rss.xml")])
    before = len(desk.articles())
    [result] = await poll(OPEN, book, book.every())
    assert [link for link, _ in result.failed] == [news_site.url("/news/bridge?utm_source=rss")]
    desk.add_polled(book, [result])
    assert len(desk.articles()) == before + 1  # the story that could be fetched
    [feed] = book.every()
    assert feed.last_added == 1 and "404" in (feed.last_error or "")


async def test_a_failed_build_leaves_the_corpus_and_the_feed_as_they_were(
    news_site: NewsSite, desk: Desk, book: FeedBook, monkeypatch
) -> None:
    book.use_settings([news_site.url("/rss.xml")])
    corpus_before = sorted(p.name for p in desk.settings.corpus_dir.rglob("*") if p.is_file())

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("index.ops.desk.build", broken)
    results = await poll(OPEN, book, book.every())
    with pytest.raises(OSError):
        desk.add_polled(book, results)
    assert sorted(p.name for p in desk.settings.corpus_dir.rglob("*") if p.is_file()) == (
        corpus_before
    )
    [feed] = book.every()
    assert "disk full" in (feed.last_error or "") and feed.etag is None
    assert book.taken(feed.id) == {}  # the next poll takes the entries again
    monkeypatch.undo()
    [again] = await poll_once(desk, book)
    assert len(again.articles) == 1


def test_the_feed_book_keeps_settings_feeds_and_server_feeds_apart(book: FeedBook) -> None:
    book.use_settings(["https://a.example/rss", "https://b.example/rss"])
    mine = book.add("https://c.example/atom", guild_id=1, user_id=7)
    assert [f.url for f in book.listed(1)] == [
        "https://a.example/rss",
        "https://b.example/rss",
        "https://c.example/atom",
    ]
    assert [f.url for f in book.listed(2)] == ["https://a.example/rss", "https://b.example/rss"]
    with pytest.raises(FeedRejected, match="already polled"):
        book.add("https://a.example/rss", guild_id=1, user_id=7)
    with pytest.raises(FeedRejected, match="NEWSDESK_FEEDS"):
        book.remove(book.listed(1)[0].id, guild_id=1)
    with pytest.raises(FeedRejected, match="no such feed"):
        book.remove(mine.id, guild_id=2)  # another server's feed
    with pytest.raises(FeedRejected, match="http"):
        book.add("file:///etc/passwd", guild_id=1, user_id=7)
    book.remove(mine.id, guild_id=1)
    book.use_settings(["https://b.example/rss"])
    assert [f.url for f in book.every()] == ["https://b.example/rss"]
