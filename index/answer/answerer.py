"""Answer: passages -> the answering sentence -> a short span of it and how sure that is, or
an honest "not covered".

The sentences of the best passages are scored against the question (cosine of precomputed
sentence vectors plus word overlap); the most promising are read together by the reader
(``index.reader``), whose best spans are the candidate answers. The calibration
(``index.answer.confidence``) turns what was measured on the way into the probability that the
coverage answers at all and that the best span is right: "sure", "unsure" (shown with up to
two alternatives) or "not covered". Other articles that answer the same question differently
(a toll that rose, outlets that disagree) are read too and listed (``index.answer.reports``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.answer.confidence import (
    CALIBRATION,
    AlternativeSignals,
    Calibration,
    Judgement,
    Signals,
    Status,
    load_calibration,
)
from index.answer.followups import Turn, with_context
from index.answer.metrics import squad_normalize
from index.answer.reports import Outlet, Report, differing, figure, quoted_json, same_report
from index.reader import WEIGHTS, FoundSpan, Reader
from index.search.lexical import stopwords, tokenize
from index.search.onnxcache import DEFAULT_RUNTIME, Runtime
from index.search.retriever import Passage, Retriever
from index.settings import Settings

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Alternative:
    """Another answer shown beside an unsure one: a verbatim span of its own sentence."""

    text: str
    sentence: str
    article: str
    source: str
    url: str | None
    date: str | None
    confidence: float  # the probability that it is the right answer

    def to_json(self) -> dict:
        return {**quoted_json(self), "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Answer:
    question: str
    status: Status  # "not covered": the coverage does not answer; ``passages`` are the closest
    text: str  # the short answer ("" when not covered)
    sentence: str  # the sentence it came from, quoted exactly
    article: str  # that sentence's article title
    source: str
    url: str | None
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0
    # A follow-up as completed from its conversation; "" for a question that stands alone.
    read_as: str = ""
    # Names in the question that no passage mentions, when that is why it is not covered;
    # and names that other stories mention but not the answer's (or the closest one's).
    unknown_names: tuple[str, ...] = ()
    date: str | None = None  # when the answering article was published
    elsewhere: tuple[str, ...] = ()
    # The probability that ``text`` is right (None when not covered), and that the coverage
    # answers the question at all.
    confidence: float | None = None
    coverage: float = 0.0
    alternatives: tuple[Alternative, ...] = ()  # when unsure: the next best answers
    other_reports: tuple[Report, ...] = ()  # what other articles answer instead, newest first
    timings: dict[str, float] = field(default_factory=dict)  # seconds: search, reading

    @property
    def covered(self) -> bool:
        return self.status != "not covered"

    def newer(self) -> Passage | None:
        """The newest passage shown from an article published after the answer's: what it
        says may have changed since (a death toll, a vote count)."""
        later = [p for p in self.passages if p.date and self.date and p.date > self.date]
        return max(later, key=lambda p: p.date or "", default=None)

    def to_json(self) -> dict:
        """The schema ``python -m index ask --json`` prints."""
        covered = self.covered
        return {
            "question": self.question,
            "answer": {
                "status": self.status,
                "confidence": None if self.confidence is None else round(self.confidence, 3),
                "coverage": round(self.coverage, 3),
                "text": self.text if covered else None,
                "sentence": self.sentence if covered else None,
                "article": self.article if covered else None,
                "date": self.date if covered else None,
                "source": self.source if covered else None,
                "url": self.url if covered else None,
                "alternatives": [a.to_json() for a in self.alternatives],
                "other_reports": [r.to_json() for r in self.other_reports],
                "unknown_names": list(self.unknown_names),
                "elsewhere": list(self.elsewhere),
            },
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

    # The probability that the coverage answers below which it is "not covered", and the
    # confidence at or above which an answer is "sure"; None: the calibration's own.
    covered_threshold: float | None = None
    sure_threshold: float | None = None
    # ... but a span the reader gives this probability, with "no answer" at most the other,
    # is covered whatever the coverage model says. SQuAD's questions, which the model was
    # fitted on, share their sentence's words; members' questions often do not ("Who left
    # the meeting in anger?" of "stormed out", coverage 0.03, the reader 0.21 against 0.015).
    # Held out: answerable refused 0.52 % -> 0.43 %, unanswerable answered 10.1 % -> 11.8 %;
    # the issue 11 examples answered 4 -> 6 of 6.
    reader_sure: float = 0.2
    reader_unsure: float = 0.1
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
    # An answer whose article does not name what the question names (``Found.elsewhere``) is
    # refused below this confidence: on XQuAD 1 more answerable question refused (5 at any
    # confidence, 3 of them right), on the test stories "the mayor of Ashford" (0.16).
    elsewhere_floor: float = 0.5
    alternatives: int = 2  # shown beside an unsure answer, at most
    # An alternative less likely than this to be right is not worth a member's attention.
    alternative_floor: float = 0.02
    # Other reports: the best sentence of each other article among this many passages is
    # read, on its own, when it is nearly as close to the question as the answer's (within
    # the gap) and much like the answer's sentence (cosine of their vectors); its span counts
    # when the reader gives it this probability against "no answer". Set on the stories of
    # tests/stories.py: the tolls reported are 0.70 to 0.78 alike and read 0.63 to 0.96, the
    # nearest false reports ("Two hundred" soldiers for "How many people died?", "sandbags")
    # 0.27 to 0.35; on XQuAD, at 0.4 alike three answers had another article's battle, son
    # or fort as a report (0.52 alike at most), none at 0.6.
    report_passages: int = 8
    report_cosine_gap: float = 0.3
    report_similarity: float = 0.6
    report_probability: float = 0.5


@dataclass(frozen=True)
class Reading:
    """One sentence considered as the answer, with what speaks for it."""

    passage: Passage
    sentence_id: int
    text: str
    cosine: float
    overlap: float
    phrase: float = 0.0
    spans: tuple[FoundSpan, ...] = ()  # the reader's best spans in it, best first, when read
    newest: bool = False  # from the article preferred as the newest report

    @property
    def span(self) -> FoundSpan | None:
        """The reader's best span in the sentence, when it was read and found one."""
        return self.spans[0] if self.spans else None

    def base(self, policy: AnswerPolicy) -> float:
        """How promising the sentence looks before the reader reads it."""
        return (
            self.cosine
            + policy.overlap_weight * self.overlap
            + policy.phrase_weight * self.phrase
            - policy.rank_decay * (self.passage.rank - 1)
        )


