"""Retrieve: a question -> the passages most likely to answer it.

Dense (FAISS, cosine) and lexical (BM25) candidates are fused by reciprocal rank fusion;
the weights were chosen with ``python -m index eval`` (see BENCHMARKS.md).
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


@dataclass(frozen=True)
class Fusion:
    mode: Mode = "hybrid"
    candidates: int = 50  # taken from each retriever before fusing
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0


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
        total = self.store.manifest.passages
        if total == 0 or not question.strip():
            return []
        fusion = self.fusion
        query = self.embedder.encode_query(question)
        depth = min(max(fusion.candidates, k), total)

        scores: dict[int, float] = {}
        if fusion.mode in ("hybrid", "dense"):
            _, ids = self.store.faiss.search(query[None, :], depth)
            for rank, pid in enumerate(ids[0]):
                if pid >= 0:
                    scores[int(pid)] = fusion.dense_weight / (fusion.rrf_k + rank + 1)
        if fusion.mode in ("hybrid", "lexical"):
            bm25 = self.store.lexical.scores(question)
            top = np.argsort(-bm25, kind="stable")[:depth]
            for rank, pid in enumerate(top):
                if bm25[pid] > 0:
                    bonus = fusion.lexical_weight / (fusion.rrf_k + rank + 1)
                    scores[int(pid)] = scores.get(int(pid), 0.0) + bonus

        best = sorted(scores, key=lambda pid: (-scores[pid], pid))[:k]
        if not best:
            return []
        records = self.store.passages(best)
        cosines = self.store.faiss.reconstruct_batch(np.array(best, dtype=np.int64)) @ query
        return [
            Passage(
                id=r.id,
                rank=rank,
                score=round(scores[r.id], 6),
                dense=float(cosine),
                text=r.text,
                article_id=r.article_id,
                title=r.title,
                source=r.source,
                url=r.url,
                start=r.start,
                end=r.end,
                first_sentence=r.first_sentence,
                sentence_count=r.sentence_count,
            )
            for rank, (r, cosine) in enumerate(zip(records, cosines, strict=True), start=1)
        ]
