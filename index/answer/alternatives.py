"""Alternatives: the next best answers shown beside an unsure one, each a verbatim span of its
own sentence with its own calibrated confidence."""

from __future__ import annotations

import re

from index.answer.confidence import Calibration
from index.answer.metrics import share_words
from index.answer.policy import AnswerPolicy
from index.answer.records import Alternative, Found
from index.answer.reports import figure, same_report
from index.answer.sentences import Candidate
from index.answer.signals import alternative_signals
from index.search.lexical import stopwords


def alternatives(
    found: Found, calibration: Calibration, policy: AnswerPolicy, confidence: float
) -> tuple[Alternative, ...]:
    """Up to ``policy.alternatives`` of the next best answers beside an unsure one (of
    ``confidence``), leaving out those too unlikely to be worth a look."""
    best = found.considered.candidates[0]
    chosen: list[Alternative] = []
    for candidate in alternative_candidates(found):
        if len(chosen) == policy.alternatives:
            break
        likely = calibration.alternative_confidence(
            alternative_signals(candidate, best, confidence)
        )
        if likely >= policy.alternative_floor:
            passage = candidate.reading.passage
            chosen.append(
                Alternative(
                    candidate.text,
                    candidate.reading.text,
                    passage.title,
                    passage.source,
                    passage.url,
                    passage.date,
                    likely,
                )
            )
    return tuple(chosen)


def alternative_candidates(found: Found) -> list[Candidate]:
    """The candidates that could stand beside the best as alternatives, best first: each says
    something (not a lone "the"), shares no word or figure with the answer or an earlier one
    ("23" is "Twenty-three"), is not the words around the answer in its own sentence, is a
    figure when the answer is one, and is not already listed as another report."""
    best, *rest = found.considered.candidates
    kept: list[Candidate] = []
    for candidate in rest:
        if (
            _says_something(candidate.text)
            and not any(
                share_words(candidate.text, c.text) or same_report(candidate.text, c.text)
                for c in [best, *kept]
            )
            and not _beside(candidate, best)
            and (figure(best.text) is None or figure(candidate.text) is not None)
            and not any(same_report(candidate.text, r.text) for r in found.reports)
        ):
            kept.append(candidate)
    return kept


def _says_something(text: str) -> bool:
    """Not a lone article or punctuation: a figure, or a word that is not a stop word."""
    return figure(text) is not None or any(
        word.lower() not in stopwords() for word in re.findall(r"[^\W\d_]+", text)
    )


def _beside(candidate: Candidate, best: Candidate) -> bool:
    """Another span of the answer's sentence that touches it ("Venezuelan Foreign Minister"
    before "Delcy Rodriguez"): part of the same answer, not another one."""
    if candidate.reading.sentence_id != best.reading.sentence_id:
        return False
    text = best.reading.text
    a, b = sorted([(candidate.span.start, candidate.span.end), (best.span.start, best.span.end)])
    return not text[a[1] : b[0]].strip(" ,-–—")
