"""What the calibration reads of an answer and of each alternative beside it: the measures
taken on the way (the reader's probabilities, how close the sentences are, how far the answer
is ahead), as ``index.answer.confidence`` expects them."""

from __future__ import annotations

import math

from index.answer.confidence import AlternativeSignals, Signals
from index.answer.metrics import share_words, squad_normalize
from index.answer.policy import AnswerPolicy
from index.answer.records import Found
from index.answer.sentences import Candidate

# The margin over the next answer is capped: a lone candidate is far enough ahead; the cap is
# what the fit saw.
MARGIN_CAP = 10.0


def signals(found: Found) -> Signals:
    """What the calibration reads of the best candidate (``found`` must have one)."""
    considered, passages = found.considered, found.passages
    best, candidates = considered.candidates[0], considered.candidates
    total = sum(c.span.probability for c in candidates) or 1.0
    said = squad_normalize(best.text)
    agreeing = sum(c.span.probability for c in candidates if squad_normalize(c.text) == said)
    rival = next((c for c in candidates[1:] if not share_words(c.text, best.text)), None)
    reading = best.reading
    return Signals(
        span_log_probability=math.log(max(best.span.probability, 1e-12)),
        no_answer_log_probability=math.log(max(considered.no_answer, 1e-12)),
        closest=max(r.cosine for r in considered.readings),
        cosine=reading.cosine,
        overlap=reading.overlap,
        phrase=reading.phrase,
        base=reading.base(AnswerPolicy()),
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
