"""``python -m index.training.calibration fit``: fit the calibration on the SQuAD articles the
reader never trained on, and write the reader's ``index/answer/calibration/<reader>.json``.

The held-out articles are split in two halves (alternate titles), and each half is indexed as
a corpus of its own. Every held-out question is asked of both indexes, through the whole
answer path: of the one holding its article it is answerable, of the other it is not (a
question about Zinc asked of an index that holds Uranium: the near miss an off-topic question
is). That gives what each model learns from:

- ``covered``: answerable or not, from every question asked of both indexes;
- ``correct``: the short answer's SQuAD F1, from the answerable questions that pass ``covered``
  (a logistic model fitted to F1 as a soft label: its output is the expected F1);
- ``alternative``: each alternative's F1, beside the unsure answers.

The thresholds are set on predictions made out of fold (fitted on the questions of one half's
articles, applied to the other's), so that they are not chosen on what a model was fitted on:
``covered_threshold`` refuses at most ``REFUSED_AT_MOST`` of the answerable questions;
``sure_threshold`` is the lowest at which the sure answers' short answers are right at least
``SURE_PRECISION`` of the time. Scikit-learn does the fitting (only here).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from index.answer.alternatives import alternative_candidates
from index.answer.answerer import Answerer, reader_for
from index.answer.confidence import (
    AlternativeSignals,
    Calibration,
    Logistic,
    Signals,
    calibration_path,
    expected_calibration_error,
)
from index.answer.metrics import short_correct, token_f1
from index.answer.policy import AnswerPolicy
from index.answer.signals import alternative_signals, signals
from index.reader import Reader
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.settings import Settings
from index.training.reader.squad import HOLDOUT_ARTICLES, read_squad, split_holdout

log = logging.getLogger(__name__)

# The share of answerable held-out questions the coverage check may refuse. The rules it
# replaced refused 1.7 % of them and answered 17 % of the unanswerable ones (BENCHMARKS.md).
REFUSED_AT_MOST = 0.006
# The share of sure answers whose short answer must be right (the bar, 85 %).
SURE_PRECISION = 0.85
# Alternatives looked at per unsure answer, to fit their model.
ALTERNATIVES_SEEN = 4
SIGNALS = tuple(f.name for f in fields(Signals))
ALTERNATIVE_SIGNALS = tuple(f.name for f in fields(AlternativeSignals))


@dataclass
class HeldOutAsking:
    """One held-out question asked of one index, as the fit sees it."""

    group: int  # which half its article is in: folds never mix a question's two askings
    answerable: bool  # its article is in the index it was asked of
    signals: dict[str, float]
    f1: float  # of the best span against the references (0 when not answerable)
    right: bool  # the short answer holds a reference (as `python -m index eval` counts it)
    # The alternatives' signals (without the answer's confidence), F1 and rightness.
    alternatives: list[tuple[dict[str, float], float, bool]]


def ask_held_out(
    data: Path, settings: Settings, reader: Reader, limit: int = 0
) -> list[HeldOutAsking]:
    """Every held-out question (or the first ``limit`` of each half) asked of both halves."""
    _, held = split_holdout(read_squad(data), HOLDOUT_ARTICLES)
    titles = list(dict.fromkeys(row["title"] for row in held))
    halves = [titles[0::2], titles[1::2]]
    group = {title: h for h, half in enumerate(halves) for title in half}
    questions = [
        (row["title"], qa["question"], [a["text"] for a in qa["answers"]])
        for row in held
        for qa in row["qas"]
    ]
    if limit:
        questions = [q for h in (0, 1) for q in [q for q in questions if group[q[0]] == h][:limit]]
    embedder = Embedder.from_settings(settings)
    asked: list[HeldOutAsking | None] = []
    with tempfile.TemporaryDirectory(prefix="newsdesk-calibration-") as scratch:
        for h, half in enumerate(halves):
            corpus, index = Path(scratch) / f"corpus{h}", Path(scratch) / f"index{h}"
            corpus.mkdir()
            for number, title in enumerate(half):
                paragraphs = [row["context"] for row in held if row["title"] == title]
                text = title + "\n\n" + "\n\n".join(paragraphs) + "\n"
                (corpus / f"{number:03d}.txt").write_text(text, encoding="utf-8")
            build(corpus, index, embedder, BuildOptions.from_settings(settings))
            retriever = Retriever.open(index, embedder)
            answerer = Answerer(retriever, reader=reader, calibration=_unfitted())
            for number, (title, question, answers) in enumerate(questions):
                if number % 500 == 0:
                    log.info("half %d: %d of %d questions", h, number, len(questions))
                asked += [_ask(answerer, question, answers, group[title], group[title] == h)]
            retriever.store.close()
    return [a for a in asked if a is not None]


def _unfitted() -> Calibration:
    """Stands in while the held-out questions are asked: the fit reads signals, never judges."""
    blank = Logistic((), (), (), (), 0.0)
    return Calibration(blank, blank, blank, 0.0, 1.0, "", {})


def _ask(
    answerer: Answerer, question: str, answers: list[str], group: int, answerable: bool
) -> HeldOutAsking | None:
    found = answerer.find(question)
    best = found.considered.best
    if best is None:
        return None
    alternatives = []
    for candidate in alternative_candidates(found)[:ALTERNATIVES_SEEN]:
        values = alternative_signals(candidate, best, 0.0).values()
        values.pop("answer_confidence")
        f1 = token_f1(candidate.text, answers) if answerable else 0.0
        alternatives.append((values, f1, answerable and short_correct(candidate.text, answers)))
    return HeldOutAsking(
        group=group,
        answerable=answerable,
        signals=dict(zip(SIGNALS, signals(found).vector(), strict=True)),
        f1=token_f1(best.text, answers) if answerable else 0.0,
        right=answerable and short_correct(best.text, answers),
        alternatives=alternatives,
    )


def logistic(rows: Sequence[dict[str, float]], labels: Sequence[float], inputs: Sequence[str]):
    """A logistic model of ``labels`` (0 to 1: a soft label is the share of weight on 1)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[row[name] for name in inputs] for row in rows], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    y = np.asarray(labels, dtype=np.float64)
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(np.vstack([z, z]), np.r_[np.ones(len(y)), np.zeros(len(y))], np.r_[y, 1 - y])
    return Logistic(
        tuple(inputs),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
    )


