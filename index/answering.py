"""Answer: passages -> the answering sentence -> a short span of it, or an honest "not covered".

The sentences of the best passages are scored against the question (cosine of precomputed
sentence vectors plus word overlap); the most promising are read together by the reader
(``index.reader``), whose best span is the short answer and whose sentence is quoted.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.followups import Turn, with_context
from index.lexical import stopwords, tokenize
from index.onnxcache import DEFAULT_RUNTIME, Runtime
from index.reader import WEIGHTS, FoundSpan, Reader
from index.retriever import Passage, Retriever
from index.settings import Settings

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Answer:
    question: str
    covered: bool  # False: the coverage does not answer; ``passages`` are the closest ones
    text: str  # the short answer ("" when not covered)
    sentence: str  # the sentence it came from, quoted exactly
    article: str  # that sentence's article title
    source: str
    url: str | None
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0
    # A follow-up as completed from its conversation; "" for a question that stands alone.
    read_as: str = ""
    # Names in the question that no passage mentions, when that is why it is not covered.
    unknown_names: tuple[str, ...] = ()
    date: str | None = None  # when the answering article was published

    def newer(self) -> Passage | None:
        """The newest passage shown from an article published after the answer's: what it
        says may have changed since (a death toll, a vote count)."""
        later = [p for p in self.passages if p.date and self.date and p.date > self.date]
        return max(later, key=lambda p: p.date or "", default=None)

    def to_json(self) -> dict:
        """The schema ``python -m index ask --json`` prints."""
        return {
            "question": self.question,
            "answer": (
                {
                    "text": self.text,
                    "sentence": self.sentence,
                    "article": self.article,
                    "date": self.date,
                }
                if self.covered
                else None
            ),
            "passages": [
                {
                    "rank": p.rank,
                    "score": p.score,
                    "text": p.text,
                    "article": p.title,
                    "source": p.source,
                    "url": p.url,
                    "date": p.date,
                }
                for p in self.passages
            ],
        }


@dataclass(frozen=True)
class AnswerPolicy:
    """How sentences compete to answer. Chosen on the eval sets; see BENCHMARKS.md."""

    # Best sentence cosine below this: "not covered". The setting holds the default.
    abstain_threshold: float = Settings.abstain_threshold
    # A question naming something no passage mentions ("Lionel Messi") needs a sentence this
    # close to be answered: on a broad corpus an off-topic question often lands near a real
    # topic (BENCHMARKS.md, "Abstention").
    unknown_name_threshold: float = 0.42
    # A long sentence holding several topics scores a low cosine even when it answers: a
    # sentence holding nearly all the question's words (by IDF share, at least two words)
    # is answered down to this cosine.
    worded_threshold: float = 0.15
    worded_overlap: float = 0.8
    # The reader's probability that the best span answers, below which the answer is "not
    # covered" even when a sentence is close: on XQuAD's corpus 0.005 abstains on 23 of 30
    # off-topic questions (16 without it) and refuses 15 of 1,190 answerable ones (5; 14 with
    # the weights trained further).
    reader_threshold: float = 0.005
    # A span the reader is this sure of answers even when no sentence is close by cosine
    # ("How many countries are in the group?" -> "34", cosine 0.22, the reader 0.28 since its
    # weights were trained further; 0.3 was set for the first weights). At 0.25 and 0.3 alike:
    # off-topic abstention 30 / 30 and 23 / 30, XQuAD refused 14 (BENCHMARKS.md).
    reader_sure: float = 0.25
    # A question asking for the latest ("What is the latest death toll?") prefers sentences
    # from the newest article among the passages: this much is added to their score (the
    # reader's probability times about 150). On two flood stories (74 dead, then 81), 2 of 5
    # such phrasings answer 81 at 5 (1 at 0; at 8 "How many dead now?" abstains);
    # questions about what did not change keep the older answer. Dated coverage only: the
    # eval sets carry no dates, so their figures are unchanged.
    recency_weight: float = 5.0
    passages_read: int = 3  # how many top passages' sentences compete
    # How many of the best of them the reader reads, in one pass: about 20 ms for one, 4 ms
    # more for each further one on 2 cores.
    sentences_read: int = 5
    # How much the sentence's own match (``Reading.base``) adds to the reader's log-probability
    # in choosing the answering sentence (XQuAD sentence accuracy 0.887 -> 0.892 at 2, in a
    # run reading six).
    base_weight: float = 2.0
    overlap_weight: float = 0.6  # share of the question's words (by IDF) the sentence holds
    phrase_weight: float = 0.2  # share of the question's word pairs the sentence holds in order
    rank_decay: float = 0.06  # per rank of the passage the sentence comes from


@dataclass(frozen=True)
class Reading:
    """One sentence considered as the answer, with what speaks for it."""

    passage: Passage
    sentence_id: int
    text: str
    cosine: float
    overlap: float
    phrase: float = 0.0
    span: FoundSpan | None = None  # the reader's best span in it, when it was read
    newest: bool = False  # from the newest article, for a question asking for the latest

    def base(self, policy: AnswerPolicy) -> float:
        """How promising the sentence looks before the reader reads it."""
        return (
            self.cosine
            + policy.overlap_weight * self.overlap
            + policy.phrase_weight * self.phrase
            - policy.rank_decay * (self.passage.rank - 1)
        )

    def score(self, policy: AnswerPolicy) -> float:
        """The reader's log-probability that its span answers, plus the sentence's own match;
        a sentence the reader did not read or found nothing in ranks below all."""
        if self.span is None:
            return -math.inf
        return (
            math.log(max(self.span.probability, 1e-12))
            + policy.base_weight * self.base(policy)
            + policy.recency_weight * self.newest
        )


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        policy: AnswerPolicy | None = None,
        reader: Reader | None = None,
    ) -> None:
        """``reader``: the trained reader (loaded once per process) unless another is given."""
        self.retriever = retriever
        self.policy = policy or AnswerPolicy()
        self.reader = reader or shipped_reader()

    @classmethod
    def from_settings(
        cls, retriever: Retriever, settings: Settings, reader: Reader | None = None
    ) -> Answerer:
        reader = reader or shipped_reader(settings.reader_weights, Runtime.from_settings(settings))
        return cls(retriever, AnswerPolicy(abstain_threshold=settings.abstain_threshold), reader)

    def ask(self, question: str, k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier turns, oldest first."""
        started = time.perf_counter()
        question = clean_question(question)
        query = with_context(question, history)
        with self.retriever.store.snapshot():
            passages = self.retriever.search(query, k=max(k, self.policy.passages_read))
            readings = self.readings(query, passages, latest=asks_for_latest(query))
            unknown = self._unknown_names(query)
        read_as = query if query != question else ""
        best = max(readings, key=lambda r: r.score(self.policy), default=None)
        if best is None or not self._covered(query, readings, best, unknown):
            return Answer(
                question=question,
                covered=False,
                text="",
                sentence="",
                article="",
                source="",
                url=None,
                passages=passages[:k],
                seconds=time.perf_counter() - started,
                read_as=read_as,
                unknown_names=unknown,
            )
        passage = best.passage
        return Answer(
            question=question,
            covered=True,
            text=best.span.text,
            sentence=best.text,
            article=passage.title,
            source=passage.source,
            url=passage.url,
            date=passage.date,
            # Lead with the passage that holds the answer.
            passages=[passage] + [p for p in passages if p.id != passage.id][: k - 1],
            seconds=time.perf_counter() - started,
            read_as=read_as,
        )

    def _covered(
        self, question: str, readings: list[Reading], best: Reading, unknown: Sequence[str]
    ) -> bool:
        """Whether the reader is sure enough of ``best`` and the best sentences are close
        enough to the question to answer it; ``unknown``: the names in it no passage mentions."""
        policy = self.policy
        if best.span is None or best.span.probability < policy.reader_threshold:
            return False
        closest = max(r.cosine for r in readings)
        if unknown:
            return closest >= max(policy.abstain_threshold, policy.unknown_name_threshold)
        if closest >= policy.abstain_threshold or best.span.probability >= policy.reader_sure:
            return True
        # A long many-topic sentence: covered when it holds nearly all the question's words.
        return len(set(tokenize([question])[0])) >= 2 and any(
            r.overlap >= policy.worded_overlap and r.cosine >= policy.worded_threshold
            for r in readings
        )

    def _unknown_names(self, question: str) -> tuple[str, ...]:
        store = self.retriever.store
        return tuple(name for name in names(question) if not store.knows(name))

    def readings(
        self, question: str, passages: list[Passage], latest: bool = False
    ) -> list[Reading]:
        """The sentences of the best passages, the most promising analysed for a short span.
        ``latest``: the question asks for the newest figure, so the newest article's best
        passage and sentence compete and are read even when they rank lower."""
        if not passages:
            return []
        newest = newest_date(passages) if latest else None
        chosen = passages[: self.policy.passages_read]
        if newest and all(p.date != newest for p in chosen):
            chosen.append(next(p for p in passages if p.date == newest))
        store = self.retriever.store
        query = self.retriever.embedder.encode_query(question)
        asked_words = tokenize([question])[0]
        asked = set(asked_words)
        pairs = set(zip(asked_words, asked_words[1:], strict=False))
        weight = store.idf(sorted(asked))
        total = sum(weight.values())
        readings, seen = [], set()
        for passage in chosen:
            rows = store.sentences(passage.first_sentence, passage.sentence_count)
            cosines = store.sentence_cosines([r[0] for r in rows], query)
            words = tokenize([r[3] for r in rows])  # one call per passage, not per sentence
            for (sentence_id, _, _, text), cosine, said in zip(rows, cosines, words, strict=True):
                if sentence_id in seen:
                    continue  # passages overlap by a sentence: it competes once
                seen.add(sentence_id)
                shared = asked & set(said)
                overlap = sum(weight[w] for w in shared) / total if total else 0.0
                in_order = pairs & set(zip(said, said[1:], strict=False))
                phrase = len(in_order) / len(pairs) if pairs else 0.0
                readings.append(
                    Reading(
                        passage,
                        sentence_id,
                        text,
                        float(cosine),
                        overlap,
                        phrase,
                        newest=newest is not None and passage.date == newest,
                    )
                )
        readings.sort(key=lambda r: -r.base(self.policy))
        if newest is not None:
            readings = _newest_read(readings, self.policy.sentences_read, self.policy)
        return self._read(question, readings)

    def _read(self, question: str, readings: list[Reading]) -> list[Reading]:
        """The reader reads the most promising sentences (``readings`` come best first) in one
        pass, in document order (which reads best: XQuAD short answers 0.683 against 0.677
        best first); when long ones do not all fit its window, the least promising go."""
        best = range(min(self.policy.sentences_read, len(readings)))
        chosen = sorted(best, key=lambda i: (readings[i].passage.rank, readings[i].sentence_id))
        found = self.reader.read(
            question, [readings[i].text for i in chosen], [chosen.index(i) for i in best]
        )
        for position, i in enumerate(chosen):
            readings[i] = replace(readings[i], span=found.best(position))
        return readings


