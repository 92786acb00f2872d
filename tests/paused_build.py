"""``python -m index build``, stopped dead at a chosen moment, for the crash tests.

    python -m tests.paused_build MOMENT MARKER build [arguments...]

At MOMENT the build writes the file MARKER and sleeps until it is killed, so a test can send
SIGKILL exactly there rather than after a guessed delay. The moments, in build order:

    embedding   after the first batch of vectors
    writing     the FAISS file and SQLite metadata written, the BM25 index and manifest not
    renamed     the complete build renamed out of ``.partial``, ``current`` not yet moved
    switching   the temporary ``current`` link made, not yet renamed over ``current``
    switched    ``current`` moved, the previous build not yet removed
    committing  (a database) every row of the new build written, the transaction not committed
"""

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np

import index.search.storage.folder_build as folder
import index.search.storage.postgres as postgres
from index.cli import main
from index.search.embedding import Embedder, Progress

T = TypeVar("T")

moment, marker = sys.argv[1], Path(sys.argv[2])


def pause() -> None:
    marker.write_text(moment)
    time.sleep(3600)


def pause_after(function: Callable[..., T]) -> Callable[..., T]:
    def paused(*args: Any, **kwargs: Any) -> T:
        result = function(*args, **kwargs)
        pause()
        return result

    return paused


def pause_before(function: Callable[..., T]) -> Callable[..., T]:
    def paused(*args: Any, **kwargs: Any) -> T:
        pause()
        return function(*args, **kwargs)

    return paused


if moment == "embedding":
    encode = Embedder.encode

    def encode_then_pause(
        self: Embedder, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        def advance(count: int) -> None:
            if progress:
                progress(count)
            pause()

        return encode(self, texts, progress=advance)

    Embedder.encode = encode_then_pause
elif moment == "writing":
    folder._write_metadata = pause_after(folder._write_metadata)
elif moment == "renamed":
    folder._switch = pause_before(folder._switch)
elif moment == "switching":
    # Only the store's view of ``os`` changes: its rename over ``current`` pauses first.
    folder.os = SimpleNamespace(**{**vars(os), "replace": pause_before(os.replace)})
elif moment == "switched":
    folder._switch = pause_after(folder._switch)
elif moment == "committing":
    postgres.PostgresBackend._finish = pause_after(postgres.PostgresBackend._finish)
else:
    raise SystemExit(f"unknown moment {moment!r}")

sys.exit(main(sys.argv[3:]))
