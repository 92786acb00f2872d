"""Models run in ONNX Runtime, exported from torch once and kept in a cache folder.

Loading both models through torch took every process 8.0 s here (torch and transformers
imported, the reader exported at each start); opening the two kept files takes 0.56 s
(2026-11-27, 2 cores). A kept model is found by a key naming
everything it was made from, so new weights or a new exporter make a new file; a missing,
damaged or unwritable cache costs only the export (torch is imported then, and only then).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.settings import Settings, default_model_cache

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)

# What a BERT-style model takes, as both exports name it.
BERT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# Bump when an export (index/search/embedding.py's, index/reader/network.py's) changes what it
# writes for the same weights: kept files made by the old one are then not used.
EXPORT_VERSION = "1"


def cache_key(*parts: str) -> str:
    """What a model was made from (weights digests, names), with the exporting libraries."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for part in [*parts, *(package_version(p) for p in ("torch", "transformers", "onnx"))]:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:24]


def package_version(package: str) -> str:
    try:
        return f"{package} {version(package)}"
    except PackageNotFoundError:
        return f"{package} absent"


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class Runtime:
    """Where exported models are kept, and how many threads run each pass."""

    cache: Path | None = None  # None: the default folder (Settings.model_cache's)
    threads: int = 0  # 0: ONNX Runtime's choice, one per physical core

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(settings.model_cache, settings.model_threads)

    def session(self, name: str, key: str, export: Callable[[], bytes]) -> ort.InferenceSession:
        """The model ``name`` made from ``key`` as kept, or exported (and kept) first."""
        path = (self.cache or default_model_cache()) / f"{name}-{key}.onnx"
        if path.is_file():
            try:
                return self._open(str(path))
            except Exception as error:  # onnxruntime's errors derive from Exception alone
                log.warning("The kept model %s is damaged (%s): exporting it again", path, error)
        log.info("Exporting the %s model to ONNX, once: later starts open %s", name, path)
        model = export()
        _keep(model, path)
        return self._open(model)

    def _open(self, model: str | bytes) -> ort.InferenceSession:
        import onnxruntime as ort  # 0.2 s: not for commands that never embed

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Its threads would otherwise spin after each pass, taking the cores the other model
        # needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


DEFAULT_RUNTIME = Runtime()  # frozen: safe as a shared default


def _keep(model: bytes, path: Path) -> None:
    """Written whole under a temporary name, then renamed: a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
            part.write(model)
        os.chmod(part.name, 0o644)  # as any kept model: other users' processes may read it
        os.replace(part.name, path)
    except OSError as error:
        log.warning(
            "Cannot keep the exported model in %s (%s): each start exports it again; "
            "set NEWSDESK_MODEL_CACHE to a writable folder",
            path.parent,
            error,
        )


def export(
    module: Any, inputs: Sequence[str], outputs: Sequence[str], dynamic: dict[str, dict[int, str]]
) -> bytes:
    """``module`` (a torch module taking ``inputs`` as int64 tensors) as ONNX bytes."""
    import torch

    module.eval()
    example = tuple(torch.ones((1, 16), dtype=torch.long) for _ in inputs)
    with (
        tempfile.TemporaryDirectory(prefix="newsdesk-export-") as scratch,
        warnings.catch_warnings(),  # the tracer's notes on shapes it keeps dynamic
    ):
        warnings.simplefilter("ignore")
        exported = Path(scratch) / "model.onnx"
        torch.onnx.export(
            module,
            example,
            exported,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
        return exported.read_bytes()
