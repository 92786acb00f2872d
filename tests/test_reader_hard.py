"""Hard examples for the reader (``python -m index.training.reader mine``): answers set beside
spans of their own type, and what the shipped reader gets wrong or wins narrowly, mined with it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from index.reader.model import default_reader
from index.training.reader.examples import Example, Layout
from index.training.reader.hard import answer_type, confusions, main, mine, read, typed_spans, write
from index.training.reader.squad import read_squad

from .test_reader_training import squad_file


@pytest.mark.parametrize(
    ("answer", "kind"),
    [("23", "figure"), ("74 people", "figure"), ("Delcy Rodriguez", "name"),
     ("Organization of American States", "name"), ("a rebuttal of the charges", None)],
)  # fmt: skip
def test_answers_are_typed_as_figures_names_or_neither(answer: str, kind: str | None) -> None:
    assert answer_type(answer) == kind


def test_typed_spans_find_every_figure_and_the_names_past_the_first_word() -> None:
    sentence = "Sullivan said the vote fell three short of the 23 it needed, with 20 in favour."
    assert [sentence[a:b] for a, b in typed_spans(sentence, "figure")] == ["23", "20"]
    names = "Delcy Rodriguez walked out; Secretary of State John Sullivan stayed."
    assert [names[a:b] for a, b in typed_spans(names, "name")] == [
        "Delcy Rodriguez",
        "Secretary of State John Sullivan",
    ]
    assert typed_spans("Officials said little.", "name") == [], "a capital opening a sentence"


def test_a_confusion_sets_the_answer_beside_sentences_that_hold_its_type(tmp_path: Path) -> None:
    rows = read_squad(squad_file(tmp_path / "squad.jsonl.gz"))
    made = confusions(rows, Layout(seed=3), limit=100)
    assert made, "a name and a figure in each paragraph: confusions to make"
    for example in made:
        answering = example.sentences[example.sentence]
        assert answering[example.offset :].startswith(example.answer)
        kind = answer_type(example.answer)
        others = [s for i, s in enumerate(example.sentences) if i != example.sentence]
        assert kind is not None and all(typed_spans(s, kind) for s in others)
    assert confusions(rows, Layout(seed=3), limit=2) == made[:2], "the same seed, the same"


def test_mining_keeps_what_the_reader_gets_wrong_and_drops_what_it_gets_right() -> None:
    reader = default_reader()
    reopened = ("The harbour reopened in May after repairs.",)
    right = Example("When did the harbour reopen?", reopened, "May", 0, 28)
    wrong = Example("When did the harbour reopen?", reopened, "after repairs", 0, 32)
    no_answer = Example("Who cut the ribbon?", reopened, "")
    assert list(mine([right, wrong, no_answer], reader, margin=3.0)) == [wrong]
    # Right, but the best other span is nearly as likely: a narrow win is mined too.
    assert list(mine([right], reader, margin=1e9)) == [right]


def test_the_mine_command_writes_examples_that_training_reads(tmp_path: Path) -> None:
    out = tmp_path / "hard.jsonl.gz"
    data = squad_file(tmp_path / "squad.jsonl.gz")
    args = ["--data", str(data), "--out", str(out), "--confusions", "50", "--holdout-articles", "1"]
    assert main(args) == 0
    examples = read(out)
    assert examples and all(isinstance(e.sentences, tuple) for e in examples)
    with gzip.open(out, "rt") as handle:
        assert {json.loads(line)["question"] for line in handle} <= {
            "Who cut the ribbon?",
            "How many people came?",
            "When did it reopen?",
        }
    again = tmp_path / "again.jsonl.gz"
    write(again, examples)
    assert read(again) == examples
