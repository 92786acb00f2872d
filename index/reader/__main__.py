"""``python -m index.reader train --data SQUAD.jsonl.gz --out DIR [--epochs N ...]``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from index.reader.train import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.reader")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("train", help="fine-tune the reader on SQuAD v1.1")
    for option in fields(TrainConfig):
        flag = "--" + option.name.replace("_", "-")
        if option.name in {"data", "out"}:
            command.add_argument(flag, type=Path, required=True)
        elif option.name == "init":
            command.add_argument(flag, type=Path, metavar="WEIGHTS")
        else:
            kind = type(option.default)
            command.add_argument(flag, type=kind, default=option.default)
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    args = vars(parser.parse_args(argv))
    args.pop("command")
    quiet = args.pop("quiet")
    figures = train(TrainConfig(**args), progress=not quiet)
    print(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
