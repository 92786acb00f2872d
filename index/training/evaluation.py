"""``python -m index eval``: measure retrieval, answers, abstention and latency on a question set.

The question format is that of ``shared/eval/seed_qa.jsonl``: ``question``, ``answers``,
``evidence`` and, for questions the coverage cannot answer, ``answerable: false``. A folder of
stories (``shared/eval/stories``: one folder a story, its articles and ``questions.jsonl``) is
asked as a newsroom's coverage would be: every story's articles in one corpus. A follow-up
question also has ``previous``: the earlier questions of its conversation, oldest first. They
are asked first, as in a conversation's thread, and the follow-up is scored both with that
context and without it (``followup_recall@1`` against ``followup_recall@1_alone``). A story
question may also have ``earlier`` (the other reports it expects) and ``as_of`` (a past day).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.answer.answerer import Answerer, open_answerer
from index.answer.confidence import expected_calibration_error
from index.answer.followups import Turn
from index.answer.metrics import exact_match, normalize, short_correct, token_f1
from index.answer.records import Answer
from index.answer.reports import same_report
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Fusion, Mode
from index.search.storage import Location
from index.settings import Settings


def load_questions(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(
    questions_path: Path,
    settings: Settings,
    corpus: Path | None = None,
    mode: Mode = "hybrid",
    embedder: Embedder | None = None,
) -> dict:
    """Score every question; with ``corpus``, on a temporary index of that folder. A folder
    of stories is its own corpus."""
    stories = questions_path.is_dir()
    questions = story_questions(questions_path) if stories else load_questions(questions_path)
    if not questions:
        raise FileNotFoundError(
            f"No questions in {questions_path}: give a JSONL file or a folder of stories."
        )
    embedder = embedder or Embedder.from_settings(settings)
    with _scratch(settings) as scratch, tempfile.TemporaryDirectory() as articles:
        location = settings.index_location
        if stories:
            corpus = story_articles(questions_path, Path(articles))
        if corpus is not None:
            location = scratch
            build(corpus, location, embedder, BuildOptions.from_settings(settings))
        answerer = open_answerer(settings, location, embedder, fusion=Fusion(mode=mode))
        try:
            return score(answerer, questions)
        finally:
            answerer.retriever.store.close()


def story_questions(stories: Path) -> list[dict]:
    """Every story's questions, story by story."""
    return [q for f in sorted(stories.glob("*/questions.jsonl")) for q in load_questions(f)]


def story_articles(stories: Path, into: Path) -> Path:
    """Every story's articles in one folder: not its questions or timeline facts."""
    into.mkdir(parents=True, exist_ok=True)
    for path in stories.glob("*/*"):
        if path.is_file() and path.name not in ("questions.jsonl", "timeline.json"):
            shutil.copy(path, into / f"{path.parent.name}-{path.name}")
    return into


@contextmanager
def _scratch(settings: Settings) -> Iterator[Location]:
    """Where an eval corpus is indexed for the run: a temporary folder, or a temporary schema
    of the database when one is configured (so its figures are the database's)."""
    if settings.database_url:
        from index.db import scratch_schema

        with scratch_schema(settings.database_url) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as folder:
            yield Path(folder)


def score(answerer: Answerer, questions: list[dict], k: int = 5) -> dict:
    answerer.ask("warm-up question about the coverage")
    rows = []
    for item in questions:
        history = [_turn(answerer, q, k) for q in item.get("previous", [])]
        started = time.perf_counter()
        answer = answerer.ask(item["question"], k=k, history=history)
        seconds = time.perf_counter() - started
        answerable = item.get("answerable", True)
        row = {
            "id": item.get("id"),
            "question": item["question"],
            "answerable": answerable,
            "covered": answer.covered,
            "status": answer.status,
            "confidence": None if answer.confidence is None else round(answer.confidence, 4),
            "coverage": round(answer.coverage, 4),
            "answer": answer.text,
            "sentence": answer.sentence,
            "alternatives": [a.text for a in answer.alternatives],
            "other_reports": [r.text for r in answer.other_reports],
            "ms": round(seconds * 1000, 2),
        }
        if answerable:
            evidence = normalize(item["evidence"])
            hits = [p.rank for p in answer.passages if evidence in normalize(p.text)]
            if history:
                alone = answerer.ask(item["question"], k=k).passages
                row["asked_as"] = answer.read_as or answer.question
                row["evidence_rank_alone"] = next(
                    (p.rank for p in alone if evidence in normalize(p.text)), None
                )
            refs = [normalize(a) for a in item["answers"]]
            short = normalize(answer.text)
            shown = [answer.text, *(a.text for a in answer.alternatives)] if answer.covered else []
            row |= {
                "evidence_rank": hits[0] if hits else None,  # the search's rank
                # The passage shown first holds the answering sentence (the reader may have
                # found it in a passage search ranked lower).
                "evidence_first": bool(answer.passages)
                and evidence in normalize(answer.passages[0].text),
                "correct": answer.covered and any(r in short for r in refs),
                "short_correct": answer.covered and short_correct(answer.text, item["answers"]),
                # The right answer shown first or as the first alternative; or as any.
                "top2_correct": any(short_correct(t, item["answers"]) for t in shown[:2]),
                "shown_correct": any(short_correct(t, item["answers"]) for t in shown),
                "sentence_correct": answer.covered
                and any(r in normalize(answer.sentence) for r in refs),
                # SQuAD's own metrics, comparable with published readers; 0 when refused.
                "exact_match": exact_match(answer.text, item["answers"]) if answer.covered else 0.0,
                "f1": token_f1(answer.text, item["answers"]) if answer.covered else 0.0,
            }
            row |= _story_figures(item, answer)
        rows.append(row)
    return summarize(rows)