def _out_of_fold(asked: Sequence[HeldOutAsking], fit, predict) -> list[float]:
    """``predict(model, a)`` for each of ``asked`` by a model ``fit`` on the other group."""
    models = {g: fit([a for a in asked if a.group != g]) for g in (0, 1)}
    return [predict(models[a.group], a) for a in asked]


def fit(asked: Sequence[HeldOutAsking], reader: str) -> Calibration:
    """The calibration from the held-out askings, with the figures it reached on them."""

    def covered_model(rows: Sequence[HeldOutAsking]) -> Logistic:
        return logistic([a.signals for a in rows], [float(a.answerable) for a in rows], SIGNALS)

    coverage = _out_of_fold(asked, covered_model, lambda m, a: m(a.signals))
    grid = [round(t, 3) for t in np.arange(0.01, 0.5, 0.01)]

    def refused(threshold: float) -> list[bool]:
        """Of the answerable askings, which the answer path would refuse at ``threshold``."""
        return [
            c < threshold and not _vouched(a)
            for a, c in zip(asked, coverage, strict=True)
            if a.answerable
        ]

    covered_threshold = max(
        (t for t in grid if np.mean(refused(t)) <= REFUSED_AT_MOST), default=0.0
    )
    answered = [c >= covered_threshold or _vouched(a) for a, c in zip(asked, coverage, strict=True)]
    passing = [a for a, ok in zip(asked, answered, strict=True) if a.answerable and ok]

    def correct_model(rows: Sequence[HeldOutAsking]) -> Logistic:
        return logistic([a.signals for a in rows], [a.f1 for a in rows], SIGNALS)

    confidence = _out_of_fold(passing, correct_model, lambda m, a: m(a.signals))
    sure_threshold = min(
        (
            t
            for t in [round(t, 2) for t in np.arange(0.5, 0.99, 0.01)]
            if np.mean(
                [a.right for a, c in zip(passing, confidence, strict=True) if c >= t] or [False]
            )
            >= SURE_PRECISION
        ),
        default=0.99,
    )

    def alternative_rows(rows: Sequence[HeldOutAsking], confidences: Sequence[float]):
        out = []
        for a, c in zip(rows, confidences, strict=True):
            if c < sure_threshold:
                out += [
                    ({**v, "answer_confidence": c}, f1, right) for v, f1, right in a.alternatives
                ]
        return out

    alternatives = alternative_rows(passing, confidence)
    alternative = logistic(
        [v for v, _, _ in alternatives], [f1 for _, f1, _ in alternatives], ALTERNATIVE_SIGNALS
    )
    final_covered = covered_model(asked)
    final_correct = correct_model(passing)
    unanswerable = [ok for a, ok in zip(asked, answered, strict=True) if not a.answerable]
    error, table = expected_calibration_error(confidence, [a.f1 for a in passing])
    sure = [a for a, c in zip(passing, confidence, strict=True) if c >= sure_threshold]
    fitted = {
        "on": "the last 20 articles of ../shared/squad/train.jsonl.gz (held out of every reader "
        "run), in two halves, each question asked of both",
        "date": datetime.date.today().isoformat(),
        "questions": sum(a.answerable for a in asked),
        "askings": len(asked),
        "out_of_fold": {
            "answerable_refused": _share(refused(covered_threshold)),
            "unanswerable_answered": _share(unanswerable),
            "expected_calibration_error": error,
            "reliability": table,
            "sure_share": round(len(sure) / len(passing), 4),
            "sure_right": round(float(np.mean([a.right for a in sure])), 4) if sure else None,
            "alternatives_fitted_on": len(alternatives),
        },
    }
    return Calibration(
        covered=final_covered,
        correct=final_correct,
        alternative=alternative,
        covered_threshold=covered_threshold,
        sure_threshold=sure_threshold,
        reader=reader,
        fitted=fitted,
    )