@dataclass(frozen=True)
class Candidate:
    """A short answer considered: one span the reader found, in one sentence."""

    reading: Reading
    span: FoundSpan
    # The reader's log-probability of the span, plus the sentence's own match (and the
    # recency bonus): what ranks candidates.
    score: float

    @property
    def text(self) -> str:
        return self.span.text


@dataclass(frozen=True)
class Considered:
    """Everything one reading pass found for a question, candidates best first."""

    readings: list[Reading]
    candidates: list[Candidate]
    no_answer: float  # the reader's probability that no sentence it read answers

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class Found:
    """What one question found in the index, before it is judged."""

    passages: list[Passage]
    considered: Considered
    reports: list[Report]
    unknown: tuple[str, ...]  # names in the question that no passage mentions
    # Names in the question that other articles among the passages mention but the answer's
    # article does not: the answer is about another story ("the mayor of Ashford" answered
    # with what Kellbridge's mayor said).
    elsewhere: tuple[str, ...] = ()
    # Seconds spent searching, and reading (scoring sentences and the reader's passes).
    seconds: dict[str, float] = field(default_factory=dict)


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        policy: AnswerPolicy | None = None,
        reader: Reader | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """``reader``: the trained reader (loaded once per process) unless another is given;
        ``calibration``: the fitted one (``index/answer/calibration.json``)."""
        self.retriever = retriever
        self.policy = policy or AnswerPolicy()
        self.reader = reader or shipped_reader()
        self.calibration = calibration or load_calibration(
            CALIBRATION, getattr(self.reader, "digest", "")
        )

    @classmethod
    def from_settings(
        cls, retriever: Retriever, settings: Settings, reader: Reader | None = None
    ) -> Answerer:
        reader = reader or shipped_reader(settings.reader_weights, Runtime.from_settings(settings))
        policy = AnswerPolicy(
            covered_threshold=settings.covered_threshold, sure_threshold=settings.sure_threshold
        )
        return cls(retriever, policy, reader)

    def ask(self, question: str, k: int = 5, history: Sequence[Turn] = ()) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier turns, oldest first."""
        started = time.perf_counter()
        question = clean_question(question)
        query = with_context(question, history)
        found = self.find(query, k)
        shown = found.passages[:k]
        read_as = query if query != question else ""
        best = found.considered.best
        judged = self.judge(found)
        if best is None or judged is None or judged.status == "not covered":
            return Answer(
                question=question,
                status="not covered",
                text="",
                sentence="",
                article="",
                source="",
                url=None,
                passages=shown,
                seconds=time.perf_counter() - started,
                read_as=read_as,
                unknown_names=found.unknown,
                elsewhere=found.elsewhere,
                coverage=judged.covered if judged else 0.0,
                timings=found.seconds,
            )
        passage = best.reading.passage
        alternatives = (
            self._alternatives(found, judged.confidence) if judged.status == "unsure" else ()
        )
        return Answer(
            question=question,
            status=judged.status,
            text=best.text,
            sentence=best.reading.text,
            article=passage.title,
            source=passage.source,
            url=passage.url,
            date=passage.date,
            # Lead with the passage that holds the answer.
            passages=[passage] + [p for p in shown if p.id != passage.id][: k - 1],
            seconds=time.perf_counter() - started,
            read_as=read_as,
            confidence=judged.confidence,
            coverage=judged.covered,
            alternatives=alternatives,
            other_reports=tuple(found.reports),
            elsewhere=found.elsewhere,
            timings=found.seconds,
        )

    def find(self, query: str, k: int = 5) -> Found:
        """Everything the answer is made from: passages, the candidates read in them, other
        reports and names no passage mentions (all read in one snapshot of the index)."""
        policy = self.policy
        with self.retriever.store.snapshot():
            started = time.perf_counter()
            passages = self.retriever.search(
                query, k=max(k, policy.passages_read, policy.report_passages)
            )
            searched = time.perf_counter()
            newest = newest_article(passages[:k]) if asks_for_latest(query) else None
            considered = self.consider(query, passages, newest)
            reports = self._other_reports(query, considered, passages)
            # A figure that changed: the newest report answers a question about its present.
            latest = _newest_report(considered, reports)
            if latest is not None and newest is None and about_current_figure(query):
                considered = self.consider(query, passages, latest)
                reports = self._other_reports(query, considered, passages)
            read = time.perf_counter()
            unknown = self._unknown_names(query)
        return Found(
            passages,
            considered,
            reports,
            unknown,
            _elsewhere(query, considered, passages),
            {"search": searched - started, "reading": read - searched},
        )

    def judge(self, found: Found) -> Judgement | None:
        """The calibrated kind and confidence of the best answer found (None: none found). An
        answer from an article that does not name what the question names, when another
        article does, is never sure, and "not covered" when more likely wrong than right."""
        if found.considered.best is None:
            return None
        policy, span = self.policy, found.considered.candidates[0].span
        vouched = (
            span.probability >= policy.reader_sure
            and found.considered.no_answer <= policy.reader_unsure
        )
        judged = self.calibration.judge(
            signals(found), policy.covered_threshold, policy.sure_threshold, vouched
        )
        if found.elsewhere and judged.status != "not covered":
            likely = judged.confidence >= self.policy.elsewhere_floor
            return replace(judged, status="unsure" if likely else "not covered")
        return judged

    def consider(
        self, question: str, passages: list[Passage], newest: str | None = None
    ) -> Considered:
        """Read the most promising sentences of the best passages and rank every span found.
        ``newest``: the article id of the newest report, whose best passage and sentences
        compete and are read even when they rank lower."""
        policy = self.policy
        chosen = passages[: policy.passages_read]
        if newest and all(p.article_id != newest for p in chosen):
            chosen = [*chosen, next(p for p in passages if p.article_id == newest)]
        readings = self._sentences(question, chosen, newest)
        readings.sort(key=lambda r: -r.base(policy))
        if newest is not None:
            readings = _newest_read(readings, policy.sentences_read, policy)
        readings, no_answer = self._read(question, readings)
        candidates = [
            Candidate(
                reading,
                span,
                math.log(max(span.probability, 1e-12))
                + policy.base_weight * reading.base(policy)
                + policy.recency_weight * reading.newest,
            )
            for reading in readings
            for span in reading.spans
        ]
        candidates.sort(key=lambda c: -c.score)
        return Considered(readings, candidates, no_answer)

    def _sentences(
        self, question: str, passages: Sequence[Passage], newest: str | None = None
    ) -> list[Reading]:
        """Every sentence of ``passages``, once (passages overlap by a sentence), with its
        closeness to the question; not yet read."""
        store = self.retriever.store
        query = self.retriever.embedder.encode_query(question)
        asked_words = tokenize([question])[0]
        asked = set(asked_words)
        pairs = set(zip(asked_words, asked_words[1:], strict=False))
        weight = store.idf(sorted(asked))
        total = sum(weight.values())
        readings, seen = [], set()
        for passage in passages:
            rows = store.sentences(passage.first_sentence, passage.sentence_count)
            cosines = store.sentence_cosines([r[0] for r in rows], query)
            words = tokenize([r[3] for r in rows])  # one call per passage, not per sentence
            for (sentence_id, _, _, text), cosine, said in zip(rows, cosines, words, strict=True):
                if sentence_id in seen:
                    continue
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
                        newest=newest is not None and passage.article_id == newest,
                    )
                )
        return readings

    def _read(self, question: str, readings: list[Reading]) -> tuple[list[Reading], float]:
        """The reader reads the most promising sentences (``readings`` come best first) in one
        pass, in document order (which reads best: XQuAD short answers 0.683 against 0.677
        best first); when long ones do not all fit its window, the least promising go.
        Returns the readings with their spans, and the reader's "no answer" probability."""
        if not readings:
            return readings, 1.0
        best = range(min(self.policy.sentences_read, len(readings)))
        chosen = sorted(best, key=lambda i: (readings[i].passage.rank, readings[i].sentence_id))
        found = self.reader.read(
            question, [readings[i].text for i in chosen], [chosen.index(i) for i in best]
        )
        readings = list(readings)
        for position, i in enumerate(chosen):
            readings[i] = replace(readings[i], spans=tuple(found.of(position)))
        return readings, found.no_answer

    def _alternatives(self, found: Found, confidence: float) -> tuple[Alternative, ...]:
        """Up to ``policy.alternatives`` of the next best answers beside an unsure one, each
        with its own calibrated confidence, leaving out those too unlikely to be worth a look."""
        best = found.considered.candidates[0]
        chosen = []
        for candidate in alternative_candidates(found):
            if len(chosen) == self.policy.alternatives:
                break
            likely = self.calibration.alternative_confidence(
                alternative_signals(candidate, best, confidence)
            )
            if likely >= self.policy.alternative_floor:
                passage = candidate.reading.passage
                chosen.append(
                    Alternative(
                        candidate.text,
                        candidate.reading.text,
                        passage.title,
                        passage.source,
                        passage.url,
                        passage.date,
                        likely,
                    )
                )
        return tuple(chosen)

    def _other_reports(
        self, question: str, considered: Considered, passages: Sequence[Passage]
    ) -> list[Report]:
        """What the best sentence of each other article close to the answer's says instead,
        read in one more pass (only when there is such a sentence)."""
        best, policy = considered.best, self.policy
        if best is None:
            return []
        answering = best.reading
        own = answering.passage.article_id
        others = [p for p in passages[: policy.report_passages] if p.article_id != own]
        per_article: dict[str, Reading] = {}
        for reading in self._sentences(question, others):
            held = per_article.get(reading.passage.article_id)
            if held is None or reading.base(policy) > held.base(policy):
                per_article[reading.passage.article_id] = reading
        floor = answering.cosine - policy.report_cosine_gap
        close = [r for r in per_article.values() if r.cosine >= floor]
        if not close:
            return []
        store = self.retriever.store
        vectors = store.sentence_vectors([answering.sentence_id] + [r.sentence_id for r in close])
        similar = vectors[1:] @ vectors[0]
        close = [r for r, s in zip(close, similar, strict=True) if s >= policy.report_similarity]
        if not close:
            return []
        # The story the question names: a report of another town's floods is not one of these.
        named = [said for _, said in _subjects(question) if said <= _words(answering.passage)]
        close = [r for r in close if all(said <= _words(r.passage) for said in named)]
        close = sorted(close, key=lambda r: -r.base(policy))[: policy.sentences_read]
        outlets = [
            Outlet(
                r.passage.article_id,
                r.passage.title,
                r.passage.source,
                r.passage.date,
                r.passage.url,
                r.text,
                read.spans[0].text,
            )
            for r, read in zip(
                close, self.reader.read_each(question, [r.text for r in close]), strict=True
            )
            if read.spans and read.spans[0].probability >= policy.report_probability
        ]
        return differing(best.text, outlets)

    def _unknown_names(self, question: str) -> tuple[str, ...]:
        store = self.retriever.store
        return tuple(name for name in names(question) if not store.knows(name))


