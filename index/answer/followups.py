"""Follow-ups: a question that leans on the conversation, completed from its earlier turns.

No generative model is installable here to rewrite "And in the General Assembly?" into a whole
question, so the rewrite is by rule, and measured (``python -m index eval eval/followups.jsonl``
reports recall with and without it):

- a question that stands alone (enough words of its own, no pronoun, no "and ...") is kept;
- one without a question word of its own ("And in the General Assembly?") continues the last
  question: "How many votes were needed, in the General Assembly?" -- it keeps that question's
  kind (how many) and topic, and adds its own words;
- one with its own question word ("Where is it based?") keeps its words and kind and borrows
  the last question's content words; when it refers to a person ("What did he say?") also the
  last answer, which is who "he" most likely is. (Borrowing the answer always cost 2 of 10
  seed follow-ups their first passage: "Where is it based?" after "How many nations are in
  the OAS?" then searched for "34".)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.search.lexical import stopwords

QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}
# Words that point back at something said before.
REFERRING = {
    "he", "she", "him", "her", "his", "hers", "it", "its", "they", "them", "their", "theirs",
    "this", "that", "these", "those", "there", "then",
}  # fmt: skip
PERSONAL = {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs"}
CONTINUATION = re.compile(r"^\s*(?:and|but|also|so|or|what about|how about)\b[\s,]*", re.I)
WORD = re.compile(r"[\w'’.-]+")
# A question with at least this many content words, and nothing referring back, stands alone:
# "Who walked out of the meeting?" does, "Since when?" does not.
STANDALONE_WORDS = 2


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str = ""  # the short answer given, "" when the coverage did not answer


def with_context(question: str, history: Sequence[Turn]) -> str:
    """``question`` as it should be searched for, given the conversation's earlier turns."""
    if not history or stands_alone(question):
        return question
    last = history[-1]
    own = CONTINUATION.sub("", question).strip()
    if not _words(own) & QUESTION_WORDS:
        return f"{last.question.strip().rstrip('?')}, {own}"
    words = content_words(last.question)
    if _words(own) & PERSONAL:
        words += content_words(last.answer)
    borrowed = " ".join(dict.fromkeys(words))
    return f"{question} ({borrowed})" if borrowed else question


def stands_alone(question: str) -> bool:
    words = _words(question)
    return (
        not CONTINUATION.match(question)
        and not words & REFERRING
        and len(content_words(question)) >= STANDALONE_WORDS
    )


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, as written."""
    stop = stopwords()
    return [
        w
        for w in WORD.findall(text)
        if w.lower() not in stop and w.lower() not in QUESTION_WORDS and w.strip(".-'’")
    ]


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)}
