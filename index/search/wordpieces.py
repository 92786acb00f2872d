"""BERT's word pieces from a model folder's ``tokenizer.json``, with the `tokenizers` library.

The same Rust tokenizer transformers' fast tokenizers wrap, without importing transformers
(2.5 s a process here). Truncation and padding stored in the file are turned off: each caller
says what it needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer


@cache
def word_pieces(folder: Path) -> WordPieces:
    """The word pieces of ``folder`` (resolved), read once per process: the embedder and the
    reader share the packaged model's (15.6 ms a read, 2026-11-27). Read-only once made."""
    return WordPieces(folder)


class WordPieces:
    def __init__(self, folder: Path) -> None:
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        # BERT marks a pair "[CLS] a [SEP] b [SEP]"; MPNet (RoBERTa's layout, as its file's
        # post-processor says) "<s> a </s></s> b </s>".
        post = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        post = post.get("post_processor") or {}
        if post.get("type") == "RobertaProcessing":
            self.cls_id, self.sep_id = post["cls"][1], post["sep"][1]
            self.between = [self.sep_id, self.sep_id]
        else:
            self.cls_id = self._id("[CLS]", folder)
            self.sep_id = self._id("[SEP]", folder)
            self.between = [self.sep_id]

    def _id(self, token: str, folder: Path) -> int:
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise ValueError(f"{folder}/tokenizer.json has no {token} token: not a BERT tokenizer")
        return found

    def ids(self, text: str) -> list[int]:
        """The text's pieces, without [CLS] and [SEP]."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def pieces(self, texts: Sequence[str]) -> list[Encoding]:
        """Each text's pieces (``.ids``) and their character offsets (``.offsets``)."""
        return self._tokenizer.encode_batch(list(texts), add_special_tokens=False)

    def batch(self, texts: Sequence[str], max_tokens: int) -> dict[str, np.ndarray]:
        """``[CLS] text [SEP]`` for each text, cut to ``max_tokens`` in all and padded to the
        longest: the encoder's inputs, as sentence-transformers makes them."""
        rows = [
            [self.cls_id, *e.ids[: max_tokens - 2], self.sep_id]
            for e in self.pieces([t.strip() for t in texts])
        ]
        ids = np.zeros((len(rows), max(map(len, rows), default=0)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for number, row in enumerate(rows):
            ids[number, : len(row)] = row
            mask[number, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
