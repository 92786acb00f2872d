"""The networks the reader is trained on, behind one small interface (``--model``).

- ``small``: all-MiniLM-L6-v2 with a BERT span head (``index.reader.network``): every weight
  trained but the frozen word embeddings; ships as ``reader.safetensors`` (fp16, 22 MB).
- ``large``: all-mpnet-base-v2 (``index.reader.mpnet``) with an MPNet span head: the encoder
  frozen, a low-rank adapter (LoRA, with ``peft``) on every linear layer of it and the head
  trained; ships as the adapter and the head (fp16, about 5 MB at rank 16). A training step
  costs about 250 to 300 ms a question on 2 cores at 128 tokens (2.4 % of the weights
  trained), against 336 ms for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from index.reader.mpnet import SHA256, mpnet_folder
from index.reader.network import FROZEN, base_model, load_model, save_weights
from index.settings import default_model_cache, packaged_model_path

# Every linear layer of an MPNet layer: attention (q, k, v, o) and the feed-forward pair.
LORA_TARGETS = ("q", "k", "v", "o", "intermediate.dense", "output.dense")
MODELS = ("small", "large")


@dataclass(frozen=True)
class Small:
    folder: Path
    init: Path | None = None
    token_types = True  # BERT reads which segment a token is in

    def model(self) -> torch.nn.Module:
        folder = str(self.folder)
        model = load_model(self.init, folder) if self.init else base_model(folder)
        model.get_parameter(FROZEN).requires_grad_(False)
        return model

    def trained(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps: every weight but the frozen word embeddings."""
        return {k: v for k, v in model.state_dict().items() if k != FROZEN}

    def save(self, model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
        save_weights(model, path, metadata)


@dataclass(frozen=True)
class Large:
    folder: Path
    rank: int = 16
    token_types = False  # MPNet has no segment embeddings

    def model(self) -> torch.nn.Module:
        from peft import LoraConfig, get_peft_model
        from transformers import MPNetConfig, MPNetForQuestionAnswering

        model = MPNetForQuestionAnswering(MPNetConfig.from_pretrained(self.folder))
        encoder = load_file(str(self.folder / "model.safetensors"))
        weights = {f"mpnet.{k}": v for k, v in encoder.items() if not k.startswith("pooler.")}
        missing, _ = model.load_state_dict(weights, strict=False)
        if any(not k.startswith("qa_outputs.") for k in missing):
            raise ValueError(f"{self.folder} is not an MPNet encoder: {missing}")
        adapter = LoraConfig(
            r=self.rank,
            lora_alpha=2 * self.rank,
            lora_dropout=0.1,
            target_modules=list(LORA_TARGETS),
            modules_to_save=["qa_outputs"],
        )
        return get_peft_model(model, adapter)

    def trained(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps: the adapter and the head (the rest is the base's)."""
        names = {n for n, p in model.named_parameters() if p.requires_grad}
        return {k: v for k, v in model.state_dict().items() if k in names}

    def save(self, model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model, save_embedding_layers=False)
        shipped = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in state.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            shipped,
            str(path),
            metadata={
                **metadata,
                "base": f"all-mpnet-base-v2 sha256 {SHA256}",
                "lora_rank": str(self.rank),
                "lora_targets": ",".join(LORA_TARGETS),
            },
        )


Network = Small | Large


def network_for(
    model: str, base: Path | None = None, init: Path | None = None, rank: int = 16
) -> Network:
    """The network ``model`` names; ``base``: its base folder when not the installed one."""
    if model == "small":
        return Small(base or Path(packaged_model_path()), init)
    if model == "large":
        if init is not None:
            raise SystemExit("--init is for the small reader; the large one starts from its base")
        return Large(base or mpnet_folder(default_model_cache()), rank)
    raise SystemExit(f"--model {model!r}: one of {', '.join(MODELS)}")
