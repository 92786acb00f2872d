"""How sure an answer is: whether the coverage answers the question at all, and the
probability that the short answer is right, from what the answerer measured on the way.

Two logistic models over the same ``Signals`` (the reader's span and "no answer"
probabilities, how close the best sentences are, how far the answer is ahead of the next
one...), fitted by ``python -m index.training.calibration fit`` on the SQuAD articles the
reader never trained on and kept beside this file, one for each shipped reader
(``calibration/large.json``, ``calibration/small.json``):

- ``covered``: the probability that the coverage holds the answer (fitted on held-out
  questions asked with and without their article in the index); below ``covered_threshold``
  the answer is "not covered".
- ``correct``: the probability that the short answer is right (its expected SQuAD F1), fitted
  on the held-out questions the coverage answers; at ``sure_threshold`` or above the answer is
  "sure", below it "unsure", and alternatives are shown.
- ``alternative``: the same for each alternative shown beside an unsure answer.

The figures they reached are in those files and BENCHMARKS.md. Applying them is a dot
product: no scikit-learn at question time (only the fit uses it).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Literal

from index.errors import NewsdeskError
from index.settings import DEFAULT_READER

CALIBRATIONS = Path(__file__).with_name("calibration")
REFIT = "python -m index.training.calibration fit --data ../shared/squad/train.jsonl.gz"

Status = Literal["sure", "unsure", "not covered"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Signals:
    """What speaks for the best answer of one question, as the calibration reads it."""

    span_log_probability: float  # the reader's log-probability of the answer's span
    no_answer_log_probability: float  # its log-probability that no sentence read answers
    closest: float  # the highest cosine of a candidate sentence with the question
    cosine: float  # the answer sentence's cosine
    overlap: float  # the share of the question's words (by IDF) the answer sentence holds
    phrase: float  # the share of the question's word pairs it holds in order
    base: float  # the answer sentence's match before the reader read it
    margin: float  # the answer's score above the next answer that does not overlap it
    share: float  # the answer's span probability over all spans found
    agreement: float  # the share of that probability on spans saying the same words
    words: int  # the answer's length in words
    unknown: bool  # the question names something no passage mentions
    rank: int  # the rank of the answer's passage
    passage_cosine: float  # the first passage's cosine with the question
    passage_score: float  # the first passage's retrieval score
    most_overlap: float  # the highest ``overlap`` of any candidate sentence

    def vector(self) -> list[float]:
        return [float(getattr(self, f.name)) for f in fields(self)]


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model: standardized inputs, weights, intercept."""

    inputs: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    def __call__(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            w * (values[name] - m) / s
            for name, m, s, w in zip(self.inputs, self.mean, self.scale, self.weights, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class AlternativeSignals:
    """What speaks for an alternative shown beside an unsure answer."""

    span_log_probability: float
    behind: float  # how far its score is behind the answer's
    same_sentence: bool  # it is another span of the answer's own sentence
    cosine: float  # its sentence's cosine with the question
    answer_confidence: float  # the calibrated confidence of the answer it stands beside

    def values(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Judgement:
    status: Status
    confidence: float  # the probability that the short answer is right
    covered: float  # the probability that the coverage answers the question


@dataclass(frozen=True)
class Calibration:
    covered: Logistic
    correct: Logistic
    alternative: Logistic
    covered_threshold: float
    sure_threshold: float
    reader: str  # the digest of the reader weights it was fitted with
    fitted: dict  # how and on what, with the figures it reached on held-out questions

    def judge(
        self,
        signals: Signals,
        covered_threshold: float | None = None,
        sure_threshold: float | None = None,
        vouched: bool = False,
    ) -> Judgement:
        """The answer's kind and confidence; thresholds default to the fitted ones.
        ``vouched``: covered whatever the coverage model says (the reader is sure of it)."""
        values = dict(zip([f.name for f in fields(Signals)], signals.vector(), strict=True))
        covered = self.covered(values)
        confidence = self.correct(values)
        floor = self.covered_threshold if covered_threshold is None else covered_threshold
        if covered < floor and not vouched:
            status: Status = "not covered"
        elif confidence >= (self.sure_threshold if sure_threshold is None else sure_threshold):
            status = "sure"
        else:
            status = "unsure"
        return Judgement(status, confidence, covered)

    def alternative_confidence(self, signals: AlternativeSignals) -> float:
        return self.alternative(signals.values())

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        def model(part: dict) -> Logistic:
            return Logistic(
                inputs=tuple(part["inputs"]),
                mean=tuple(part["mean"]),
                scale=tuple(part["scale"]),
                weights=tuple(part["weights"]),
                intercept=float(part["intercept"]),
            )

        return cls(
            covered=model(data["covered"]),
            correct=model(data["correct"]),
            alternative=model(data["alternative"]),
            covered_threshold=float(data["covered_threshold"]),
            sure_threshold=float(data["sure_threshold"]),
            reader=data["reader"],
            fitted=data.get("fitted", {}),
        )


class CalibrationError(NewsdeskError, RuntimeError):
    """The calibration file is missing or damaged; the message says how to get it back."""


def calibration_path(reader: str = DEFAULT_READER) -> Path:
    """Where the calibration of the shipped reader named ``reader`` is kept."""
    return CALIBRATIONS / f"{reader}.json"


def calibration_for(reader: object) -> Calibration:
    """The calibration fitted for ``reader``: the one of the shipped reader it is (its ``name``;
    a reader without one: the default's), checked against its weights' ``digest``."""
    name = getattr(reader, "name", DEFAULT_READER)
    return load_calibration(calibration_path(name), getattr(reader, "digest", ""))


@cache
def load_calibration(path: Path, reader: str = "") -> Calibration:
    """The fitted calibration; ``reader``: the digest of the weights in use, which it should
    have been fitted with (other weights answer with other probabilities: it is used, with a
    warning to refit it)."""
    try:
        calibration = Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CalibrationError(
            f"The confidence calibration is missing ({path}): restore it with "
            f"`git checkout -- {path}` or refit it with `{REFIT}`."
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise CalibrationError(
            f"The confidence calibration at {path} is damaged ({error}): restore it with "
            f"`git checkout -- {path}` or refit it with `{REFIT}`."
        ) from None
    if reader and calibration.reader != reader:
        log.warning(
            "The confidence calibration was fitted for other reader weights (%s, these are %s):"
            " its probabilities are off until it is refitted with `%s`.",
            calibration.reader,
            reader,
            REFIT,
        )
    return calibration


def expected_calibration_error(
    confidences: Sequence[float], outcomes: Sequence[float], bins: int = 10
) -> tuple[float, list[dict]]:
    """The expected calibration error over ``bins`` equal-width bins of confidence (outcomes:
    1 right, 0 wrong, or a score in between such as F1), and the reliability table: per bin
    with answers in it, its bounds, count, mean confidence and mean outcome."""
    table, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [
            (c, o)
            for c, o in zip(confidences, outcomes, strict=True)
            if low <= c < high or (b == bins - 1 and c == high)
        ]
        if not inside:
            continue
        mean_confidence = sum(c for c, _ in inside) / len(inside)
        mean_outcome = sum(o for _, o in inside) / len(inside)
        error += len(inside) / len(confidences) * abs(mean_confidence - mean_outcome)
        table.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "count": len(inside),
                "confidence": round(mean_confidence, 3),
                "outcome": round(mean_outcome, 3),
            }
        )
    return round(error, 4), table
