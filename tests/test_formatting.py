"""The embed builder: Discord's limits, safe quoting and honest wording, without Discord."""

from dataclasses import replace

import discord

from bot.cards import added_embed, sources_embed
from bot.formatting import answer_embed, fit, quote
from index.answer.records import Answer
from index.answer.reports import Report
from index.search.build import BuildReport
from index.search.retriever import Passage
from index.search.storage.base import ArticleRecord


def passage(rank: int, text: str, title: str = "Council votes", url: str | None = None) -> Passage:
    return Passage(
        id=rank,
        rank=rank,
        score=1.0 / rank,
        dense=0.5,
        text=text,
        article_id="a.txt",
        title=title,
        source=url or "a.txt",
        url=url,
        start=0,
        end=len(text),
        first_sentence=0,
        sentence_count=1,
    )


def test_fit_cuts_at_a_sentence_then_a_word_with_an_ellipsis() -> None:
    text = "The council met on Monday. It voted twice on the budget. Then it adjourned."
    assert fit(text, 200) == text
    assert fit(text, 60) == "The council met on Monday. It voted twice on the budget. …"
    assert fit("one two three four five six seven", 20) == "one two three four…"


def test_fit_never_splits_an_escape() -> None:
    text = "*" * 50 + " stars"
    for limit in range(5, 120):
        cut = fit(text, limit)
        assert len(cut) <= limit
        assert not cut.rstrip("…").endswith("\\") or cut.rstrip("…").endswith("\\*")


def test_quotes_keep_every_line_quoted_within_the_limit() -> None:
    quoted = quote("First paragraph.\n\nSecond paragraph is longer than the first one.", 40)
    assert len(quoted) <= 40
    assert all(line.startswith(">") for line in quoted.split("\n"))


def test_answer_embed_fits_discord_limits_even_with_huge_hostile_passages() -> None:
    hostile = "@everyone <@&123456789012345678> **bold** " * 200
    answer = Answer(
        question="@everyone " + "why? " * 300,
        status="sure",
        text="Delcy Rodriguez " * 40,
        sentence=hostile,
        article="A" * 400,
        source="https://example.com/a",
        url="https://example.com/a",
        passages=[
            passage(i, hostile, title="T" * 300, url="https://example.com/a") for i in range(1, 6)
        ],
        seconds=0.02,
    )
    embed = answer_embed(answer)
    assert len(embed) <= 6000
    assert len(embed.title) <= 256 and len(embed.description) <= 4096
    assert len(embed.fields) == 5
    for field in embed.fields:
        assert len(field.name) <= 256 and len(field.value) <= 1024
    everything = embed.title + embed.description + "".join(f.name + f.value for f in embed.fields)
    assert "@everyone" not in everything.replace("@\u200beveryone", "")
    assert "<@&123456789012345678>" not in everything


def test_a_not_covered_answer_says_so_and_shows_the_closest_passages() -> None:
    answer = Answer(
        "Who won the World Cup?", "not covered", "", "", "", "", None, [passage(1, "Close text.")]
    )
    embed = answer_embed(answer)
    assert embed.description.startswith("The coverage I have does not answer that")
    assert embed.fields[0].value == "> Close text."
    assert embed.colour == discord.Colour.light_grey()
    strangers = replace(answer, unknown_names=("Lionel Messi", "Coldplay", "*Stone*"))
    assert answer_embed(strangers).description.startswith(
        "Nothing in the coverage I have mentions Lionel Messi, Coldplay or \\*Stone\\*, so it"
    )


def test_the_answer_leads_in_bold_with_the_sentence_quoted_and_the_article_linked() -> None:
    answer = Answer(
        "Who walked out?",
        "sure",
        "Delcy Rodriguez",
        "Delcy Rodriguez then stormed out of the meeting.",
        "Venezuela dares US",
        "https://example.com/v",
        "https://example.com/v",
        [
            passage(
                1, "Delcy Rodriguez then stormed out of the meeting.", url="https://example.com/v"
            )
        ],
        0.01,
    )
    lines = answer_embed(answer).description.split("\n")
    assert lines[0] == "**Delcy Rodriguez**"
    assert lines[1] == "> Delcy Rodriguez then stormed out of the meeting."
    assert lines[2] == "— [Venezuela dares US](<https://example.com/v>)"


