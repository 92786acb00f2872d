"""Finding other reports: the best sentence of each other article close to the answer's,
read on its own; what it answers instead is another report (a toll that rose, an outlet
that disagrees). ``index.answer.reports`` groups them."""

from __future__ import annotations

from collections.abc import Sequence

from index.answer.names import passage_words, subjects
from index.answer.policy import AnswerPolicy
from index.answer.reports import Outlet, Report, differing
from index.answer.sentences import Considered, Reading, score_sentences
from index.reader import Reader
from index.search.retriever import Passage, Retriever


def other_reports(
    retriever: Retriever,
    reader: Reader,
    policy: AnswerPolicy,
    question: str,
    considered: Considered,
    passages: Sequence[Passage],
) -> list[Report]:
    """What the best sentence of each other article close to the answer's says instead,
    read in one more pass (only when there is such a sentence)."""
    best = considered.best
    if best is None:
        return []
    answering = best.reading
    own = answering.passage.article_id
    others = [p for p in passages[: policy.report_passages] if p.article_id != own]
    per_article: dict[str, Reading] = {}
    for reading in score_sentences(retriever, question, others):
        held = per_article.get(reading.passage.article_id)
        if held is None or reading.base(policy) > held.base(policy):
            per_article[reading.passage.article_id] = reading
    floor = answering.cosine - policy.report_cosine_gap
    close = [r for r in per_article.values() if r.cosine >= floor]
    if not close:
        return []
    vectors = retriever.store.sentence_vectors(
        [answering.sentence_id] + [r.sentence_id for r in close]
    )
    similar = vectors[1:] @ vectors[0]
    close = [r for r, s in zip(close, similar, strict=True) if s >= policy.report_similarity]
    if not close:
        return []
    # The story the question names: a report of another town's floods is not one of these.
    named = [said for _, said in subjects(question) if said <= passage_words(answering.passage)]
    close = [r for r in close if all(said <= passage_words(r.passage) for said in named)]
    close = sorted(close, key=lambda r: -r.base(policy))[: policy.reports_read]
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
        for r, read in zip(close, reader.read_each(question, [r.text for r in close]), strict=True)
        if read.spans and read.spans[0].probability >= policy.report_probability
    ]
    return differing(best.text, outlets, answering.passage.date)
