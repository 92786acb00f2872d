"""Embed: text -> normalized vectors with a sentence-transformers model.

The model is loaded once per process; importing this module does not load torch, so
commands that never embed (``stats``) do not pay for it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

Progress = Callable[[int], None]  # called with the number of texts just embedded


class Embedder:
    def __init__(self, model: str, batch_size: int = 32) -> None:
        if Path(model).expanduser().is_dir():
            # A local folder needs no hub; never let a lookup hang on a closed network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            model = str(Path(model).expanduser().resolve())
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        self.name = model
        self.batch_size = batch_size
        self.model = SentenceTransformer(model, device="cpu")
        self.dimension = int(self.model.get_embedding_dimension())
        # Room for the special tokens ([CLS], [SEP]) the model adds to every input.
        self.max_tokens = int(self.model.max_seq_length) - 2
        self._tokenizer = self.model.tokenizer
        self.encode_query = lru_cache(maxsize=4096)(self._encode_query)

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting a long text is not feeding it to the model; no warning.
        return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit vectors, one row per text, float32."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps each batch's padding small.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        step = max(self.batch_size * 8, 1)
        for offset in range(0, len(order), step):
            rows = order[offset : offset + step]
            vectors[rows] = self.model.encode(
                [texts[i] for i in rows],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if progress:
                progress(len(rows))
        return vectors

    def _encode_query(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)  # cached: shared by every caller
        return vector


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
