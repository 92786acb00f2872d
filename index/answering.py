"""Answer: passages -> the answering sentence -> a short span of it, or an honest "not covered".

No reading-comprehension model is installable here, so the answer is chosen by scoring the
sentences of the best passages against the question (cosine of precomputed sentence vectors
plus word overlap), then picking a span of the type the question asks for (see ``spans``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from index.lexical import tokenize
from index.retriever import Passage, Retriever
from index.settings import Settings
from index.spans import SpanFinder

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Answer:
    question: str
    covered: bool  # False: the coverage does not answer; ``passages`` are the closest ones
    text: str  # the short answer ("" when not covered)
    sentence: str  # the sentence it came from, quoted exactly
    article: str  # that sentence's article title
    source: str
    url: str | None
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        """The schema ``python -m index ask --json`` prints."""
        return {
            "question": self.question,
            "answer": (
                {"text": self.text, "sentence": self.sentence, "article": self.article}
                if self.covered
                else None
            ),
            "passages": [
                {
                    "rank": p.rank,
                    "score": p.score,
                    "text": p.text,
                    "article": p.title,
                    "source": p.source,
                }
                for p in self.passages
            ],
        }


@dataclass(frozen=True)
class AnswerPolicy:
    abstain_threshold: float = 0.32  # below this best sentence score the coverage "does not say"
    passages_read: int = 3  # how many top passages' sentences compete for the answer
    overlap_weight: float = 0.25  # weight of question-word overlap beside sentence cosine
    rank_decay: float = 0.03  # a sentence from a lower-ranked passage pays this per rank


class Answerer:
    def __init__(self, retriever: Retriever, policy: AnswerPolicy | None = None) -> None:
        self.retriever = retriever
        self.policy = policy or AnswerPolicy()
        self.spans = SpanFinder()

    @classmethod
    def from_settings(cls, retriever: Retriever, settings: Settings) -> Answerer:
        return cls(retriever, AnswerPolicy(abstain_threshold=settings.abstain_threshold))

    def ask(self, question: str, k: int = 5) -> Answer:
        started = time.perf_counter()
        question = _clean_question(question)
        passages = self.retriever.search(question, k=max(k, self.policy.passages_read))
        best = self._best_sentence(question, passages)
        shown = passages[:k]
        if best is None or best[0] < self.policy.abstain_threshold:
            return Answer(
                question, False, "", "", "", "", None, shown, time.perf_counter() - started
            )
        _, sentence, passage = best
        short = self.spans.find(question, sentence)
        # Lead with the passage that holds the answer.
        shown = [passage] + [p for p in shown if p.id != passage.id][: k - 1]
        return Answer(
            question=question,
            covered=True,
            text=short,
            sentence=sentence,
            article=passage.title,
            source=passage.source,
            url=passage.url,
            passages=shown,
            seconds=time.perf_counter() - started,
        )

    def _best_sentence(
        self, question: str, passages: list[Passage]
    ) -> tuple[float, str, Passage] | None:
        store = self.retriever.store
        query = self.retriever.embedder.encode_query(question)
        asked = set(tokenize([question])[0])
        best: tuple[float, str, Passage] | None = None
        for passage in passages[: self.policy.passages_read]:
            rows = store.sentences(passage.first_sentence, passage.sentence_count)
            if not rows:
                continue
            cosines = np.asarray(store.sentence_vectors[[r[0] for r in rows]]) @ query
            for (_, _, _, text), cosine in zip(rows, cosines, strict=True):
                words = set(tokenize([text])[0])
                overlap = len(asked & words) / len(asked) if asked else 0.0
                score = (
                    float(cosine)
                    + self.policy.overlap_weight * overlap
                    - self.policy.rank_decay * (passage.rank - 1)
                )
                if best is None or score > best[0]:
                    best = (score, text, passage)
        return best


def _clean_question(question: str) -> str:
    """One line of plain text, without mentions or invisible characters, bounded in length."""
    question = re.sub(r"<(@[!&]?|#)\d+>", " ", question)
    question = "".join(ch for ch in question if ch.isprintable() or ch == " ")
    return re.sub(r"\s+", " ", question).strip()[:MAX_QUESTION_CHARS]
