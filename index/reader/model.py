"""The trained reader at question time: the network (``network.py``) exported to ONNX once,
kept in the model cache (``index/search/onnxcache.py``) and run in ONNX Runtime, with the word
pieces from the `tokenizers` library: no torch or transformers in a process that only answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np

from index.reader import SHIPPED, FoundSpan, ReaderOutput, weights_metadata
from index.reader.mpnet import SHA256, mpnet_folder
from index.search import onnxcache
from index.search.embedding import model_digest
from index.search.onnxcache import DEFAULT_RUNTIME, Runtime
from index.search.wordpieces import WordPieces, word_pieces
from index.settings import DEFAULT_READER, default_model_cache, packaged_model_path

# Longer spans are never short answers (evaluation takes ten words at most).
MAX_SPAN_TOKENS = 24
MAX_QUESTION_TOKENS = 64
# Spans kept per sentence: the best one answers; the next ones are alternatives when the
# answer is unsure ("three" or "23" in "fell three votes shy of the 23 it needed").
SPANS_PER_SENTENCE = 3


@dataclass(frozen=True)
class ReaderInput:
    """``[CLS] question [SEP] sentences [SEP]`` as token ids, and for each token the sentence it
    comes from (-1 outside them) and its character offsets in that sentence."""

    ids: list[int]
    types: list[int]
    sentence: list[int]
    offsets: list[tuple[int, int]]


def reader_input(
    tok: WordPieces,
    question: str,
    sentences: Sequence[str],
    max_length: int,
    priority: Sequence[int] | None = None,
) -> ReaderInput:
    """Each text tokenized once, the sentences laid out in the order given. When they do not
    all fit, they are kept whole in ``priority`` order (indices, best first; default: the
    order given) and the rest left out; only a first sentence longer than the window is cut.
    BERT's word pieces do not cross spaces, so this equals tokenizing the sentences joined."""
    question_ids = tok.ids(question)[:MAX_QUESTION_TOKENS]
    pieces = tok.pieces(sentences)
    ids = [tok.cls_id, *question_ids, *tok.between]
    sentence = [-1] * len(ids)
    offsets = [(0, 0)] * len(ids)
    room = max_length - len(ids) - 1
    kept: dict[int, int] = {}  # sentence -> its tokens that fit
    for number in range(len(sentences)) if priority is None else priority:
        size = len(pieces[number].ids)
        if size <= room or not kept:
            kept[number] = min(size, room)
            room -= kept[number]
    for number in sorted(kept):
        ids += pieces[number].ids[: kept[number]]
        sentence += [number] * kept[number]
        offsets += pieces[number].offsets[: kept[number]]
    question_end = len(question_ids) + 1 + len(tok.between)
    ids.append(tok.sep_id)
    sentence.append(-1)
    offsets.append((0, 0))
    types = [0] * question_end + [1] * (len(ids) - question_end)
    return ReaderInput(ids, types, sentence, offsets)


def decode(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    read: ReaderInput,
    sentences: Sequence[str],
    max_span_tokens: int = MAX_SPAN_TOKENS,
    per_sentence: int = SPANS_PER_SENTENCE,
) -> ReaderOutput:
    """The best spans of each sentence from one pass over ``read``: up to ``per_sentence``
    that do not overlap, best first.

    Start and end are scored by log-probability over the sentences' tokens and [CLS] (the
    model's "no answer"); a span starts and ends in the same sentence, within
    ``max_span_tokens``, and is widened to whole words.
    """
    owner_of = np.array(read.sentence)
    context = owner_of >= 0
    context[0] = True  # [CLS]: no answer
    start = _log_softmax(np.where(context, start_logits[: len(owner_of)], -np.inf))
    end = _log_softmax(np.where(context, end_logits[: len(owner_of)], -np.inf))
    tokens = np.flatnonzero(owner_of >= 0)
    owner = owner_of[tokens]
    scores = start[tokens][:, None] + end[tokens][None, :]
    gap = np.arange(len(tokens))[None, :] - np.arange(len(tokens))[:, None]
    allowed = (owner[:, None] == owner[None, :]) & (gap >= 0) & (gap < max_span_tokens)
    scores = np.where(allowed, scores, -np.inf)
    spans = []
    for number in np.unique(owner):
        masked = np.where((owner == number)[:, None], scores, -np.inf)
        text = sentences[number]
        taken: list[tuple[int, int]] = []
        while len(taken) < per_sentence:
            i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
            if not np.isfinite(masked[i, j]):
                break
            probability = float(np.exp(masked[i, j]))
            # Nothing that overlaps it is another answer: "John Sullivan" is not a second
            # answer beside "US Deputy Secretary of State John Sullivan".
            masked[: j + 1, i:] = -np.inf
            a, b = _whole_words(text, read.offsets[tokens[i]][0], read.offsets[tokens[j]][1])
            if any(a < y and x < b for x, y in taken):
                continue  # widened to whole words, it overlaps one taken
            taken.append((a, b))
            spans.append(FoundSpan(int(number), a, b, text[a:b], probability))
    spans.sort(key=lambda s: -s.probability)
    return ReaderOutput(spans, float(np.exp(start[0] + end[0])))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits)
    return shifted - np.log(np.sum(np.exp(shifted)))


