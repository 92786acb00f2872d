"""Time in questions: one that asks for the latest ("What is the latest death toll?") or for a
figure as it stands is answered from the newest report; one about a moment in the past ("as of
Oct 10", "on Thursday Sept 4") from the newest report on or before it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from index.answer.policy import AnswerPolicy
from index.answer.reports import Report
from index.answer.sentences import Considered, Reading
from index.ingest.articles import parse_date
from index.search.retriever import Passage

# "What is the latest death toll?", "How many have died so far?", "Who leads it now?"
_LATEST = re.compile(
    r"\b(latest|newest|most recent|current(ly)?|now|so far|to date|updated?)\b", re.IGNORECASE
)
# A question about a figure: "How many people died?", "What is the death toll?"
_FIGURE = re.compile(
    r"\bhow (many|much)\b|\bwhat (is|was|are|were) the (number|total|toll|death toll|figure|"
    r"count|amount|share|percentage)\b|\btoll\b",
    re.IGNORECASE,
)
# ... unless it is about a moment in the past: "How many had died by Tuesday?"
_PAST_ANCHOR = re.compile(
    r"\b(initially|originally|at first|first|earlier|before|previously|yesterday|last (week|"
    r"month|year)|by (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|on (monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday)|in \d{4})\b",
    re.IGNORECASE,
)


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
# "as of Oct 10", "by June 12", "on Thursday Sept 4", "on 3 September 2025", "by Thursday"
_MOMENT = re.compile(
    rf"\b(?:as of|as at|by|on)\s+(?:(?:{_WEEKDAY}),?\s*)?"
    rf"(?P<when>{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?|{_DAY}\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?"
    rf"|\d{{4}}-\d\d-\d\d)\b|\b(?:as of|by|on)\s+(?P<weekday>{_WEEKDAY})\b",
    re.IGNORECASE,
)


def asked_moment(question: str, passages: Sequence[Passage]) -> str | None:
    """The day a question asks about, as an ISO date ("as of Oct 10", "on Thursday Sept 4",
    "by Thursday"): read as the latest such day up to the newest article among ``passages``
    (news is asked about after it is reported); None when it names no day, the coverage is
    undated, or a day without its year lies more than half a year back (a day after the
    newest article, not one of last year's: nothing to hold back)."""
    match = _MOMENT.search(question)
    if match is None:
        return None
    dated = [p.date[:10] for p in passages if p.date and re.match(r"\d{4}-\d\d-\d\d", p.date)]
    if not dated:
        return None
    when = match["when"] or match["weekday"]
    newest = date.fromisoformat(max(dated))
    day = parse_date(when, newest + timedelta(days=1))
    if day is None or (
        not re.search(r"\d{4}", when) and (newest - date.fromisoformat(day)).days > 183
    ):
        return None
    return day


def asks_for_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def about_current_figure(question: str) -> bool:
    """Whether the question asks for a figure as it stands now, which the newest report
    gives best: a death toll, a count, an amount, without a moment in the past."""
    return bool(_FIGURE.search(question)) and not _PAST_ANCHOR.search(question)


def newest_article(passages: Sequence[Passage]) -> str | None:
    """The article with the latest publication date among ``passages``, when they hold at
    least two dates (ISO dates compare as text; on a tie, the better ranked); None when there
    is nothing to prefer."""
    dated = [p for p in passages if p.date and re.match(r"\d{4}-\d\d-\d\d", p.date)]
    if len({p.date for p in dated}) < 2:
        return None
    return max(dated, key=lambda p: (p.date or "", -p.rank)).article_id


def newest_report(considered: Considered, reports: Sequence[Report]) -> str | None:
    """The article of the newest other report, when it is newer than the answer's."""
    best = considered.best
    if best is None or not reports or not reports[0].date:
        return None
    date = best.reading.passage.date
    return reports[0].article_id if date is None or reports[0].date > date else None


def newest_read(readings: list[Reading], window: int, policy: AnswerPolicy) -> list[Reading]:
    """``readings`` reordered so that the newest article's best sentences fill half the
    reader's window (rounded up): the sentence with the newer figure seldom matches the
    question best ("rose to 81" against "have killed 74 people")."""
    fresh = [r for r in readings if r.newest][: (window + 1) // 2]
    others = [r for r in readings if not r.newest or r not in fresh]
    room = window - len(fresh)
    return sorted(fresh + others[:room], key=lambda r: -r.base(policy)) + others[room:]
