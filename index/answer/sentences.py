"""Sentences as candidate answers: each sentence of the best passages scored against the
question (cosine of precomputed sentence vectors plus word overlap), the most promising read
together by the reader, and every span it finds ranked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.answer.policy import AnswerPolicy
from index.reader import FoundSpan, Reader
from index.search.lexical import tokenize
from index.search.retriever import Passage, Retriever


@dataclass(frozen=True)
class Reading:
    """One sentence considered as the answer, with what speaks for it."""

    passage: Passage
    sentence_id: int
    text: str
    cosine: float
    overlap: float
    phrase: float = 0.0
    spans: tuple[FoundSpan, ...] = ()  # the reader's best spans in it, best first, when read
    newest: bool = False  # from the article preferred as the newest report

    @property
    def span(self) -> FoundSpan | None:
        """The reader's best span in the sentence, when it was read and found one."""
        return self.spans[0] if self.spans else None

    def base(self, policy: AnswerPolicy) -> float:
        """How promising the sentence looks before the reader reads it."""
        return (
            self.cosine
            + policy.overlap_weight * self.overlap
            + policy.phrase_weight * self.phrase
            - policy.rank_decay * (self.passage.rank - 1)
        )


@dataclass(frozen=True)
class Candidate:
    """A short answer considered: one span the reader found, in one sentence."""

    reading: Reading
    span: FoundSpan
    # The reader's log-probability of the span, plus the sentence's own match (and the
    # recency bonus): what ranks candidates.
    score: float

    @property
    def text(self) -> str:
        return self.span.text


@dataclass(frozen=True)
class Considered:
    """Everything one reading pass found for a question, candidates best first."""

    readings: list[Reading]
    candidates: list[Candidate]
    no_answer: float  # the reader's probability that no sentence it read answers

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def score_sentences(
    retriever: Retriever, question: str, passages: Sequence[Passage], newest: str | None = None
) -> list[Reading]:
    """Every sentence of ``passages``, once (passages overlap by a sentence), with its
    closeness to the question; not yet read. ``newest``: the article id of the newest report,
    whose sentences are marked."""
    store = retriever.store
    query = retriever.embedder.encode_query(question)
    asked_words = tokenize([question])[0]
    asked = set(asked_words)
    pairs = set(zip(asked_words, asked_words[1:], strict=False))
    weight = store.idf(sorted(asked))
    total = sum(weight.values())
    readings, seen = [], set()
    for passage in passages:
        rows = store.sentences(passage.first_sentence, passage.sentence_count)
        cosines = store.sentence_cosines([r[0] for r in rows], query)
        words = tokenize([r[3] for r in rows])  # one call per passage, not per sentence
        for (sentence_id, _, _, text), cosine, said in zip(rows, cosines, words, strict=True):
            if sentence_id in seen:
                continue
            seen.add(sentence_id)
            shared = asked & set(said)
            overlap = sum(weight[w] for w in shared) / total if total else 0.0
            in_order = pairs & set(zip(said, said[1:], strict=False))
            phrase = len(in_order) / len(pairs) if pairs else 0.0
            readings.append(
                Reading(
                    passage,
                    sentence_id,
                    text,
                    float(cosine),
                    overlap,
                    phrase,
                    newest=newest is not None and passage.article_id == newest,
                )
            )
    return readings


def read_best(
    reader: Reader, question: str, readings: list[Reading], window: int
) -> tuple[list[Reading], float]:
    """The reader reads the ``window`` most promising sentences (``readings`` come best first)
    in one pass, in document order (which reads best: XQuAD short answers 0.683 against 0.677
    best first); when long ones do not all fit its window, the least promising go. Returns the
    readings with their spans, and the reader's "no answer" probability."""
    if not readings:
        return readings, 1.0
    best = range(min(window, len(readings)))
    chosen = sorted(best, key=lambda i: (readings[i].passage.rank, readings[i].sentence_id))
    found = reader.read(
        question, [readings[i].text for i in chosen], [chosen.index(i) for i in best]
    )
    readings = list(readings)
    for position, i in enumerate(chosen):
        readings[i] = replace(readings[i], spans=tuple(found.of(position)))
    return readings, found.no_answer


def ranked_candidates(readings: Sequence[Reading], policy: AnswerPolicy) -> list[Candidate]:
    """Every span read, best first: the reader's log-probability, plus the sentence's own
    match and the recency bonus."""
    candidates = [
        Candidate(
            reading,
            span,
            math.log(max(span.probability, 1e-12))
            + policy.base_weight * reading.base(policy)
            + policy.recency_weight * reading.newest,
        )
        for reading in readings
        for span in reading.spans
    ]
    candidates.sort(key=lambda c: -c.score)
    return candidates
