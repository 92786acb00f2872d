"""BM25 over passages (bm25s), saved beside the FAISS index and swapped with it."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from index.search.stopwords import STOP_WORDS

# bm25s sets its own logger to DEBUG: every build put "Building index from tokens" in the
# CLI's output and the bot's log.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


# Short forms news copy uses for names readers spell out, and the reverse. Upper case only:
# "US" the country, not "us" the pronoun (a stopword).
ALIASES = {
    "US": "United States",
    "U.S.": "United States",
    "UK": "United Kingdom",
    "U.K.": "United Kingdom",
    "UN": "United Nations",
    "U.N.": "United Nations",
    "EU": "European Union",
}
_ALIAS = re.compile(r"(?<![\w.])(" + "|".join(re.escape(a) for a in ALIASES) + r")(?![\w])")


def expand_aliases(text: str) -> str:
    return _ALIAS.sub(lambda m: ALIASES[m.group(1)], text)


def stopwords() -> frozenset[str]:
    # spaCy's list (326 words) rather than bm25s's 33: "how", "many", "were" and the like
    # say nothing about which passage answers.
    return STOP_WORDS


@cache
def _stopword_list() -> list[str]:
    return sorted(stopwords())


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stopwords, short forms spelled out."""
    return bm25s.tokenize(
        [expand_aliases(t) for t in texts],
        stopwords=_stopword_list(),
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )


class LexicalIndex:
    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model = model
        self.size = size
        # Passages holding each word: the columns of bm25s's sparse word-by-passage matrix.
        frequency = np.diff(model.scores["indptr"])
        self._document_frequency = np.pad(frequency, (0, len(model.vocab_dict) - len(frequency)))

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

    def idf(self, word: str) -> float:
        """How rare a (tokenized) word is among the passages; unseen words are the rarest."""
        row = self.model.vocab_dict.get(word)
        frequency = int(self._document_frequency[row]) if row is not None else 0
        return float(np.log(1 + (self.size - frequency + 0.5) / (frequency + 0.5)))

    def knows(self, text: str, inside: np.ndarray | None = None) -> bool:
        """Whether every word of ``text`` occurs somewhere in the indexed passages (those
        ``inside``, a mask over them, when given)."""
        words = tokenize([text])[0]
        if not all(word in self.model.vocab_dict for word in words):
            return False
        return inside is None or all(
            bool((np.asarray(self.model.get_scores([w]))[: self.size][inside] > 0).any())
            for w in words
        )

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every passage for ``query`` (zeros when no word matches)."""
        words = [w for w in tokenize([query])[0] if w in self.model.vocab_dict]
        if not words or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(words), dtype=np.float32)[: self.size]