def _vouched(asked: HeldOutAsking) -> bool:
    """Covered whatever the coverage model says: the reader is sure of the span (as
    ``Answerer.judge`` decides it, with the policy's defaults)."""
    policy = AnswerPolicy()
    return (
        math.exp(asked.signals["span_log_probability"]) >= policy.reader_sure
        and math.exp(asked.signals["no_answer_log_probability"]) <= policy.reader_unsure
    )


def _share(flags) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m index.training.calibration", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "fit", help="fit the reader's calibration (NEWSDESK_READER) on held-out SQuAD"
    )
    command.add_argument("--data", type=Path, required=True, help="SQuAD's train.jsonl.gz")
    command.add_argument(
        "--out", type=Path, help="where to write it (default: the reader's shipped calibration)"
    )
    command.add_argument(
        "--limit", type=int, default=0, help="questions per half (0: all): a try in minutes"
    )
    command.add_argument(
        "--asked",
        type=Path,
        help="keep the askings in this JSON file and reuse them when it exists (refits in "
        "seconds; delete it after changing the answer path or the reader)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    reader = reader_for(settings)
    if args.asked and args.asked.is_file():
        asked = [HeldOutAsking(**row) for row in json.loads(args.asked.read_text())]
    else:
        asked = ask_held_out(args.data, settings, reader, args.limit)
        if args.asked:
            args.asked.write_text(json.dumps([asdict(a) for a in asked]))
    calibration = fit(asked, getattr(reader, "digest", ""))
    out = args.out or calibration_path(getattr(reader, "name", settings.reader))
    out.write_text(json.dumps(calibration.to_json(), indent=1) + "\n", encoding="utf-8")
    print(json.dumps(calibration.fitted["out_of_fold"], indent=1))
    print(f"covered below {calibration.covered_threshold}, sure from {calibration.sure_threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
