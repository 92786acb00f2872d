"""Chunk: split an article into sentence-aware passages sized in the model's own tokens.

Sentences come from pysbd (rule-based, offline) one paragraph at a time. Passages pack whole
sentences up to a token budget and repeat the last sentence of the previous passage, so a
fact spanning two sentences is never only split apart. A passage prefers to end at a
paragraph break once it is half full, and a new paragraph starts without overlap. A sentence
longer than the budget on its own is cut at word boundaries, so the model never silently
truncates anything. Every offset points into ``Article.text``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pysbd

from index.ingest.articles import Article

Span = tuple[int, int]  # [start, end) character offsets into the article text


@dataclass(frozen=True)
class Unit:
    """A sentence (or a piece of an over-long one) ready to be packed."""

    span: Span
    tokens: int
    paragraph: int


@dataclass(frozen=True)
class Chunk:
    article_id: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]  # the passage's sentences, in article offsets


@cache
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def paragraphs(text: str) -> list[Span]:
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text)]


def split_sentences(text: str) -> list[list[Span]]:
    """Sentence spans of ``text``, grouped by paragraph, with surrounding spaces trimmed."""
    grouped = []
    for p_start, p_end in paragraphs(text):
        spans = []
        for piece in _segmenter().segment(text[p_start:p_end]):
            start, end = p_start + piece.start, p_start + piece.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start < end:
                spans.append((start, end))
        grouped.append(spans)
    return grouped


class Chunker:
    def __init__(self, count_tokens: Callable[[str], int], max_tokens: int) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens

    def chunk(self, article: Article) -> list[Chunk]:
        if self.max_tokens < 16:
            raise ValueError(f"a passage budget of {self.max_tokens} tokens is too small")
        text = article.text
        units = [
            Unit(span, tokens, number)
            for number, paragraph in enumerate(split_sentences(text))
            for sentence in paragraph
            for span, tokens in self._fit(text, sentence)
        ]
        return self._pack(article, units)

    def _fit(self, text: str, span: Span) -> list[tuple[Span, int]]:
        """The sentence as one unit, or cut at word boundaries into units within budget."""
        tokens = self.count_tokens(text[span[0] : span[1]])
        if tokens <= self.max_tokens:
            return [(span, tokens)]
        units: list[tuple[Span, int]] = []
        words = [
            (span[0] + m.start(), span[0] + m.end())
            for m in re.finditer(r"\S+", text[span[0] : span[1]])
        ]
        start, used = words[0][0], 0
        previous_end = start
        for w_start, w_end in words:
            cost = self.count_tokens(text[w_start:w_end])
            if used and used + cost > self.max_tokens:
                units.append(((start, previous_end), used))
                start, used = w_start, 0
            used += min(cost, self.max_tokens)
            previous_end = w_end
        units.append(((start, previous_end), used))
        return units

    def _pack(self, article: Article, units: list[Unit]) -> list[Chunk]:
        chunks: list[Chunk] = []
        first = 0
        while first < len(units):
            last, used = first, units[first].tokens
            while last + 1 < len(units):
                following = units[last + 1]
                fits = used + following.tokens <= self.max_tokens
                same_paragraph = following.paragraph == units[last].paragraph
                if not fits or (not same_paragraph and used >= self.max_tokens // 2):
                    break
                last += 1
                used += following.tokens
            spans = tuple(unit.span for unit in units[first : last + 1])
            start, end = spans[0][0], spans[-1][1]
            chunks.append(Chunk(article.id, start, end, article.text[start:end], spans))
            if last + 1 >= len(units):
                break
            # Overlap by one sentence inside a paragraph, unless the passage held only one.
            overlap = last > first and units[last + 1].paragraph == units[last].paragraph
            first = last if overlap else last + 1
        return chunks