_WORD = re.compile(r"\w")


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) so no word is cut ("Rodrig" -> "Rodriguez")."""
    while start > 0 and _WORD.match(text[start - 1]) and _WORD.match(text[start]):
        start -= 1
    while end < len(text) and _WORD.match(text[end]) and _WORD.match(text[end - 1]):
        end += 1
    return start, end


class TrainedReader:
    """The default reader: one forward pass per question over all its candidate sentences."""

    def __init__(
        self,
        weights: Path = SHIPPED[DEFAULT_READER],
        max_length: int | None = None,
        runtime: Runtime = DEFAULT_RUNTIME,
    ) -> None:
        """``max_length``: the tokens read in one pass (None: what the reader was measured
        with, 512 for the large one, which reads more sentences, and 256 for the small)."""
        metadata = weights_metadata(weights)  # missing or damaged: refused here, before export
        # The weights' own digest: weights changed in any way (retrained, or damaged past what
        # the header shows) are a new key, exported and checked afresh, never an old export.
        digest = onnxcache.file_digest(weights)
        self.digest = digest[:16]  # what the confidence calibration was fitted with
        export: Callable[[], bytes]
        self.name = "large" if "lora_rank" in metadata else "small"
        if self.name == "large":  # an adapter of the larger base, all-mpnet-base-v2
            base = mpnet_folder(runtime.cache or default_model_cache())
            made_by = [onnxcache.package_version(p) for p in ("onnxruntime", "peft")]
            key = onnxcache.cache_key(digest, SHA256, "int8 per channel", *made_by)
            export = partial(_export_large, weights, base)
        else:
            base = Path(packaged_model_path()).resolve()
            key = onnxcache.cache_key(digest, model_digest(base))
            export = partial(_export, weights)
        self.session = runtime.session("reader", key, export)
        # BERT reads which segment each token is in; MPNet has no such input.
        self.token_types = "token_type_ids" in {i.name for i in self.session.get_inputs()}
        self.tokenizer = word_pieces(base)
        self.max_length = max_length or (512 if self.name == "large" else 256)

    def read(
        self, question: str, sentences: Sequence[str], priority: Sequence[int] | None = None
    ) -> ReaderOutput:
        if not sentences:
            return ReaderOutput([], 1.0)
        read = reader_input(self.tokenizer, question, sentences, self.max_length, priority)
        ids = np.array([read.ids], dtype=np.int64)
        types = np.array([read.types], dtype=np.int64)
        start, end = self._run(ids, np.ones_like(ids), types)
        return decode(start[0], end[0], read, sentences)

    def _run(
        self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feed = {"input_ids": ids, "attention_mask": mask}
        if self.token_types:
            feed["token_type_ids"] = types
        start, end = self.session.run(None, feed)
        return start, end

    def read_each(self, question: str, sentences: Sequence[str]) -> list[ReaderOutput]:
        return self.read_batch([(question, [sentence]) for sentence in sentences])

    def read_batch(self, inputs: Sequence[tuple[str, Sequence[str]]]) -> list[ReaderOutput]:
        """Several (question, sentences) read in one pass, padded to the longest."""
        if not inputs:
            return []
        reads = [reader_input(self.tokenizer, q, s, self.max_length) for q, s in inputs]
        width = max(len(r.ids) for r in reads)
        ids = np.zeros((len(reads), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, read in enumerate(reads):
            ids[row, : len(read.ids)] = read.ids
            types[row, : len(read.ids)] = read.types
            mask[row, : len(read.ids)] = 1
        start, end = self._run(ids, mask, types)
        return [
            decode(start[row], end[row], read, sentences) if sentences else ReaderOutput([], 1.0)
            for row, (read, (_, sentences)) in enumerate(zip(reads, inputs, strict=True))
        ]


def _export(weights: Path) -> bytes:
    from index.reader.network import export_reader  # torch: only when nothing is kept

    return export_reader(weights)


def _export_large(weights: Path, base: Path) -> bytes:
    from index.reader.mpnet_network import export_large  # torch and peft, as above

    return export_large(weights, base)


def default_reader(
    weights: Path | None = None, runtime: Runtime = DEFAULT_RUNTIME
) -> TrainedReader:
    """The reader with ``weights`` (None: the default reader's shipped ones), loaded once per
    process and shared (it is read-only)."""
    return _loaded(weights or SHIPPED[DEFAULT_READER], runtime)


@cache
def _loaded(weights: Path, runtime: Runtime) -> TrainedReader:
    return TrainedReader(weights, runtime=runtime)
