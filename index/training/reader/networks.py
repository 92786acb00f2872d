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
from safetensors.torch import save_file

from index.reader import weights_metadata
from index.reader.mpnet import mpnet_folder
from index.reader.mpnet_network import adapted_model, adapter_metadata, load_adapted
from index.reader.network import FROZEN, base_model, load_model, save_weights
from index.settings import default_model_cache, packaged_model_path

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
    init: Path | None = None  # a trained adapter of ``rank`` to go on from
    token_types = False  # MPNet has no segment embeddings

    def model(self) -> torch.nn.Module:
        if self.init is not None:
            return load_adapted(self.init, self.folder, dropout=0.1)
        return adapted_model(self.folder, self.rank)

    def trained(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps: the adapter and the head (the rest is the base's)."""
        names = {n for n, p in model.named_parameters() if p.requires_grad}
        return {k: v for k, v in model.state_dict().items() if k in names}

    def save(self, model: torch.nn.Module, path: Path, metadata: dict[str, str]) -> None:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model, save_embedding_layers=False)
        shipped = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in state.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(shipped, str(path), metadata={**metadata, **adapter_metadata(self.rank)})


Network = Small | Large


def network_for(
    model: str, base: Path | None = None, init: Path | None = None, rank: int = 16
) -> Network:
    """The network ``model`` names; ``base``: its base folder when not the installed one."""
    if model == "small":
        return Small(base or Path(packaged_model_path()), init)
    if model == "large":
        if init is not None and weights_metadata(init).get("lora_rank") != str(rank):
            said = weights_metadata(init).get("lora_rank", "none")
            raise SystemExit(f"--init {init} is an adapter of rank {said}: give --lora-rank {said}")
        return Large(base or mpnet_folder(default_model_cache()), rank, init)
    raise SystemExit(f"--model {model!r}: one of {', '.join(MODELS)}")
