"""Retrieve: a question -> the passages most likely to answer it.

Candidates come from dense search (FAISS, cosine) and lexical search (BM25). Each is scored
by a weighted sum of three signals: the passage's cosine, its best sentence's cosine and its
BM25 score relative to the best one. Score fusion beat reciprocal rank fusion on the eval
sets (BENCHMARKS.md): ranks alone lose how much better the first passage is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.search.embedding import Embedder, model_identity
from index.search.scope import Scope
from index.search.storage import Location, backend_at
from index.search.storage.base import Storage
from index.settings import Settings

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Passage:
    id: int
    rank: int
    score: float  # the fused score that ranked it
    dense: float  # cosine similarity to the question
    text: str
    article_id: str
    title: str
    source: str
    url: str | None
    start: int  # character offsets into the article's cleaned text
    end: int
    first_sentence: int
    sentence_count: int
    date: str | None = None  # the article's publication date, ISO 8601 when known


@dataclass(frozen=True)
class Fusion:
    """How the signals combine. The weights were chosen on the eval sets (BENCHMARKS.md)."""

    mode: Mode = "hybrid"
    candidates: int = 50  # taken from each of FAISS and BM25 before scoring
    dense_weight: float = 0.5  # cosine of the passage
    sentence_weight: float = 1.0  # cosine of the passage's best-matching sentence
    lexical_weight: float = 0.3  # BM25, divided by the best BM25 score of this question


class Retriever:
    """Loads once, answers many: holds the store and the model for the life of the process."""

    def __init__(self, store: Storage, embedder: Embedder, fusion: Fusion | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or Fusion()

    @classmethod
    def open(
        cls, location: Location, embedder: Embedder, fusion: Fusion | None = None
    ) -> Retriever:
        """The index at ``location`` (a folder or a database URL), checked against the model."""
        backend = backend_at(location)
        store = backend.open(model_identity(embedder.name), embedder.dimension)
        return cls(store, embedder, fusion)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        location: Location | None = None,
        embedder: Embedder | None = None,
        fusion: Fusion | None = None,
    ) -> Retriever:
        """The index at ``location`` (default: where ``settings`` answers from), searched with
        the embedder ``settings`` names unless a loaded one is given."""
        return cls.open(
            settings.answer_location if location is None else location,
            embedder or Embedder.from_settings(settings),
            fusion,
        )

    def search(self, question: str, k: int = 5, scope: Scope | None = None) -> list[Passage]:
        """The ``k`` best passages among those ``scope`` admits (None: all), best first."""
        store, fusion = self.store, self.fusion
        total = store.manifest.passages
        if total == 0 or not question.strip():
            return []
        query = self.embedder.encode_query(question)
        depth = min(max(fusion.candidates, k), total)

        nearest = store.dense(query, depth, scope) if fusion.mode != "lexical" else []
        hits = store.lexical(question, depth, also=nearest, scope=scope)
        pool = set(nearest) | (set(hits.top) if fusion.mode != "dense" else set())
        if not pool:
            return []
        ids = sorted(pool)
        dense = store.passage_cosines(ids, query)
        lexical = np.array([hits.scores.get(int(i), 0.0) for i in ids]) / max(hits.best, 1e-9)

        if fusion.mode == "dense":
            scores = dense
        elif fusion.mode == "lexical":
            scores = lexical
        else:
            # A passage whose one sentence matches the question closely often holds the answer
            # even when the passage as a whole is about something broader.
            sentence = store.best_sentence_cosines(ids, query)
            scores = (
                fusion.dense_weight * dense
                + fusion.sentence_weight * sentence
                + fusion.lexical_weight * lexical
            )
        order = np.argsort(-scores, kind="stable")[:k]
        records = store.passages([int(ids[i]) for i in order])
        return [
            Passage(
                id=r.id,
                rank=rank,
                score=round(float(scores[i]), 6),
                dense=float(dense[i]),
                text=r.text,
                article_id=r.article_id,
                title=r.title,
                source=r.source,
                url=r.url,
                start=r.start,
                end=r.end,
                first_sentence=r.first_sentence,
                sentence_count=r.sentence_count,
                date=r.date,
            )
            for rank, (r, i) in enumerate(zip(records, order, strict=True), start=1)
        ]
