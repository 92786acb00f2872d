"""A story's timeline: the dated sentences that report it, across every article, oldest first.

A question is answered from a handful of passages; a story runs over many articles and days.
So a timeline searches deep (``TimelinePolicy.passages``), keeps the articles that are about
the story (they hold nearly all the topic's words: "Kellbridge Rovers reach the cup final"
holds "Kellbridge" but not "floods"), and from them the sentences close to the topic that
report something (an event, a figure, a decision, a quote; not a caption or a question). The
same fact told by two outlets is one entry naming both ("also_in"); entries go by the
article's date, then its own order. Every entry is a verbatim sentence of its article.

``since``: what is new since a date, which is entries of later articles that add something
the earlier coverage did not say (a sentence much like an earlier one is a restatement).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index.answer.reports import figure
from index.ingest.articles import parse_date
from index.search.lexical import tokenize
from index.search.retriever import Passage, Retriever
from index.search.scope import Scope


@dataclass(frozen=True)
class TimelinePolicy:
    """How a timeline is gathered. Set on the test stories (tests/stories.py: two stories, two
    outlets, distractors sharing their words); BENCHMARKS.md has the figures."""

    passages: int = 60  # searched for the topic: a story spans many articles
    # The share of the topic's words (by IDF) an article must hold, in its title and the
    # passages found, to be about the story.
    coverage: float = 0.7
    # How close a sentence (its vector, embedded with its title and the sentence before it)
    # must be to the topic to be an entry.
    closeness: float = 0.3
    # An article that holds some of them joins the story when its best passage is this close
    # to the topic, relative to the least close article that holds them all.
    joining: float = 0.75
    # Two sentences of different articles this alike (cosine) are one fact, told twice; a
    # later sentence this like one dated before ``since`` is not new.
    same_fact: float = 0.85
    restated: float = 0.8


@dataclass(frozen=True)
class Source:
    """Another article that reported an entry."""

    article: str
    source: str
    url: str | None
    date: str | None


@dataclass(frozen=True)
class Entry:
    date: str | None
    sentence: str  # verbatim, from the article
    article: str
    source: str
    url: str | None
    article_id: str
    sentence_id: int
    also_in: tuple[Source, ...] = ()

    def to_json(self) -> dict:
        return {
            "date": self.date,
            "sentence": self.sentence,
            "article": self.article,
            "source": self.source,
            "url": self.url,
            "also_in": [
                {"article": s.article, "source": s.source, "url": s.url, "date": s.date}
                for s in self.also_in
            ],
        }


@dataclass(frozen=True)
class Timeline:
    query: str
    entries: list[Entry]
    since: str | None = None  # ISO date: only what is new after it
    seconds: float = 0.0
    articles: list[str] = field(default_factory=list)  # the ids of the story's articles

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "since": self.since,
            "entries": [e.to_json() for e in self.entries],
        }


@dataclass(frozen=True)
class _Candidate:
    entry: Entry
    vector: np.ndarray


class Timelines:
    """Builds timelines from the index a retriever holds."""

    def __init__(self, retriever: Retriever, policy: TimelinePolicy | None = None) -> None:
        self.retriever = retriever
        self.policy = policy or TimelinePolicy()

    def build(
        self,
        query: str,
        since: str | None = None,
        limit: int | None = None,
        within: set[str] | None = None,
        scope: Scope | None = None,
    ) -> Timeline:
        """The timeline of ``query``; ``since``: an ISO date, only what is new after it;
        ``limit``: the newest entries only; ``within``: only entries of these articles (what
        a build just added), the earlier ones still telling what is not new; ``scope``: the
        coverage it is told from (None: all of it)."""
        started = time.perf_counter()
        store = self.retriever.store
        with store.snapshot():
            passages = self.retriever.search(query, k=self.policy.passages, scope=scope)
            story = self._story(query, passages)
            candidates = self._candidates(query, [p for p in passages if p.article_id in story])
        if since is not None or within is not None:
            candidates = _new(candidates, since, within, self.policy.restated)
        entries = [c.entry for c in _merge(candidates, self.policy.same_fact)]
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        seconds = time.perf_counter() - started
        return Timeline(query, entries, since, seconds, sorted(story))

    def _story(self, query: str, passages: Sequence[Passage]) -> set[str]:
        """The articles among ``passages`` about the story: those that hold nearly all the
        topic's words, and those nearly as close to the topic (by their best passage's cosine)
        that hold one of them: a story's articles do not all name it alike ("the dockers'
        strike" of "The strike at Port Ellis began at dawn")."""
        store = self.retriever.store
        texts: dict[str, list[str]] = {}
        closest: dict[str, float] = {}
        for p in passages:
            texts.setdefault(p.article_id, [p.title]).append(p.text)
            closest[p.article_id] = max(closest.get(p.article_id, -1.0), p.dense)
        words = {a: set(tokenize([" ".join(parts)])[0]) for a, parts in texts.items()}
        # A word no article found holds ("dock" where they say "dockers") tells none apart.
        asked = sorted({w for w in tokenize([query])[0] if any(w in h for h in words.values())})
        weight = store.idf(asked)
        total = sum(weight.values()) or 1.0
        core, near = set(), set()
        for article in texts:
            held = words[article] & set(asked)
            if sum(weight[w] for w in held) / total >= self.policy.coverage:
                core.add(article)
            elif held:
                near.add(article)
        if not core:
            return set()
        floor = self.policy.joining * min(closest[a] for a in core)
        return core | {a for a in near if closest[a] >= floor}

    def _candidates(self, query: str, passages: Sequence[Passage]) -> list[_Candidate]:
        """The reporting sentences of ``passages`` close to the topic, by date then order."""
        store = self.retriever.store
        topic = self.retriever.embedder.encode_query(query)
        rows, owner, seen = [], [], set()
        for p in passages:
            for row in store.sentences(p.first_sentence, p.sentence_count):
                if row[0] not in seen:
                    seen.add(row[0])
                    rows.append(row)
                    owner.append(p)
        if not rows:
            return []
        vectors = store.sentence_vectors([r[0] for r in rows])
        close = vectors @ topic
        found = [
            _Candidate(
                Entry(p.date, text, p.title, p.source, p.url, p.article_id, sentence_id),
                vector,
            )
            for (sentence_id, _, _, text), p, vector, cosine in zip(
                rows, owner, vectors, close, strict=True
            )
            if cosine >= self.policy.closeness and reports(text)
        ]
        return sorted(found, key=lambda c: (c.entry.date or "9999", c.entry.sentence_id))


