"""``python -m index.training.reader mine``: hard examples for more training of the shipped reader.

Two kinds, from the SQuAD training articles only (the held-out ones stay held out):

- **mined**: training inputs (``index.training.reader.examples``, a new seed) that the shipped
  reader gets wrong (its best span's F1 under 1), wins by a small margin (the best other span that
  says something else is at least ``margin`` times as likely), or answers where no sentence
  does;
- **confusions**: the mistake it makes most, two spans of one type in one passage ("fell
  three votes shy of the 23 it needed"; Sullivan's sentence beside Rodriguez's): the
  answering sentence beside other sentences of its article that hold spans of the answer's
  type (figures beside figures, names beside names), and, twice over, answering sentences
  where the answer is not the first span of its type.

Read in batches by the ONNX reader on every core: 29 minutes for SQuAD's 109,561 inputs on 2
cores, of which 34,189 (31 %) were kept. The output is a gzipped
JSON-lines file of ``Example`` rows, for ``python -m index.training.reader train --hard FILE``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from index.answer.metrics import token_f1
from index.answer.reports import figure
from index.reader import WEIGHTS, FoundSpan
from index.reader.model import TrainedReader
from index.training.reader.examples import (
    Example,
    Layout,
    Sentence,
    arrange,
    article_sentences,
    locate,
    make_examples,
)
from index.training.reader.squad import HOLDOUT_ARTICLES, read_squad, split_holdout

# A run of capitalised words (joined by "of", "de", "the" and the like): a name.
_NAME = re.compile(
    r"(?:[A-Z][\w'’.-]+)(?:\s+(?:(?:of|de|la|the|von|van|al|bin)\s+)?[A-Z][\w'’.-]+)*"
)
_FIGURE = re.compile(r"\d[\d,.]*(?:\s*(?:%|percent|million|billion|thousand))?")


def answer_type(text: str) -> str | None:
    """ "figure" or "name" for an answer of that type, else None (most "what" answers)."""
    if figure(text) is not None:
        return "figure"
    words = text.split()
    capitals = [w for w in words if w[:1].isupper()]
    if capitals and len(capitals) >= max(1, len(words) - 1):
        return "name"
    return None


def typed_spans(sentence: str, kind: str) -> list[tuple[int, int]]:
    """Where ``sentence`` holds spans of ``kind``; a name that only opens the sentence is
    left out (its capital is the sentence's)."""
    if kind == "figure":
        return [m.span() for m in _FIGURE.finditer(sentence)]
    return [m.span() for m in _NAME.finditer(sentence) if m.start() > 0 or " " in m.group(0)]


def confusions(rows: list[dict], layout: Layout, limit: int) -> list[Example]:
    """Up to ``limit`` inputs that set the answer beside spans of its own type."""
    rng = random.Random(f"confusions:{layout.seed}")
    articles: dict[str, list[dict]] = {}
    for row in rows:
        articles.setdefault(row["title"], []).append(row)
    found: list[Example] = []
    for paragraphs in articles.values():
        sentences = article_sentences(paragraphs)
        for p, row in enumerate(paragraphs):
            for qa in row["qas"]:
                found += _confused(row["context"], p, qa, sentences, layout, rng)
    rng.shuffle(found)
    return found[:limit]


def _confused(
    context: str, paragraph: int, qa: dict, sentences: list[Sentence], layout: Layout, rng
) -> list[Example]:
    where = locate(context, paragraph, qa)
    kind = answer_type(where.text) if where else None
    if where is None or kind is None:
        return []
    alike = [
        s
        for s in sentences
        if not where.holds(s) and where.text not in s.text and typed_spans(s.text, kind)
    ]
    answering = where.sentence
    budget = (layout.max_length - len(qa["question"]) // 4 - 4) * 4 - len(answering.text)
    first = [a for a, _ in typed_spans(answering.text, kind) if a < where.offset]
    if not alike and not first:
        return []
    made = []
    for _ in range(2 if first else 1):  # the answer is not the first of its type: twice over
        near = sorted(alike, key=lambda s: (s.paragraph != paragraph, rng.random()))
        chosen, room = [], budget
        for s in near[: rng.randint(1, layout.max_others)]:
            if len(s.text) + 1 <= room:
                chosen.append(s)
                room -= len(s.text) + 1
        placed = arrange([answering, *chosen], rng)
        texts = tuple(s.text for s in placed)
        made.append(
            Example(qa["question"], texts, where.text, placed.index(answering), where.offset)
        )
    return made


def mine(
    examples: Sequence[Example], reader: TrainedReader, margin: float, batch: int = 32
) -> Iterator[Example]:
    """The ``examples`` the reader gets wrong, wins narrowly, or answers without an answer."""
    for at in tqdm(range(0, len(examples), batch), desc="mining", unit="batch"):
        chunk = examples[at : at + batch]
        outputs = reader.read_batch([(e.question, e.sentences) for e in chunk])
        for example, output in zip(chunk, outputs, strict=True):
            best = output.spans[0] if output.spans else None
            if not example.answer:
                if best is not None and best.probability > output.no_answer:
                    yield example
                continue
            if best is None or token_f1(best.text, [example.answer]) < 1:
                yield example
                continue
            rival = next((s for s in output.spans[1:] if not _overlaps(s, best)), None)
            if rival is not None and rival.probability * margin >= best.probability:
                yield example


def _overlaps(a: FoundSpan, b: FoundSpan) -> bool:
    return a.sentence == b.sentence and a.start < b.end and b.start < a.end


def write(path: Path, examples: Sequence[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(asdict(example)) + "\n")


def read(path: Path) -> list[Example]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [
            Example(**{**row, "sentences": tuple(row["sentences"])})
            for row in map(json.loads, handle)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m index.training.reader mine", description=__doc__
    )
    parser.add_argument("--data", type=Path, required=True, help="SQuAD's train.jsonl.gz")
    parser.add_argument("--out", type=Path, required=True, help="the .jsonl.gz to write")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="the reader to mine")
    parser.add_argument("--seed", type=int, default=21, help="new candidates: not training's")
    parser.add_argument("--margin", type=float, default=3.0, help="narrow: rival x this >= best")
    parser.add_argument("--confusions", type=int, default=20_000, help="at most this many")
    parser.add_argument("--limit", type=int, default=0, help="questions (0: all): a quick try")
    parser.add_argument(
        "--holdout-articles", type=int, default=HOLDOUT_ARTICLES, help="as training's; not mined"
    )
    args = parser.parse_args(argv)
    rows, _ = split_holdout(read_squad(args.data), args.holdout_articles)
    if args.limit:
        from index.training.reader.squad import first_questions

        rows = first_questions(rows, args.limit)
    layout = Layout(seed=args.seed)
    reader = TrainedReader(args.weights)
    mined = list(mine(make_examples(rows, layout, workers=2), reader, args.margin))
    built = confusions(rows, layout, args.confusions)
    write(args.out, mined + built)
    print(f"{len(mined):,} mined and {len(built):,} confusions written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