def test_sources_are_paginated() -> None:
    articles = [
        ArticleRecord(f"{i}.txt", f"Article {i}", f"{i}.txt", None, "2024-01-01", "h", 3)
        for i in range(25)
    ]
    first, last = sources_embed(articles, 1), sources_embed(articles, 9)
    assert first.title == "Indexed articles (25)" and first.description.count("•") == 10
    assert first.footer.text == "Newest first · page 1 of 3 · /sources page:N"
    assert (
        last.footer.text.startswith("Newest first · page 3 of 3")
        and last.description.count("•") == 5
    )
    # A server's own articles beside the shared coverage are marked as such.
    own = ArticleRecord("servers/7/a.md", "Harbour", "Post", None, "2024-01-02", "h", 2)
    mixed = sources_embed([own, *articles[:2]], 1)
    assert mixed.description.split("\n")[0].endswith("· 2 passages · this server's own")
    assert "this server's own" not in mixed.description.split("\n")[1]
    assert mixed.footer.text.endswith(
        "the rest: the shared coverage, which every server answers from"
    )


def test_answers_say_when_each_source_reported_and_point_to_a_newer_one() -> None:
    older = replace(passage(1, "Floods have killed 74 people.", title="Floods kill 74"),
                    date="2026-11-23")  # fmt: skip
    newer = replace(passage(2, "The toll rose to 81.", title="Toll rises to 81"), date="2026-11-26")
    answer = Answer(
        question="How many people have the floods killed?",
        status="sure",
        text="74",
        sentence="Floods have killed 74 people.",
        article="Floods kill 74",
        source="Riverside Gazette",
        url=None,
        passages=[older, newer],
        date="2026-11-23",
    )
    embed = answer_embed(answer)
    assert "— Floods kill 74 · reported 23 Nov 2026" in embed.description
    assert "A newer report is among the passages below: **Toll rises to 81** · reported 26 Nov" in (
        embed.description
    )
    assert "Figures may have changed since." in embed.description
    assert [f.name for f in embed.fields] == [
        "1. Floods kill 74 · reported 23 Nov 2026",
        "2. Toll rises to 81 · reported 26 Nov 2026",
    ]
    newest = answer_embed(replace(answer, text="81", article="Toll rises to 81", date="2026-11-26"))
    assert "newer report" not in newest.description
    undated = answer_embed(replace(answer, date=None, passages=[replace(older, date=None)]))
    assert "reported" not in undated.description and "reported" not in undated.fields[0].name
    # Asked about a day: the answer says it is what was reported by then.
    then = answer_embed(replace(answer, as_of="2026-11-24"))
    assert "As of 24 Nov 2026, as asked: what was reported by then." in then.description
    assert "As of" not in embed.description


def test_outlets_that_differ_the_same_day_are_shown_as_differing_not_as_earlier() -> None:
    answer = Answer(
        question="What's the official case count?",
        status="unsure",
        text="63",
        sentence="The number of confirmed cases has risen to 63.",
        article="Cases rise to 63",
        source="The Tolvern Echo",
        url=None,
        passages=[passage(1, "The number of confirmed cases has risen to 63.")],
        date="2025-09-08",
        other_reports=(
            report("58", "The Daily Meridian", "2025-09-08", "same day"),
            report("41", "Kestrian Press", "2025-09-04", "earlier"),
            report("74", "Kestrian Press", "2025-09-12", "later"),
        ),
    )
    lines = answer_embed(answer).description.split("\n")
    assert "Outlets differ: The Tolvern Echo: 63 · The Daily Meridian: 58, both 8 Sep" in lines
    assert "Earlier reports: 41 (Kestrian Press, 4 Sep)" in lines
    assert "Later reports: 74 (Kestrian Press, 12 Sep)" in lines


def report(text: str, source: str, date: str, kind: str) -> Report:
    sentence = f"The count is {text}."
    return Report(text, sentence, f"{source}-{date}", "Count", date, source, None, kind=kind)


def test_an_added_page_says_whether_it_was_new_changed_or_already_there() -> None:
    record = ArticleRecord("web/x/a.md", "Bridge reopens", "Gazette", "https://x/a", None, "h", 2)
    titles = [
        added_embed([record], BuildReport(articles=3, **kind), 2).title
        for kind in ({"added": [record.id]}, {"changed": [record.id]}, {})
    ]
    assert titles == [
        "Article added",
        "Article updated: its old passages are replaced",
        "Already in the coverage, unchanged",
    ]
