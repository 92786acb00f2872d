"""Training inputs for the reader, built as the answerer will hand them to it: a question with
the sentence that holds its answer among a few other sentences of its article (its
neighbours in document order, or shuffled), within a token budget; and, for a share of the
questions, the same without the answering sentence, where the right output is "no answer".
No torch here: the hard-example miner (``index.training.reader.hard``) builds them too.
"""

from __future__ import annotations

import random
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from index.ingest.chunking import split_sentences


@dataclass(frozen=True)
class Layout:
    """How inputs are laid out (``TrainConfig`` holds the same fields)."""

    seed: int = 13
    max_length: int = 192  # tokens of question + sentences
    max_others: int = 5  # sentences beside the answering one
    negatives: float = 0.3  # no-answer examples per question


@dataclass(frozen=True)
class Example:
    question: str
    sentences: tuple[str, ...]
    answer: str  # "" when no sentence answers
    sentence: int = -1  # which sentence holds the answer
    offset: int = -1  # the answer's character offset in that sentence


@dataclass(frozen=True, order=True)
class Sentence:
    paragraph: int
    position: int
    text: str
    words: frozenset[str]


_WORDS = re.compile(r"\w+")


def _sentences(context: str) -> list[tuple[int, int]]:
    return [span for paragraph in split_sentences(context) for span in paragraph]


def make_examples(rows: list[dict], config: Layout, workers: int = 1) -> list[Example]:
    """Questions with candidate sentences, as the answerer will hand them to the reader; the
    same rows, settings and seed give the same examples, however many ``workers``."""
    articles: dict[str, list[dict]] = {}
    for row in rows:
        articles.setdefault(row["title"], []).append(row)
    jobs = [(paragraphs, config) for paragraphs in articles.values()]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            done = list(pool.map(_for_article, jobs, chunksize=4))
    else:
        done = [_for_article(job) for job in jobs]
    return [example for examples in done for example in examples]


@dataclass(frozen=True)
class Answering:
    """Where a question's answer is: the sentence holding it (a run of sentences when the
    answer crosses one's end), the answer's offset in it and its text."""

    sentence: Sentence
    last: int  # the position of the run's last sentence
    offset: int
    text: str

    def holds(self, other: Sentence) -> bool:
        """Whether ``other`` is (part of) the answering sentence."""
        return (
            other.paragraph == self.sentence.paragraph
            and self.sentence.position <= other.position <= self.last
        )


def article_sentences(
    rows: list[dict], spans: list[list[tuple[int, int]]] | None = None
) -> list[Sentence]:
    """Every sentence of an article's paragraphs (``rows``), in order."""
    spans = spans or [_sentences(row["context"]) for row in rows]
    return [
        Sentence(p, s, row["context"][a:b], frozenset(_WORDS.findall(row["context"][a:b].lower())))
        for p, row in enumerate(rows)
        for s, (a, b) in enumerate(spans[p])
    ]


def locate(
    context: str, paragraph: int, qa: dict, spans: list[tuple[int, int]] | None = None
) -> Answering | None:
    """The sentence of ``context`` that holds the question's (first) answer; None when the
    answer cannot be placed, or the question is too long to train on."""
    spans = spans if spans is not None else _sentences(context)
    answer = qa["answers"][0]
    text, start = answer["text"], answer["starts"][0]
    first = [k for k, (a, _) in enumerate(spans) if a <= start]
    last = [k for k, (a, _) in enumerate(spans) if a < start + len(text)]
    if not first or not text.strip() or len(qa["question"]) > 300:
        return None
    k, m = first[-1], last[-1]
    sentence = context[spans[k][0] : spans[m][1]]
    offset = start - spans[k][0]
    if sentence[offset : offset + len(text)] != text:
        return None
    return Answering(Sentence(paragraph, k, sentence, frozenset()), m, offset, text)


def _for_article(job: tuple[list[dict], Layout]) -> list[Example]:
    rows, config = job
    rng = random.Random(f"{config.seed}:{rows[0]['title']}")
    spans = [_sentences(row["context"]) for row in rows]
    article = article_sentences(rows, spans)
    examples = []
    for p, row in enumerate(rows):
        for qa in row["qas"]:
            where = locate(row["context"], p, qa, spans[p])
            if where is not None:
                examples += _for_question(where, article, qa, config, rng)
    return examples


def _for_question(
    where: Answering, article: list[Sentence], qa: dict, config: Layout, rng: random.Random
) -> list[Example]:
    text, paragraph = where.text, where.sentence.paragraph
    # The other sentences of the article that do not hold the answer text.
    pool = [x for x in article if not where.holds(x) and text not in x.text]
    same = [x for x in pool if x.paragraph == paragraph]
    asked = frozenset(_WORDS.findall(qa["question"].lower()))
    budget = (config.max_length - len(qa["question"]) // 4 - 4) * 4  # ~4 characters a token

    def others(count: int, room: int) -> list[Sentence]:
        """Half the time the sentences sharing most words with the question (as retrieval
        picks them), else the same paragraph's first, at random."""
        if rng.random() < 0.5:
            candidates = sorted(pool, key=lambda x: -len(asked & x.words))
        else:
            candidates = rng.sample(same, len(same)) + rng.sample(pool, len(pool))
        chosen: list[Sentence] = []
        for item in candidates:
            if len(chosen) == count:
                break
            if item not in chosen and len(item.text) + 1 <= room:
                chosen.append(item)
                room -= len(item.text) + 1
        return chosen

    answering = where.sentence
    count = rng.randint(0, config.max_others)
    placed = arrange([answering, *others(count, budget - len(answering.text))], rng)
    texts = tuple(x.text for x in placed)
    found = [Example(qa["question"], texts, text, placed.index(answering), where.offset)]
    if rng.random() < config.negatives:
        distractors = arrange(others(rng.randint(1, config.max_others), budget), rng)
        if distractors:
            found.append(Example(qa["question"], tuple(x.text for x in distractors), ""))
    return found


def arrange(items: list[Sentence], rng: random.Random) -> list[Sentence]:
    """In document order or shuffled, as candidates from several passages come."""
    return sorted(items) if rng.random() < 0.5 else rng.sample(items, len(items))
