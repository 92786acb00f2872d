"""Retrieve: a question -> the passages most likely to answer it.

Candidates come from dense search (FAISS, cosine) and lexical search (BM25). Each is scored
by a weighted sum of three signals: the passage's cosine, its best sentence's cosine and its
BM25 score relative to the best one. Score fusion beat reciprocal rank fusion on the eval
sets (BENCHMARKS.md): ranks alone lose how much better the first passage is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from index.embedding import Embedder, model_identity
from index.store import Store

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

    def __init__(self, store: Store, embedder: Embedder, fusion: Fusion | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.fusion = fusion or Fusion()

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder, fusion: Fusion | None = None) -> Retriever:
        store = Store.open(index_dir, model_identity(embedder.name), embedder.dimension)
        return cls(store, embedder, fusion)

    def search(self, question: str, k: int = 5) -> list[Passage]:
        store, fusion = self.store, self.fusion
        total = store.manifest.passages
        if total == 0 or not question.strip():
            return []
        query = self.embedder.encode_query(question)
        depth = min(max(fusion.candidates, k), total)

        pool: set[int] = set()
        if fusion.mode != "lexical":
            _, ids = store.faiss.search(query[None, :], depth)
            pool.update(int(i) for i in ids[0] if i >= 0)
        bm25 = store.lexical.scores(question)
        if fusion.mode != "dense":
            top = np.argsort(-bm25, kind="stable")[:depth]
            pool.update(int(i) for i in top if bm25[i] > 0)
        if not pool:
            return []
        ids = np.array(sorted(pool), dtype=np.int64)
        dense = store.faiss.reconstruct_batch(ids) @ query
        lexical = bm25[ids] / max(float(bm25.max()), 1e-9)

        if fusion.mode == "dense":
            scores = dense
        elif fusion.mode == "lexical":
            scores = lexical
        else:
            # A passage whose one sentence matches the question closely often holds the answer
            # even when the passage as a whole is about something broader.
            sentence = store.best_sentence_scores(ids, query)
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
