"""``python -m index.training.reader train --data SQUAD.jsonl.gz --out DIR [--epochs N ...]``;
``python -m index.training.reader mine ...`` (hard examples: ``index.training.reader.hard``) and
``python -m index.training.reader pack ...`` (what travels to a lent GPU:
``index.training.reader.pack``)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

OPTIONAL_PATHS = {"init": "WEIGHTS", "hard": "EXAMPLES", "base": "FOLDER"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mine"]:
        from index.training.reader.hard import main as mine

        return mine(argv[1:])
    if argv[:1] == ["pack"]:
        from index.training.reader.pack import main as pack

        return pack(argv[1:])
    from index.training.reader.train import TrainConfig, train  # torch: only for training

    parser = argparse.ArgumentParser(
        prog="python -m index.training.reader",
        epilog="also: mine (hard examples for --hard), pack (a folder for a lent GPU); --help",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("train", help="fine-tune the reader on SQuAD v1.1")
    for option in fields(TrainConfig):
        flag = "--" + option.name.replace("_", "-")
        if option.name in {"data", "out"}:
            command.add_argument(flag, type=Path, required=True)
        elif option.name in OPTIONAL_PATHS:
            command.add_argument(flag, type=Path, metavar=OPTIONAL_PATHS[option.name])
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