def _merge(candidates: list[_Candidate], alike: float) -> list[_Candidate]:
    """The same fact from several articles once, where it was first told, naming the others."""
    kept: list[_Candidate] = []
    for candidate in candidates:
        twin = next(
            (
                k
                for k in kept
                if k.entry.article_id != candidate.entry.article_id
                and _same_fact(k, candidate, alike)
            ),
            None,
        )
        if twin is None:
            kept.append(candidate)
            continue
        e = candidate.entry
        also = Source(e.article, e.source, e.url, e.date)
        at = kept.index(twin)
        kept[at] = _Candidate(
            _with_source(twin.entry, also) if e.source not in _sources(twin.entry) else twin.entry,
            twin.vector,
        )
    return kept


def _new(
    candidates: list[_Candidate], since: str | None, within: set[str] | None, restated: float
) -> list[_Candidate]:
    """The candidates after ``since`` (and of ``within``) that tell what no other one told
    (one dated before ``since``, or of an article outside ``within``)."""
    told = [c for c in candidates if not _fresh(c.entry, since, within)]
    return [
        c
        for c in candidates
        if _fresh(c.entry, since, within) and not any(_same_fact(t, c, restated) for t in told)
    ]


def _fresh(entry: Entry, since: str | None, within: set[str] | None) -> bool:
    later = since is None or (entry.date is not None and entry.date[:10] > since)
    return later and (within is None or entry.article_id in within)


