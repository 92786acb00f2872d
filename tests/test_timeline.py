"""Timelines and followed stories, on the test stories (tests/stories.py), with the real model
and index, and the state database (SQLite and PostgreSQL) for follows."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from index.ingest.articles import parse_date
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.statedb import open_state
from index.stories.follows import FollowBook, FollowRejected
from index.stories.timeline import Timelines, reports, whats_new

from .newssite import Story
from .stories import (
    COUNTING,
    FLOODS,
    LEDGER,
    STORIES,
    STRIKE,
    TWENTY_THREE,
    WARNING,
    WATER,
    write_corpus,
)

# The facts each story's timeline must tell: a phrase of each of its sentences. The water
# story was written after the timeline's settings were chosen on the other two.
STORY_TOPICS = {
    "Kellbridge floods": FLOODS,
    "Port Ellis strike": STRIKE,
    "the dockers' strike": STRIKE,
    "Meridale water": WATER,
    "the boil-water notice in Meridale": WATER,
}


@pytest.fixture(scope="module")
def timelines(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, settings) -> Timelines:
    folder = tmp_path_factory.mktemp("stories")
    build(
        write_corpus(folder / "corpus"),
        folder / "index",
        embedder,
        BuildOptions.from_settings(settings),
    )
    return Timelines(Retriever.open(folder / "index", embedder))


def told(timeline, story: Story, sentence: str) -> bool:
    """Whether the timeline tells ``sentence`` of ``story``: as an entry, or merged into one
    as another outlet's telling."""
    return any(
        (e.sentence == sentence and e.article_id == f"{story.slug}.md")
        or (any(s.article == story.title for s in e.also_in) and _same_fact(e.sentence, sentence))
        for e in timeline.entries
    )


def _same_fact(a: str, b: str) -> bool:
    from index.answer.reports import figure

    return figure(a) is not None and figure(a) == figure(b)


def test_a_timeline_tells_its_story_and_nothing_else(timelines: Timelines) -> None:
    """Precision and recall over every topic: entries from the story's articles only, and
    every reporting sentence of its articles told (BENCHMARKS.md has the figures)."""
    entries = right = facts = found = 0
    for topic, story in STORY_TOPICS.items():
        timeline = timelines.build(topic)
        slugs = {f"{s.slug}.md" for s in story}
        entries += len(timeline.entries)
        right += sum(e.article_id in slugs for e in timeline.entries)
        for s in story:
            for sentence in s.paragraphs:
                facts += 1
                found += told(timeline, s, sentence)
        dates = [e.date for e in timeline.entries]
        assert dates == sorted(dates), topic
        for entry in timeline.entries:
            article = next(s for s in STORIES if f"{s.slug}.md" == entry.article_id)
            assert entry.sentence in article.paragraphs, "verbatim"
            assert (
                entry.source == article.site and entry.date == article.published.date().isoformat()
            )
    assert right / entries >= 0.95 and found / facts >= 0.9, (right, entries, found, facts)


def test_the_same_fact_from_two_outlets_is_one_entry_naming_both(timelines: Timelines) -> None:
    timeline = timelines.build("Kellbridge floods")
    [toll] = [e for e in timeline.entries if "23" in e.sentence or "Twenty-three" in e.sentence]
    sources = {toll.source, *(s.source for s in toll.also_in)}
    assert sources == {LEDGER, COUNTING.site} and len(toll.also_in) == 1
    assert toll.to_json()["also_in"][0].keys() == {"article", "source", "url", "date"}
    # The 9 and the 11 of 3 September are two facts, however alike their sentences.
    assert sum("nine" in e.sentence or "11" in e.sentence for e in timeline.entries) == 2


def test_what_is_new_since_a_date_holds_no_earlier_entry_nor_a_restatement(
    timelines: Timelines,
) -> None:
    whole = timelines.build("Kellbridge floods")
    new = timelines.build("Kellbridge floods", since="2026-09-04")
    assert new.entries and all(e.date > "2026-09-04" for e in new.entries)
    assert {e.sentence for e in new.entries} <= {e.sentence for e in whole.entries}
    assert any(e.article_id == f"{TWENTY_THREE.slug}.md" or e.also_in for e in new.entries)
    # Restated facts are not new: of an article, only what the others did not say.
    within = timelines.build("Kellbridge floods", within={f"{COUNTING.slug}.md"})
    assert [e.sentence for e in within.entries] == [
        "Insurers put the damage to homes and shops at 40 million pounds."
    ], "its toll of 23 was told the same day by the Ledger"
    assert timelines.build("Kellbridge floods", limit=2).entries == whole.entries[-2:]


