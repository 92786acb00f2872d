"""The SQuAD v1.1 training file (``../shared/squad/train.jsonl.gz``) as training and
calibration read it: one row per paragraph, the last articles held out. No torch here, so
the confidence fit (``index.training.calibration``) and the bench can read it too."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

# The articles at the end of the file that no reader run trains on: what measures the reader
# and what the confidence is fitted on (XQuAD, built from SQuAD dev, stays the test).
HOLDOUT_ARTICLES = 20


def read_squad(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def split_holdout(rows: list[dict], articles: int) -> tuple[list[dict], list[dict]]:
    """The last ``articles`` articles of the file, held out."""
    titles = list(dict.fromkeys(r["title"] for r in rows))
    held = set(titles[len(titles) - articles :]) if articles else set()
    return [r for r in rows if r["title"] not in held], [r for r in rows if r["title"] in held]


def first_questions(rows: list[dict], limit: int, skip: int = 0) -> list[dict]:
    """The paragraphs holding the ``limit`` questions after the first ``skip`` (0: all)."""
    if not limit and not skip:
        return rows
    kept, count = [], 0
    for row in rows:
        if limit and count >= skip + limit:
            break
        first, last = max(0, skip - count), (skip + limit - count) if limit else None
        count += len(row["qas"])
        if questions := row["qas"][first:last]:
            kept.append({**row, "qas": questions})
    return kept
