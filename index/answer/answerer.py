"""Answer: passages -> the answering sentence -> a short span of it and how sure that is, or
an honest "not covered".

The stages, one file each: the sentences of the best passages are scored and the most
promising read by the reader (``sentences``); a question about the latest prefers the newest
report (``recency``); other articles that answer differently are read too (``other_reports``,
grouped by ``reports``); the calibration (``confidence``) turns what was measured on the way
(``signals``) into the probability that the coverage answers at all and that the best span is
right: "sure", "unsure" (shown with ``alternatives``) or "not covered", also when the answer's
article does not name what the question names (``names``). Thresholds: ``policy``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace

from index.answer.alternatives import alternatives
from index.answer.confidence import Calibration, Judgement, calibration_for
from index.answer.followups import Turn, with_context
from index.answer.names import elsewhere, unknown_names
from index.answer.other_reports import other_reports
from index.answer.policy import AnswerPolicy, policy_for
from index.answer.recency import (
    about_current_figure,
    asked_moment,
    asks_for_latest,
    newest_article,
    newest_read,
    newest_report,
)
from index.answer.records import Answer, Found
from index.answer.reports import Report
from index.answer.sentences import Considered, ranked_candidates, read_best, score_sentences
from index.answer.signals import signals
from index.reader import SHIPPED, Reader
from index.search.embedding import Embedder
from index.search.filters import nothing_inside
from index.search.onnxcache import Runtime
from index.search.retriever import Fusion, Passage, Retriever
from index.search.scope import Scope
from index.search.storage import Location
from index.settings import DEFAULT_READER, Settings

MAX_QUESTION_CHARS = 2000


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        policy: AnswerPolicy | None = None,
        reader: Reader | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        """``reader``: the trained reader (loaded once per process) unless another is given;
        ``calibration``: the one fitted for the reader (``index/answer/calibration/``)."""
        self.retriever = retriever
        self.reader = reader or reader_for()
        self.policy = policy or policy_for(getattr(self.reader, "name", DEFAULT_READER))
        self.calibration = calibration or calibration_for(self.reader)

    @classmethod
    def from_settings(
        cls, retriever: Retriever, settings: Settings, reader: Reader | None = None
    ) -> Answerer:
        reader = reader or reader_for(settings)
        policy = policy_for(
            getattr(reader, "name", settings.reader),
            covered_threshold=settings.covered_threshold,
            sure_threshold=settings.sure_threshold,
        )
        return cls(retriever, policy, reader)

    def ask(
        self,
        question: str,
        k: int = 5,
        history: Sequence[Turn] = (),
        scope: Scope | None = None,
    ) -> Answer:
        """Answer ``question``; ``history`` holds the conversation's earlier turns, oldest first;
        ``scope``: the coverage it is answered from (None: all of it)."""
        started = time.perf_counter()
        question = clean_question(question)
        query = with_context(question, history)
        found = self.find(query, k, scope)
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
                filtered=(nothing_inside(self.retriever.store, scope) or "") if scope else "",
            )
        passage = best.reading.passage
        shown_beside = (
            alternatives(found, self.calibration, self.policy, judged.confidence)
            if judged.status == "unsure"
            else ()
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
            passages=read_first(found, self.policy, k),
            seconds=time.perf_counter() - started,
            read_as=read_as,
            confidence=judged.confidence,
            coverage=judged.covered,
            alternatives=shown_beside,
            other_reports=tuple(found.reports),
            elsewhere=found.elsewhere,
            timings=found.seconds,
            as_of=found.as_of,
        )

    def find(self, query: str, k: int = 5, scope: Scope | None = None) -> Found:
        """Everything the answer is made from: passages, the candidates read in them, other
        reports and names no passage mentions (all read in one snapshot of the index, inside
        ``scope``)."""
        policy = self.policy
        with self.retriever.store.snapshot():
            started = time.perf_counter()
            passages = self.retriever.search(
                query, k=max(k, policy.passages_read, policy.report_passages), scope=scope
            )
            searched = time.perf_counter()
            newest = newest_article(passages[:k]) if asks_for_latest(query) else None
            # A question about a past day is answered from what was reported by then.
            moment = asked_moment(query, passages)
            then = [p for p in passages if p.date and p.date[:10] <= moment] if moment else []
            if then:
                considered = self.consider(query, then, newest_article(then[:k]))
            else:
                moment = None
                considered = self.consider(query, passages, newest)
            reports = self.other_reports(query, considered, passages)
            # A figure that changed: the newest report answers a question about its present.
            latest = newest_report(considered, reports)
            if latest and newest is None and moment is None and about_current_figure(query):
                considered = self.consider(query, passages, latest)
                reports = self.other_reports(query, considered, passages)
            read = time.perf_counter()
            unknown = unknown_names(self.retriever.store, query, scope)
        return Found(
            passages,
            considered,
            reports,
            unknown,
            elsewhere(query, considered, passages),
            {"search": searched - started, "reading": read - searched},
            as_of=moment,
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
        readings = score_sentences(self.retriever, question, chosen, newest)
        readings.sort(key=lambda r: -r.base(policy))
        if newest is not None:
            readings = newest_read(readings, policy.sentences_read, policy)
        readings, no_answer = read_best(self.reader, question, readings, policy.sentences_read)
        return Considered(readings, ranked_candidates(readings, policy), no_answer)

    def other_reports(
        self, question: str, considered: Considered, passages: Sequence[Passage]
    ) -> list[Report]:
        return other_reports(
            self.retriever, self.reader, self.policy, question, considered, passages
        )


def open_answerer(
    settings: Settings,
    location: Location | None = None,
    embedder: Embedder | None = None,
    reader: Reader | None = None,
    fusion: Fusion | None = None,
) -> Answerer:
    """The answerer over the index at ``location`` (default: where ``settings`` answers from),
    with the embedder and reader ``settings`` name unless loaded ones are given."""
    retriever = Retriever.from_settings(settings, location, embedder, fusion)
    return Answerer.from_settings(retriever, settings, reader)


def reader_for(settings: Settings | None = None) -> Reader:
    """The reader ``settings`` choose (``NEWSDESK_READER``, ``NEWSDESK_READER_WEIGHTS``; None:
    the default one), shared by the process; imported on first use, so commands that never
    answer do not load ONNX Runtime."""
    from index.reader.model import default_reader

    if settings is None:
        return default_reader()
    weights = settings.reader_weights or SHIPPED[settings.reader]
    return default_reader(weights, Runtime.from_settings(settings))


def read_first(found: Found, policy: AnswerPolicy, k: int) -> list[Passage]:
    """The passages shown, ranked by reading: the answer's first, then those where the reader
    found another likely answer (search may have ranked them lower), then the rest in search
    order; ``k`` in all."""
    read = [
        c.reading.passage
        for c in found.considered.candidates
        if c is found.considered.candidates[0] or c.span.probability >= policy.alternative_floor
    ]
    by_id = {p.id: p for p in [*read, *found.passages[:k]]}  # the first place of each
    return list(by_id.values())[:k]


def clean_question(question: str) -> str:
    """One line of printable text, bounded in length."""
    question = "".join(ch for ch in question if ch.isprintable() or ch == " ")
    return re.sub(r"\s+", " ", question).strip()[:MAX_QUESTION_CHARS]