# Adjectives of nationality and region ("Indian", "British", "Chinese"): a question's words,
# not the person, place or event it is about.
_DEMONYM = re.compile(r"(?:an|ese|ish)(?:'s)?$")


def _elsewhere(
    question: str, considered: Considered, passages: Sequence[Passage]
) -> tuple[str, ...]:
    """The names in ``question`` that the answer's article (its passages found) does not
    mention and another article among ``passages`` does. On XQuAD's answerable questions
    this is 5 in 1,190 (BENCHMARKS.md); on the test stories, "the mayor of Ashford" about the
    Kellbridge floods."""
    best, subjects = considered.best, _subjects(question)
    if best is None or not subjects:
        return ()
    own = best.reading.passage.article_id
    words = tokenize([f"{p.title} {p.text}" for p in passages])
    mine = set().union(*(w for p, w in zip(passages, words, strict=True) if p.article_id == own))
    theirs = [set(w) for p, w in zip(passages, words, strict=True) if p.article_id != own]
    return tuple(
        name for name, said in subjects if not said <= mine and any(said <= t for t in theirs)
    )


_CALENDAR = {
    *["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    *[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
    ],
    "december",
}


def _subjects(question: str) -> list[tuple[str, set[str]]]:
    """The names a question is about, with their words as the index tokenizes them: not a
    capital that only starts the question, an adjective of nationality or a day or month."""
    found = []
    for name in names(question):
        parts = name.split()
        if (
            (len(parts) == 1 and question.startswith(name))
            or _DEMONYM.search(parts[-1])
            or all(part.lower() in _CALENDAR for part in parts)
        ):
            continue
        said = set(tokenize([name])[0])
        if said:
            found.append((name, said))
    return found