def _same_fact(a: _Candidate, b: _Candidate, alike: float) -> bool:
    """Two sentences that tell one fact: very alike with the same figures, or with the same
    figures stated at all and quite alike ("The death toll has risen to 23" and "Twenty-three
    people died")."""
    likeness = float(a.vector @ b.vector)
    figures = _figures(a.entry.sentence)
    if figures != _figures(b.entry.sentence):
        return False
    return likeness >= alike or (bool(figures) and likeness >= FIGURED_FACT)


# Sentences stating the same figures this alike tell one fact: on the test stories "has risen
# to 23" and "Twenty-three people died" (two outlets) are 0.78 alike; "60 container ships
# waiting" and "ships left, 60 hours after" (one story, two facts) 0.70.
FIGURED_FACT = 0.75


def _figures(sentence: str) -> set[float]:
    return {v for part in re.split(r"[,;]", sentence) if (v := figure(part)) is not None}


def _sources(entry: Entry) -> set[str]:
    return {entry.source, *(s.source for s in entry.also_in)}


def _with_source(entry: Entry, also: Source) -> Entry:
    return Entry(
        entry.date,
        entry.sentence,
        entry.article,
        entry.source,
        entry.url,
        entry.article_id,
        entry.sentence_id,
        (*entry.also_in, also),
    )


# What makes a sentence a report: a figure, a quotation, or a verb that says something was
# said, decided or happened (a regular past tense, a common irregular one, an auxiliary).
_REPORTING = re.compile(
    r"\b(?:\w{3,}ed|said|says|told|won|lost|rose|fell|sent|left|went|came|took|made|gave|"
    r"held|met|began|begun|ran|set|put|cut|hit|shut|kept|led|paid|sold|bought|brought|"
    r"caught|fought|thought|found|saw|seen|known|knew|grew|drew|flew|threw|broke|spoke|"
    r"stood|struck|sank|spent|built|chose|rang|wrote|is|are|was|were|has|have|had|will|"
    r"would|could|can|may|might|must|should)\b|[“”\"]",
    re.IGNORECASE,
)


def reports(sentence: str) -> bool:
    """Whether a sentence reports something (not a caption, a tag list or a question)."""
    words = sentence.split()
    if len(words) < 5 or sentence.rstrip().endswith("?"):
        return False
    return figure(sentence) is not None or bool(_REPORTING.search(sentence))


# "What's new about the Kellbridge floods since Monday?", "Any news on the strike since 3 Sep?"
_WHATS_NEW = re.compile(
    r"^\s*(?:what(?:'s|’s| is| has)?\s+(?:new|happened|changed)|(?:is there\s+)?any(?:thing)?"
    r"\s+(?:new|news|updates?)|news|updates?)\s*(?:(?:about|with|on|in|for|to|regarding|from)"
    r"\s+(?P<topic>.+?))?\s+since\s+(?P<since>[^?]+?)\s*\??\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WhatsNew:
    """A question routed to the timeline: what is new about ``topic`` after ``since``."""

    topic: str  # "" when the question names none: answer with ``NAME_THE_STORY``
    since: str  # ISO date
    asked: str  # the date as the question put it ("Monday")


# What to say to a "what's new since Monday?" that names no story.
NAME_THE_STORY = "Name the story, e.g. “what's new about the floods since Monday?”"


def whats_new(question: str, today: dt.date | None = None) -> WhatsNew | None:
    """The timeline a question asks for ("what's new about X since Monday?"), or None for an
    ordinary question (one whose date cannot be read, too)."""
    match = _WHATS_NEW.match(question)
    if match is None:
        return None
    since = parse_date(match["since"], today)
    if since is None:
        return None
    topic = (match["topic"] or "").strip()
    return WhatsNew(re.sub(r"^(?:the)\s+", "", topic, flags=re.I) or topic, since, match["since"])