# "What is the latest death toll?", "How many have died so far?", "Who leads it now?"
_LATEST = re.compile(
    r"\b(latest|newest|most recent|current(ly)?|now|so far|to date|updated?)\b", re.IGNORECASE
)


def asks_for_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def newest_date(passages: Sequence[Passage]) -> str | None:
    """The latest publication date among ``passages``, when they hold at least two (ISO
    dates compare as text); None when there is nothing to prefer."""
    dates = {p.date for p in passages if p.date and re.match(r"\d{4}-\d\d-\d\d", p.date)}
    return max(dates) if len(dates) >= 2 else None


def _newest_read(readings: list[Reading], window: int, policy: AnswerPolicy) -> list[Reading]:
    """``readings`` reordered so that the newest article's best sentences fill half the
    reader's window (rounded up): the sentence with the newer figure seldom matches the
    question best ("rose to 81" against "have killed 74 people")."""
    fresh = [r for r in readings if r.newest][: (window + 1) // 2]
    others = [r for r in readings if not r.newest or r not in fresh]
    room = window - len(fresh)
    return sorted(fresh + others[:room], key=lambda r: -r.base(policy)) + others[room:]


def shipped_reader(weights: Path = WEIGHTS, runtime: Runtime = DEFAULT_RUNTIME) -> Reader:
    """The trained reader with ``weights``, shared by the process; imported on first use, so
    commands that never answer do not load ONNX Runtime."""
    from index.reader.model import default_reader

    return default_reader(weights, runtime)


# A run of capitalised words: "Lionel Messi", "Philosopher's Stone", "iPhone".
_NAME = re.compile(r"\b[A-Za-z]?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")


def names(question: str) -> list[str]:
    """The names a question uses: runs of capitalised words, without a leading question word
    ("What", "Did") and without short acronyms ("CEO", "UMC"), which coverage often spells
    out; "UserDatagram" is read as "User Datagram"."""
    found = []
    for match in _NAME.finditer(question):
        words = [
            w
            for w in match.group(0).split()
            if not (w.isupper() and len(w) <= 4) and w.lower() not in stopwords()
        ]
        if words:
            found.append(re.sub(r"(?<=[a-z]{2})(?=[A-Z])", " ", " ".join(words)))
    return found


def clean_question(question: str) -> str:
    """One line of plain text, without mentions or invisible characters, bounded in length."""
    question = re.sub(r"<(@[!&]?|#)\d+>", " ", question)
    question = "".join(ch for ch in question if ch.isprintable() or ch == " ")
    return re.sub(r"\s+", " ", question).strip()[:MAX_QUESTION_CHARS]