def signals(found: Found) -> Signals:
    """What the calibration reads of the best candidate (``found`` must have one)."""
    considered, passages = found.considered, found.passages
    best, candidates = considered.candidates[0], considered.candidates
    total = sum(c.span.probability for c in candidates) or 1.0
    said = squad_normalize(best.text)
    agreeing = sum(c.span.probability for c in candidates if squad_normalize(c.text) == said)
    rival = next((c for c in candidates[1:] if not _share_words(c.text, best.text)), None)
    reading = best.reading
    return Signals(
        span_log_probability=math.log(max(best.span.probability, 1e-12)),
        no_answer_log_probability=math.log(max(considered.no_answer, 1e-12)),
        closest=max(r.cosine for r in considered.readings),
        cosine=reading.cosine,
        overlap=reading.overlap,
        phrase=reading.phrase,
        base=reading.base(AnswerPolicy()),
        # Capped: a lone candidate is far enough ahead; the cap is what the fit saw.
        margin=min(best.score - rival.score, MARGIN_CAP) if rival else MARGIN_CAP,
        share=best.span.probability / total,
        agreement=agreeing / total,
        words=len(best.text.split()),
        unknown=bool(found.unknown),
        rank=reading.passage.rank,
        passage_cosine=passages[0].dense,
        passage_score=passages[0].score,
        most_overlap=max(r.overlap for r in considered.readings),
    )


