"""A build killed at any moment leaves the previous index serving; the next build recovers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from index.answering import Answerer
from index.retriever import Retriever
from index.store import Store

from .conftest import ROOT, SHARED


def start_build(corpus: Path, index_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "index",
            "build",
            "--full",
            "--corpus",
            str(corpus),
            "--index",
            str(index_dir),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_at_any_moment_keeps_the_old_index(
    seed_index: Path, tmp_path: Path, embedder
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:8]:
        shutil.copy(article, corpus / article.name)

    # Kill while loading, embedding and writing (the last ones land near or in the switch).
    for delay in (1.0, 4.0, 6.5, 8.0, 9.0, 10.0):
        process = start_build(corpus, index_dir)
        time.sleep(delay)
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        store = Store.open(index_dir, dimension=embedder.dimension)
        assert store.manifest.articles in (1, 9)  # the old index, or the new one if it finished
        answer = Answerer(Retriever(store, embedder)).ask("Who walked out of the meeting?")
        assert answer.text == "Delcy Rodriguez"
        if finished:
            break

    process = start_build(corpus, index_dir)
    assert process.wait(timeout=300) == 0
    assert Store.open(index_dir).manifest.articles == 9
    current = (index_dir / "current").resolve()
    assert [p for p in (index_dir / "builds").iterdir()] == [current]  # leftovers removed
    assert not list(index_dir.glob(".current.*"))
