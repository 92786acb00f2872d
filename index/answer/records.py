"""What an answer is: what one question found before it is judged (``Found``), the records
``Answerer.ask`` returns, and the JSON ``python -m index ask --json`` prints of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.answer.confidence import Status
from index.answer.reports import Report, quoted_json
from index.answer.sentences import Considered
from index.search.retriever import Passage


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
    as_of: str | None = None  # the day asked about: the answer is what was reported by then
    # When a member's filters leave no article: what to tell them ("No article from The
    # Tolvern Echo since 10 Sep 2025 in this server's coverage.").
    filtered: str = ""

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
                "as_of": self.as_of if covered else None,
                "source": self.source if covered else None,
                "url": self.url if covered else None,
                "alternatives": [a.to_json() for a in self.alternatives],
                "other_reports": [r.to_json() for r in self.other_reports],
                "unknown_names": list(self.unknown_names),
                "elsewhere": list(self.elsewhere),
                "filtered": self.filtered or None,
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
    # The day the question asks about ("as of Oct 10"), ISO: only what was reported by then
    # was read for the answer; None for a question about no day.
    as_of: str | None = None
