"""SQuAD's own answer metrics (exact match and token F1), so our figures compare with
published readers. The normalization is the official evaluation script's: lower case, no
punctuation, no articles (a, an, the), single spaces."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

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