MARGIN_CAP = 10.0


def alternative_candidates(found: Found) -> list[Candidate]:
    """The candidates that could stand beside the best as alternatives, best first: each says
    something (not a lone "the"), shares no word or figure with the answer or an earlier one
    ("23" is "Twenty-three"), is not
    the words around the answer in its own sentence, is a figure when the answer is one, and
    is not already listed as another report."""
    best, *rest = found.considered.candidates
    kept: list[Candidate] = []
    for candidate in rest:
        if (
            _says_something(candidate.text)
            and not any(
                _share_words(candidate.text, c.text) or same_report(candidate.text, c.text)
                for c in [best, *kept]
            )
            and not _beside(candidate, best)
            and (figure(best.text) is None or figure(candidate.text) is not None)
            and not any(same_report(candidate.text, r.text) for r in found.reports)
        ):
            kept.append(candidate)
    return kept


def alternative_signals(
    candidate: Candidate, best: Candidate, confidence: float
) -> AlternativeSignals:
    return AlternativeSignals(
        span_log_probability=math.log(max(candidate.span.probability, 1e-12)),
        behind=best.score - candidate.score,
        same_sentence=candidate.reading.sentence_id == best.reading.sentence_id,
        cosine=candidate.reading.cosine,
        answer_confidence=confidence,
    )


