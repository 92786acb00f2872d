"""The larger reader's network in torch: all-mpnet-base-v2 (``index.reader.mpnet``) with an
MPNet span head and a low-rank adapter (LoRA, ``peft``) on every linear layer of its encoder.

Only the adapter and the head ship in the repository (``weights/large.safetensors``, fp16, 5.3
MB at rank 16); the base comes from its five packages. A first start merges the adapter into
the base and exports the merged network to ONNX, with its linear layers' weights in int8
(ONNX Runtime's dynamic quantization, a scale per output channel): 4x smaller and 3.8x faster
than fp32 on one core (31.8 against 120.4 ms a read), held-out SQuAD F1 83.2 against fp32's
82.2 on 150 questions; one scale per tensor lost 11 points (71.3), 2026-12-06.
Answering does not use this module (``index.reader.model`` runs the export); training and the
export do.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from index.reader import ReaderWeightsError, damaged_weights, weights_fix, weights_metadata
from index.reader.mpnet import SHA256
from index.search import onnxcache

if TYPE_CHECKING:
    from peft import PeftModel

# Every linear layer of an MPNet layer: attention (q, k, v, o) and the feed-forward pair.
LORA_TARGETS = ("q", "k", "v", "o", "intermediate.dense", "output.dense")
INPUTS = ("input_ids", "attention_mask")  # MPNet has no segment embeddings
BASE = f"all-mpnet-base-v2 sha256 {SHA256}"  # what the adapter's metadata names as its base


def adapted_model(folder: Path, rank: int, dropout: float = 0.1) -> PeftModel:
    """The base with a fresh adapter of ``rank`` and an untrained span head (peft's model)."""
    from peft import LoraConfig, get_peft_model
    from transformers import MPNetConfig, MPNetForQuestionAnswering

    model = MPNetForQuestionAnswering(MPNetConfig.from_pretrained(folder))
    encoder = load_file(str(folder / "model.safetensors"))
    weights = {f"mpnet.{k}": v for k, v in encoder.items() if not k.startswith("pooler.")}
    missing, _ = model.load_state_dict(weights, strict=False)
    if any(not k.startswith("qa_outputs.") for k in missing):
        raise ReaderWeightsError(f"{folder} is not an MPNet encoder: {missing}")
    adapter = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=dropout,
        target_modules=list(LORA_TARGETS),
        modules_to_save=["qa_outputs"],
    )
    return get_peft_model(model, adapter)


def adapter_metadata(rank: int) -> dict[str, str]:
    return {"base": BASE, "lora_rank": str(rank), "lora_targets": ",".join(LORA_TARGETS)}


def load_adapted(path: Path, folder: Path, dropout: float = 0.0) -> PeftModel:
    """The trained larger reader as peft's model (the adapter beside the base, as training
    holds it); or one clear ``ReaderWeightsError``."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    metadata = weights_metadata(path)
    if metadata.get("base") != BASE or "lora_rank" not in metadata:
        raise ReaderWeightsError(
            f"The reader's weights at {path} are not an adapter of all-mpnet-base-v2 "
            f"({metadata.get('base', 'no base named')}): {weights_fix(path)}."
        )
    try:
        adapter = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise damaged_weights(path, error) from None
    model = adapted_model(folder, int(metadata["lora_rank"]), dropout)
    if set(adapter) != set(get_peft_model_state_dict(model, save_embedding_layers=False)):
        raise ReaderWeightsError(
            f"The reader's weights at {path} are incomplete: {weights_fix(path)}."
        )
    set_peft_model_state_dict(model, {k: v.float() for k, v in adapter.items()})
    return model


def load_merged(path: Path, folder: Path) -> torch.nn.Module:
    """The trained larger reader, its adapter merged into the base, in fp32 for the CPU; or
    one clear ``ReaderWeightsError``."""
    merged = load_adapted(path, folder).merge_and_unload()
    assert isinstance(merged, torch.nn.Module)
    return merged.eval()


def export_large(path: Path, folder: Path) -> bytes:
    """The trained larger reader as int8 ONNX (see the module's note for the figures)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = load_merged(path, folder)
    dynamic = {name: {0: "texts", 1: "tokens"} for name in INPUTS}
    fp32 = onnxcache.export(model, INPUTS, ("start_logits", "end_logits"), dynamic)
    with tempfile.TemporaryDirectory(prefix="newsdesk-quantize-") as scratch:
        plain, small = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        plain.write_bytes(fp32)
        # It advises a shape-inference pass first, on the root logger: measured no faster here.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(plain, small, per_channel=True, weight_type=QuantType.QInt8)
        finally:
            logging.disable(logging.NOTSET)
        return small.read_bytes()
