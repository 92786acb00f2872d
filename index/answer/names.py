"""The names a question uses, and whether the coverage speaks of them: a name no passage
mentions is why a question is not covered; a name that another article mentions but the
answer's does not means the answer is about another story."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.answer.sentences import Considered
from index.search.lexical import stopwords, tokenize
from index.search.retriever import Passage
from index.search.scope import Scope
from index.search.storage.base import Storage

# A run of capitalised words: "Lionel Messi", "Philosopher's Stone", "iPhone".
_NAME = re.compile(r"\b[A-Za-z]?[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
# Adjectives of nationality and region ("Indian", "British", "Chinese"): a question's words,
# not the person, place or event it is about.
_DEMONYM = re.compile(r"(?:an|ese|ish)(?:'s)?$")
_CALENDAR = {
    *["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    *["january", "february", "march", "april", "may", "june", "july", "august"],
    *["september", "october", "november", "december"],
}


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


def unknown_names(store: Storage, question: str, scope: Scope | None = None) -> tuple[str, ...]:
    """The names in ``question`` that no passage of ``store`` (inside ``scope``) mentions."""
    return tuple(name for name in names(question) if not store.knows(name, scope))


def subjects(question: str) -> list[tuple[str, set[str]]]:
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


def passage_words(passage: Passage) -> set[str]:
    """The words of a passage and its article's title, as the index tokenizes them."""
    return set(tokenize([f"{passage.title} {passage.text}"])[0])


def elsewhere(
    question: str, considered: Considered, passages: Sequence[Passage]
) -> tuple[str, ...]:
    """The names in ``question`` that the answer's article (its passages found) does not
    mention and another article among ``passages`` does. On XQuAD's answerable questions
    this is 5 in 1,190 (BENCHMARKS.md); on the test stories, "the mayor of Ashford" about the
    Kellbridge floods."""
    best, named = considered.best, subjects(question)
    if best is None or not named:
        return ()
    own = best.reading.passage.article_id
    words = tokenize([f"{p.title} {p.text}" for p in passages])
    mine = set().union(*(w for p, w in zip(passages, words, strict=True) if p.article_id == own))
    theirs = [set(w) for p, w in zip(passages, words, strict=True) if p.article_id != own]
    return tuple(
        name for name, said in named if not said <= mine and any(said <= t for t in theirs)
    )