def _words(passage: Passage) -> set[str]:
    return set(tokenize([f"{passage.title} {passage.text}"])[0])


def _share_words(a: str, b: str) -> bool:
    return bool(set(squad_normalize(a).split()) & set(squad_normalize(b).split()))


def _says_something(text: str) -> bool:
    """Not a lone article or punctuation: a figure, or a word that is not a stop word."""
    return figure(text) is not None or any(
        word.lower() not in stopwords() for word in re.findall(r"[^\W\d_]+", text)
    )


def _beside(candidate: Candidate, best: Candidate) -> bool:
    """Another span of the answer's sentence that touches it ("Venezuelan Foreign Minister"
    before "Delcy Rodriguez"): part of the same answer, not another one."""
    if candidate.reading.sentence_id != best.reading.sentence_id:
        return False
    text = best.reading.text
    a, b = sorted([(candidate.span.start, candidate.span.end), (best.span.start, best.span.end)])
    return not text[a[1] : b[0]].strip(" ,-–—")


# "What is the latest death toll?", "How many have died so far?", "Who leads it now?"
_LATEST = re.compile(
    r"\b(latest|newest|most recent|current(ly)?|now|so far|to date|updated?)\b", re.IGNORECASE
)


def asks_for_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def newest_article(passages: Sequence[Passage]) -> str | None:
    """The article with the latest publication date among ``passages``, when they hold at
    least two dates (ISO dates compare as text; on a tie, the better ranked); None when there
    is nothing to prefer."""
    dated = [p for p in passages if p.date and re.match(r"\d{4}-\d\d-\d\d", p.date)]
    if len({p.date for p in dated}) < 2:
        return None
    return max(dated, key=lambda p: (p.date or "", -p.rank)).article_id


# A question about a figure: "How many people died?", "What is the death toll?"
_FIGURE = re.compile(
    r"\bhow (many|much)\b|\bwhat (is|was|are|were) the (number|total|toll|death toll|figure|"
    r"count|amount|share|percentage)\b|\btoll\b",
    re.IGNORECASE,
)
# ... unless it is about a moment in the past: "How many had died by Tuesday?"
_PAST_ANCHOR = re.compile(
    r"\b(initially|originally|at first|first|earlier|before|previously|yesterday|last (week|"
    r"month|year)|by (monday|tuesday|wednesday|thursday|friday|saturday|sunday)|on (monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday)|in \d{4})\b",
    re.IGNORECASE,
)


def about_current_figure(question: str) -> bool:
    """Whether the question asks for a figure as it stands now, which the newest report
    gives best: a death toll, a count, an amount, without a moment in the past."""
    return bool(_FIGURE.search(question)) and not _PAST_ANCHOR.search(question)


def _newest_report(considered: Considered, reports: Sequence[Report]) -> str | None:
    """The article of the newest other report, when it is newer than the answer's."""
    best = considered.best
    if best is None or not reports or not reports[0].date:
        return None
    date = best.reading.passage.date
    return reports[0].article_id if date is None or reports[0].date > date else None


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
