"""BM25 over passages (bm25s), saved beside the FAISS index and swapped with it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stopwords."""
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )


class LexicalIndex:
    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        model = bm25s.BM25()
        # bm25s cannot index an empty corpus or an all-stopword one; give it one placeholder.
        tokens = [t or [""] for t in tokenize(texts)] or [[""]]
        model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(folder)), size)

    def save(self, folder: Path) -> None:
        self.model.save(str(folder))

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every passage for ``query`` (zeros when no word matches)."""
        words = [w for w in tokenize([query])[0] if w in self.model.vocab_dict]
        if not words or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(words), dtype=np.float32)[: self.size]
