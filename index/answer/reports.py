"""Other reports: what other articles say in answer to the same question, when it differs.

A death toll that rose from one day to the next, or two outlets that disagree, is shown with
the answer instead of hidden behind it ("Earlier reports: 11 (The Northern Ledger, 3 Sep)").
Only real differences count: "nine", "9" and "more than 9 people" are one figure, and the
same figure from several outlets is one report naming them all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from index.answer.metrics import squad_normalize

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {
    "dozen": 12, "hundred": 100, "thousand": 1_000, "million": 1_000_000,
    "billion": 1_000_000_000,
}  # fmt: skip
_WORD = "|".join(_UNITS)
_SCALE = "|".join(_SCALES)
_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?:(?P<digits>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"  # 74, 12,000, 1.2
    rf"|(?P<words>(?:{_WORD})(?:[- ](?:{_WORD}))?|an?(?=\s+(?:{_SCALE}))))"  # twenty-three, a
    rf"(?:\s*(?P<scale>{_SCALE})\b|(?P<k>k)\b|\b)",  # million, k
    re.IGNORECASE,
)


def figure(text: str) -> float | None:
    """The first number ``text`` states: "1,200" and "1.2 thousand" are 1200, "seventy-four"
    is 74, "two dozen" 24, "a million" a million; None when it states none."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    if match["digits"]:
        value = float(match["digits"].replace(",", ""))
    else:
        words = re.split(r"[- ]", match["words"].lower())
        value = float(sum(_UNITS.get(w, 1) for w in words))  # "a" / "an": one
    if match["scale"]:
        value *= _SCALES[match["scale"].lower()]
    elif match["k"]:
        value *= 1_000
    return value


def same_report(a: str, b: str) -> bool:
    """Whether two short answers say the same: the same figure however written, or (without
    figures) the same words, one within the other ("John Sullivan" in "US Deputy Secretary
    of State John Sullivan")."""
    first, second = figure(a), figure(b)
    if first is not None or second is not None:
        return first == second
    x, y = squad_normalize(a), squad_normalize(b)
    return bool(x and y) and (x in y or y in x)


def comparable(a: str, b: str) -> bool:
    """Whether two answers are of one kind, so that a difference means something: both
    figures, or both without one (a name against a name)."""
    return (figure(a) is None) == (figure(b) is None)


@dataclass(frozen=True)
class Outlet:
    """One article that gave an answer."""

    article_id: str
    article: str
    source: str
    date: str | None
    url: str | None
    sentence: str
    text: str  # its short answer, verbatim in ``sentence``


@dataclass(frozen=True)
class Report:
    """A differing answer, as the newest outlet that gave it phrased it, and every outlet
    that gave it."""

    text: str
    sentence: str
    article_id: str
    article: str
    date: str | None
    source: str
    url: str | None
    also: tuple[Outlet, ...] = ()  # other outlets giving the same answer, newest first
    # Against the answer's date: "earlier" (a figure since changed), "later" (the answer is
    # as of a past day), "same day" (outlets that disagree), "" (either is undated).
    kind: str = ""

    def sources(self) -> list[tuple[str, str | None]]:
        """(outlet, date) of every article that gave it, the newest first."""
        return [(self.source, self.date)] + [(o.source, o.date) for o in self.also]

    def to_json(self) -> dict:
        return {
            **quoted_json(self),
            "kind": self.kind,
            "also": [
                {"article": o.article, "source": o.source, "date": o.date, "url": o.url}
                for o in self.also
            ],
        }


def quoted_json(quoted: object) -> dict:
    """The fields every quoted answer shows in JSON: the span, its sentence and its article."""
    return {
        name: getattr(quoted, name)
        for name in ("text", "sentence", "article", "date", "source", "url")
    }


Dated = TypeVar("Dated", Outlet, Report)


def differing(answer: str, outlets: Sequence[Outlet], answered: str | None = None) -> list[Report]:
    """The answers among ``outlets`` that differ from ``answer`` (of an article dated
    ``answered``), one report per answer (outlets saying the same are grouped), newest
    first; undated ones last."""
    groups: list[list[Outlet]] = []
    for outlet in outlets:
        if same_report(outlet.text, answer) or not comparable(outlet.text, answer):
            continue
        group = next((g for g in groups if same_report(g[0].text, outlet.text)), None)
        if group is None:
            groups.append([outlet])
        else:
            group.append(outlet)
    reports = []
    for group in groups:
        newest, *others = newest_first(group)
        reports.append(
            Report(
                newest.text,
                newest.sentence,
                newest.article_id,
                newest.article,
                newest.date,
                newest.source,
                newest.url,
                tuple(others),
                _kind(newest.date, answered),
            )
        )
    return newest_first(reports)


def _kind(reported: str | None, answered: str | None) -> str:
    if not reported or not answered:
        return ""
    if reported[:10] == answered[:10]:
        return "same day"
    return "earlier" if reported[:10] < answered[:10] else "later"


def newest_first(items: Sequence[Dated]) -> list[Dated]:
    """Dated items newest first (ISO dates compare as text), then the undated in order."""
    dated = sorted((i for i in items if i.date), key=lambda i: i.date or "", reverse=True)
    return dated + [i for i in items if not i.date]