def _story_figures(item: dict, answer: Answer) -> dict:
    """What a story question checks beyond the answer (``../shared/eval/stories``): the
    earlier or differing reports it expects found among ``other_reports`` (the same figure or
    name, from that outlet on that date), and whether it asks about the latest or a past day."""
    expected = item.get("earlier", [])
    found = sum(
        any(
            same_report(r.text, e["text"]) and (e["source"], e["date"]) in _dated(r.sources())
            for r in answer.other_reports
        )
        for e in expected
    )
    return {
        "earlier_expected": len(expected),
        "earlier_found": found,
        "kind": "as of" if item.get("as_of") else "latest" if expected else "",
    }


def _dated(sources: list[tuple[str, str | None]]) -> set[tuple[str, str | None]]:
    return {(source, date[:10] if date else None) for source, date in sources}


def _turn(answerer: Answerer, question: str, k: int) -> Turn:
    answer = answerer.ask(question, k=k)
    return Turn(question, answer.text)


def summarize(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    latencies = sorted(r["ms"] for r in rows)

    def share(flag: str) -> float | None:
        return (
            round(sum(bool(r[flag]) for r in answerable) / len(answerable), 4)
            if answerable
            else None
        )

    def mean(metric: str) -> float | None:
        """A SQuAD metric in percent, as published readers report it."""
        if not answerable:
            return None
        return round(100 * sum(r[metric] for r in answerable) / len(answerable), 1)

    def recall(k: int, among: list[dict] = answerable, rank: str = "evidence_rank") -> float | None:
        if not among:
            return None
        found = sum(1 for r in among if r[rank] and r[rank] <= k)
        return round(found / len(among), 4)

    followups = [r for r in answerable if "asked_as" in r]

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "recall@1": recall(1),
        "recall@5": recall(5),
        "evidence_shown_first": share("evidence_first"),
        "mrr": round(
            sum(1 / r["evidence_rank"] for r in answerable if r["evidence_rank"]) / len(answerable),
            4,
        )
        if answerable
        else None,
        "answer_accuracy": share("correct"),
        "short_answer_accuracy": share("short_correct"),
        "top2_short_accuracy": share("top2_correct"),
        "shown_short_accuracy": share("shown_correct"),
        "sentence_accuracy": share("sentence_correct"),
        "exact_match": mean("exact_match"),
        "f1": mean("f1"),
        "wrongly_refused": sum(1 for r in answerable if not r["covered"]),
        "followups": len(followups),
        "followup_recall@1": recall(1, followups),
        "followup_recall@1_alone": recall(1, followups, "evidence_rank_alone"),
        "earlier_reports": sum(r.get("earlier_expected", 0) for r in answerable),
        "earlier_reports_found": sum(r.get("earlier_found", 0) for r in answerable),
        "latest_questions": sum(r.get("kind") == "latest" for r in answerable),
        "latest_right": sum(r.get("kind") == "latest" and r["short_correct"] for r in answerable),
        "as_of_questions": sum(r.get("kind") == "as of" for r in answerable),
        "as_of_right": sum(r.get("kind") == "as of" and r["short_correct"] for r in answerable),
        "unanswerable": len(unanswerable),
        "abstained": sum(1 for r in unanswerable if not r["covered"]),
        "unanswerable_marked_sure": sum(1 for r in unanswerable if r["status"] == "sure"),
        **_confidence_summary(answerable),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 2)
        if latencies
        else None,
        "per_question": rows,
    }


def _confidence_summary(answerable: list[dict]) -> dict:
    """How the answers' confidence holds up: the kinds of answer, how often the sure ones
    are right, and the calibration of the answers given (confidence against their F1)."""
    answered = [r for r in answerable if r["covered"]]
    sure = [r for r in answered if r["status"] == "sure"]
    error, table = expected_calibration_error(
        [r["confidence"] for r in answered], [r["f1"] for r in answered]
    )
    return {
        "sure": len(sure),
        "unsure": sum(1 for r in answered if r["status"] == "unsure"),
        "sure_right": round(sum(r["short_correct"] for r in sure) / len(sure), 4) if sure else None,
        "expected_calibration_error": error if answered else None,
        "reliability": table,
    }


def format_report(report: dict) -> str:
    lines = []
    for r in report["per_question"]:
        how = f"{r['status']} {r['confidence']:.2f}" if r["covered"] else "not covered"
        said = r["answer"] or "(not covered)"
        if r["alternatives"]:
            said += f"  (or {' / '.join(r['alternatives'])})"
        if r["answerable"]:
            mark = "ok " if r["correct"] else "-- "
            rank = r["evidence_rank"] or "-"
            asked = f"{r['question']} [as: {r['asked_as']}]" if "asked_as" in r else r["question"]
            lines.append(f"{mark} evidence@{rank}  {asked}  ->  {said}  [{how}]")
            if r.get("earlier_expected"):
                found = f"{r['earlier_found']}/{r['earlier_expected']}"
                lines.append(f"      earlier reports {found}: {' / '.join(r['other_reports'])}")
        else:
            mark = "ok " if not r["covered"] else "-- "
            lines.append(f"{mark} abstain     {r['question']}  ->  {said}  [{how}]")
    summary = {k: v for k, v in report.items() if k not in ("per_question", "reliability")}
    lines.append("")
    lines += [f"{key:26s} {value}" for key, value in summary.items()]
    if report["reliability"]:
        lines += ["", "confidence  answers  mean confidence  mean F1"]
        lines += [
            f"{b['bin']:10s}  {b['count']:7d}  {b['confidence']:15.3f}  {b['outcome']:7.3f}"
            for b in report["reliability"]
        ]
    return "\n".join(lines)
