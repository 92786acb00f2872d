"""The reader seam: a question and candidate sentences -> the span that answers, per sentence.

``Answerer`` asks a ``Reader`` which of the candidate sentences answers and where; the default
is the model this project trains (``index.reader.model.TrainedReader``, weights in
``weights/``, its network in ``network.py``); tests may pass any object with the same ``read``
method. Every span a reader returns is a verbatim substring of its sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from index.errors import NewsdeskError

# The committed weights of the trained readers (see weights/MODEL_CARD.md), by the name
# NEWSDESK_READER gives them: the small one's whole, the large one's adapter.
SHIPPED = {
    "small": Path(__file__).with_name("weights") / "reader.safetensors",
    "large": Path(__file__).with_name("weights") / "large.safetensors",
}
WEIGHTS = SHIPPED["small"]
RETRAIN = (
    "python -m index.training.reader train --data ../shared/squad/train.jsonl.gz --out data/reader"
)

# Sentences are joined with one space to make the reader's context in training; at question
# time their word pieces are laid end to end, which BERT's tokenizer makes the same input.
SEPARATOR = " "


@dataclass(frozen=True)
class FoundSpan:
    sentence: int  # index into the sentences given to ``read``
    start: int  # character offsets into that sentence
    end: int
    text: str
    probability: float  # the model's probability that this span is the answer


@dataclass(frozen=True)
class ReaderOutput:
    spans: list[FoundSpan]  # the best few spans of each sentence that has one, best first
    no_answer: float  # the model's probability that none of the sentences answers

    def of(self, sentence: int) -> list[FoundSpan]:
        """The spans found in one sentence, best first."""
        return [s for s in self.spans if s.sentence == sentence]


class ReaderWeightsError(NewsdeskError, RuntimeError):
    """The reader's weights are missing, damaged or made for another base model."""


def weights_fix(path: Path) -> str:
    """What to do about a bad weights file, for the one line that reports it."""
    retrain = RETRAIN + (" --model large" if path == SHIPPED["large"] else "")
    return f"restore them with `git checkout -- {path}` or retrain with `{retrain}`"


def weights_metadata(path: Path) -> dict[str, str]:
    """The weights file's metadata, read without torch, or a ``ReaderWeightsError`` saying it
    is missing or damaged (a cut file fails here: its header no longer covers it)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise ReaderWeightsError(f"The reader's weights are missing ({path}): {weights_fix(path)}.")
    try:
        with safe_open(str(path), "np") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise damaged_weights(path, error) from None


def damaged_weights(path: Path, error: Exception) -> ReaderWeightsError:
    return ReaderWeightsError(
        f"The reader's weights at {path} are damaged ({error}): {weights_fix(path)}."
    )


class Reader(Protocol):
    def read(
        self, question: str, sentences: Sequence[str], priority: Sequence[int] | None = None
    ) -> ReaderOutput:
        """The best span of each sentence read. ``sentences`` come in the order to read them
        (document order reads best); ``priority`` (indices, best first) says which to keep
        when they do not all fit the reader's window."""
        ...

    def read_each(self, question: str, sentences: Sequence[str]) -> list[ReaderOutput]:
        """Each sentence read on its own (in one batch), so that its spans compete with its
        own "no answer" only, not with the other sentences: whether each one answers."""
        ...


def join_sentences(sentences: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """The context the reader sees, and each sentence's [start, end) in it."""
    ranges, at = [], 0
    for sentence in sentences:
        ranges.append((at, at + len(sentence)))
        at += len(sentence) + len(SEPARATOR)
    return SEPARATOR.join(sentences), ranges
