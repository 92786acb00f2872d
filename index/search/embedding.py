"""Embed: text -> unit vectors with a sentence-transformers model folder, in ONNX Runtime.

The folder's encoder, with its mean pooling and the normalization, is exported to ONNX once
and kept in the model cache (``index/search/onnxcache.py``); a process that finds it there imports
neither torch nor transformers. The vectors are sentence-transformers' own within 1e-5
(``tests/test_onnxcache.py``), at the same speed (XQuAD's 244 paragraphs: 8.03 s against
8.06 s on 2 cores, 2026-11-27).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from index.search import onnxcache
from index.search.onnxcache import DEFAULT_RUNTIME, Runtime
from index.search.wordpieces import word_pieces
from index.settings import Settings, SettingsError

Progress = Callable[[int], None]  # called with the number of texts just embedded
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class Embedder:
    def __init__(
        self, model: str, batch_size: int = 32, runtime: Runtime = DEFAULT_RUNTIME
    ) -> None:
        folder = Path(model).expanduser().resolve()
        window, self.dimension = _shape(folder, model)
        self.max_tokens = window - 2  # room for [CLS] and [SEP]
        self.name = str(folder)
        self.batch_size = batch_size
        self._pieces = word_pieces(folder)
        key = onnxcache.cache_key(model_digest(folder))
        self.session = runtime.session("encoder", key, lambda: _export(folder))
        self.encode_query = lru_cache(maxsize=4096)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.model, settings.batch_size, Runtime.from_settings(settings))

    def count_tokens(self, text: str) -> int:
        return len(self._pieces.ids(text))

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit vectors, one row per text, float32."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps each batch's padding small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = max(self.batch_size, 1)
        for offset in range(0, len(order), size):
            rows = order[offset : offset + size]
            inputs = self._pieces.batch([texts[i] for i in rows], self.max_tokens + 2)
            (vectors[rows],) = self.session.run(None, inputs)
            if progress:
                progress(len(rows))
        return vectors

    def _encode_query(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)  # cached: shared by every caller
        return vector


def _shape(folder: Path, model: str) -> tuple[int, int]:
    """The most tokens the model reads and the size of its vectors, or a ``SettingsError``
    saying why the folder is not a model this embedder runs (a BERT-style encoder with mean
    pooling and a tokenizer.json)."""
    problem = None
    if not folder.is_dir():
        problem = "is not a folder (models are never downloaded)"
    elif not (folder / "tokenizer.json").is_file() or not (folder / "config.json").is_file():
        problem = "has no tokenizer.json or config.json"
    elif not any((folder / name).is_file() for name in WEIGHT_FILES):
        problem = "has no model.safetensors"
    elif not _pooling(folder).get("pooling_mode_mean_tokens", True):
        problem = "pools by other means than the mean of its tokens"
    if problem:
        raise SettingsError(
            f"NEWSDESK_MODEL={model} {problem}: point it at a sentence-transformers folder with "
            "mean pooling, or leave it empty for the packaged all-MiniLM-L6-v2"
        )
    config = json.loads((folder / "config.json").read_text())
    limit = config.get("max_position_embeddings", 512)
    sentence = folder / "sentence_bert_config.json"
    window = json.loads(sentence.read_text()).get("max_seq_length") if sentence.is_file() else None
    return min(window or limit, limit), int(config["hidden_size"])


def _pooling(folder: Path) -> dict:
    found = folder / "1_Pooling" / "config.json"
    return json.loads(found.read_text()) if found.is_file() else {}


def _export(folder: Path) -> bytes:
    """The encoder with sentence-transformers' mean pooling and normalization, as ONNX."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs no hub
    transformers_logging.disable_progress_bar()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Eager attention: it exports to the same numbers as the model computes.
            self.encoder = AutoModel.from_pretrained(folder, attn_implementation="eager")

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    inputs = onnxcache.BERT_INPUTS
    dynamic = {name: {0: "texts", 1: "tokens"} for name in inputs} | {"vectors": {0: "texts"}}
    return onnxcache.export(Pooled(), inputs, ("vectors",), dynamic)


@cache
def model_digest(folder: Path) -> str:
    """The model folder's identity and its weights' digest (90 ms for the packaged model)."""
    weights = next(folder / name for name in WEIGHT_FILES if (folder / name).is_file())
    return f"{model_identity(str(folder))}:{onnxcache.file_digest(weights)}"


def model_identity(model: str) -> str:
    """A fingerprint of the model that does not depend on where it is installed.

    A local folder is identified by its configuration files and weight sizes (the same
    packaged model in two virtual environments matches); a hub name by the name itself.
    """
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return model
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".json", ".txt", ".safetensors", ".bin"}:
            digest.update(path.relative_to(folder).as_posix().encode())
            if path.suffix in {".json", ".txt"}:
                digest.update(path.read_bytes())
            else:
                digest.update(str(path.stat().st_size).encode())
    return f"{folder.name}:{digest.hexdigest()[:16]}"
