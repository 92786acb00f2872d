"""A build killed at any moment leaves an index that answers; the next build recovers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.answer.answerer import Answerer
from index.search.build import BuildOptions, build
from index.search.retriever import Retriever
from index.search.storage.folder import FolderStorage as Store

from .conftest import ROOT, SHARED

pytestmark = pytest.mark.crash

# Each moment of a build (see tests/paused_build.py), in build order, and the index that must
# answer after a SIGKILL there: the previous one (1 article) until ``current`` has moved, the
# new one (4 articles) after.
MOMENTS = {"embedding": 1, "writing": 1, "renamed": 1, "switching": 1, "switched": 4}


def build_command(corpus: Path, index_dir: Path) -> list[str]:
    return ["build", "--full", "--corpus", str(corpus), "--index", str(index_dir)]


def run(arguments: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    return subprocess.Popen(
        [sys.executable, "-m", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_at(moment: str, command: list[str], marker: Path) -> None:
    """Run a build until it reaches ``moment``, then SIGKILL it there."""
    process = run(["tests.paused_build", moment, str(marker), *command])
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, f"the build ended before reaching {moment!r}"
        assert time.monotonic() < deadline, f"the build never reached {moment!r}"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    marker.unlink()


def four_articles(folder: Path) -> Path:
    """A corpus of the seed article and three more."""
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    for article in sorted((SHARED / "eval" / "xquad" / "corpus").glob("*.txt"))[:3]:
        shutil.copy(article, corpus / article.name)
    return corpus


def test_a_build_killed_at_any_moment_leaves_an_index_that_answers(
    seed_index: Path, tmp_path: Path, embedder
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    corpus = four_articles(tmp_path)

    for moment, articles in MOMENTS.items():  # each kill leaves its debris for the next
        kill_at(moment, build_command(corpus, index_dir), tmp_path / "reached")
        store = Store.open(index_dir, dimension=embedder.dimension)
        assert store.manifest.articles == articles, moment
        answer = Answerer(Retriever(store, embedder)).ask("Who walked out of the meeting?")
        assert answer.text == "Delcy Rodriguez", moment
        store.close()
        if moment == "switching":
            assert list(index_dir.glob(".current.*")), "killed between the link and the rename"
    assert len(list((index_dir / "builds").iterdir())) > 1, "the kills left debris behind"

    assert run(["index", *build_command(corpus, index_dir)]).wait(timeout=300) == 0
    assert Store.open(index_dir).manifest.articles == 4
    current = (index_dir / "current").resolve()
    assert list((index_dir / "builds").iterdir()) == [current], "leftovers removed"
    assert not list(index_dir.glob(".current.*"))


def test_a_database_build_killed_before_it_commits_leaves_the_old_index(
    database_url: str, tmp_path: Path, embedder, settings
) -> None:
    build(ROOT / "seeds", database_url, embedder, BuildOptions.from_settings(settings))
    corpus = four_articles(tmp_path)
    command = ["build", "--full", "--corpus", str(corpus), "--database-url", database_url]
    kill_at("committing", command, tmp_path / "reached")
    retriever = Retriever.open(database_url, embedder)
    assert retriever.store.manifest.articles == 1
    assert Answerer(retriever).ask("Who walked out of the meeting?").text == "Delcy Rodriguez"
    # The killed builder's session is gone, and its advisory lock with it.
    assert run(["index", *command]).wait(timeout=300) == 0
    assert retriever.store.manifest.articles == 4
    retriever.store.close()
