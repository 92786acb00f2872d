"""How answers are compared, in one place.

Two normalizations, for two jobs: ``squad_normalize`` is the official SQuAD evaluation
script's (lower case, no punctuation, no articles, single spaces), so that exact match and
token F1 compare with published readers; ``normalize`` only folds case, spacing, curly quotes
and dashes, so that an evidence passage or a reference is found *inside* a text with its
punctuation ("U.S.", "1,200") intact (``short_correct``, the eval's short answers)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_PUNCTUATION = set(string.punctuation)


def squad_normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: Iterable[str]) -> float:
    """1.0 when the prediction equals any reference after normalization."""
    predicted = squad_normalize(prediction)
    return float(any(predicted == squad_normalize(r) for r in references))


def token_f1(prediction: str, references: Iterable[str]) -> float:
    """The best word-overlap F1 of the prediction against any reference."""
    predicted = squad_normalize(prediction).split()
    best = 0.0
    for reference in references:
        expected = squad_normalize(reference).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def share_words(a: str, b: str) -> bool:
    """Whether two answers have a word in common, after SQuAD's normalization."""
    return bool(set(squad_normalize(a).split()) & set(squad_normalize(b).split()))


MAX_WORDS = 10  # a short answer holds at most this many words


def normalize(text: str) -> str:
    """Compare text regardless of curly quotes, dashes, spacing and case."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans("‘’‚‛“”„‟–—", "''''\"\"\"\"--"))
    return re.sub(r"\s+", " ", text).strip().lower()


def short_correct(text: str, references: Sequence[str]) -> bool:
    """Whether a short answer (at most ``MAX_WORDS`` words) holds a reference answer."""
    short = normalize(text)
    return len(text.split()) <= MAX_WORDS and any(normalize(r) in short for r in references)