def test_a_topic_no_article_is_about_gives_an_empty_timeline(timelines: Timelines) -> None:
    assert timelines.build("volcano eruption in Iceland").entries == []
    warning = timelines.build("amber warning for heavy rain")
    assert {e.article_id for e in warning.entries} == {f"{WARNING.slug}.md"}


def test_questions_about_what_is_new_are_read_with_their_date() -> None:
    monday = dt.date(2026, 9, 8)  # a Tuesday
    asked = whats_new("What's new about the Kellbridge floods since Monday?", monday)
    assert (asked.topic, asked.since) == ("Kellbridge floods", "2026-09-07")
    assert whats_new("Any news on the strike since 3 September?", monday).since == "2026-09-03"
    assert whats_new("what happened with Port Ellis since 2026-09-03", monday).topic == "Port Ellis"
    assert whats_new("What's new since yesterday?", monday).topic == ""
    assert whats_new("Who walked out of the meeting?", monday) is None
    assert whats_new("What has changed in the OAS since the vote?", monday) is None
    assert parse_date("3 Sep", monday) == "2026-09-03" and parse_date("soon", monday) is None


def test_a_report_is_a_sentence_that_says_something() -> None:
    assert reports("The council approved the budget on Monday.")
    assert reports("About 400 residents were taken from their homes.")
    assert not reports("Tags: ; ; ; ;")
    assert not reports("What happens next for the town's flood defences?")


# Follows, on both state databases.


@pytest.fixture(params=["sqlite", "postgres"])
def state(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgres":
        return open_state(request.getfixturevalue("database_url"))
    return open_state(tmp_path / "state.sqlite")


def test_a_followed_story_gets_each_new_article_once(
    state, tmp_path: Path, embedder: Embedder, settings
) -> None:
    """Articles indexed when the story was followed are not news; each later one that adds to
    it is claimed once, whichever of two processes (two books on one database) looks first;
    one that changes is looked at again; other stories' articles are not posted."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    options = BuildOptions.from_settings(settings)
    build(write_corpus(corpus, FLOODS[:3]), index, embedder, options)
    store = Retriever.open(index, embedder)
    book, other = FollowBook(state), FollowBook(state)
    follow = book.follow(7, 70, "Kellbridge floods", store.store.articles())
    with pytest.raises(FollowRejected, match="already followed"):
        book.follow(7, 70, "kellbridge  floods", [])
    assert book.news(Timelines(store), store.store.articles()) == []

    write_corpus(corpus, [*FLOODS[3:], *STRIKE])
    build(corpus, index, embedder, options)
    fresh = Retriever.open(index, embedder)
    articles = fresh.store.articles()
    [news] = book.news(Timelines(fresh), articles, now=1000.0)
    assert news.follow == follow and news.count >= 3 and len(news.entries) == 2
    assert {e.article_id for e in news.entries} <= {f"{s.slug}.md" for s in FLOODS[3:]}
    assert other.news(Timelines(fresh), articles, now=2000.0) == [], "claimed by the first"
    assert book.news(Timelines(fresh), articles, guilds={8}, now=3000.0) == []

    # Another story followed in the same channel waits while the channel had a post just now.
    book.follow(7, 70, "Meridale water", articles)
    write_corpus(corpus, WATER)
    build(corpus, index, embedder, options)
    fresh = Retriever.open(index, embedder)
    assert book.news(Timelines(fresh), fresh.store.articles(), now=1030.0) == []
    [water] = book.news(Timelines(fresh), fresh.store.articles(), now=1000.0 + 61)
    assert water.follow.topic == "Meridale water" and water.count >= 4

    # An article whose text changed is looked at again: what it adds is news.
    so_far = [e.sentence for e in Timelines(fresh).build("Port Ellis strike").entries]
    book.follow(7, 71, "Port Ellis strike", fresh.store.articles(), so_far)
    ended = STRIKE[2]
    write_corpus(corpus, [replace(ended, paragraphs=[*ended.paragraphs, SHIPS])])
    build(corpus, index, embedder, options)
    fresh = Retriever.open(index, embedder)
    [strike] = book.news(Timelines(fresh), fresh.store.articles(), now=1200.0)
    assert [e.sentence for e in strike.entries] == [SHIPS]
    assert book.following(7)[0] == follow and len(book.following(7)) == 3
    assert book.unfollow(follow.id, 7) == follow
    assert [f.topic for f in book.following(7)] == ["Meridale water", "Port Ellis strike"]
    with pytest.raises(FollowRejected):
        book.unfollow(follow.id, 7)


SHIPS = "The first container ships left Port Ellis on Monday morning as the dockers went back."
