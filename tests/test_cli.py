"""The command line, run as a user runs it: a separate ``python -m index`` process."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "index", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ask_json_follows_the_schema(seed_index: Path) -> None:
    result = run(
        "ask", "--json", "--index", str(seed_index), "-k", "3", "Who walked out of the meeting?"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "passages"}
    assert data["question"] == "Who walked out of the meeting?"
    assert set(data["answer"]) == {"text", "sentence", "article"}
    assert "Delcy Rodriguez" in data["answer"]["text"]
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3]
    for passage in data["passages"]:
        assert set(passage) == {"rank", "score", "text", "article", "source"}
        assert isinstance(passage["score"], float)
    assert "stormed out of the meeting" in data["passages"][0]["text"]


def test_build_then_stats_on_a_fresh_index(tmp_path: Path) -> None:
    index_dir = str(tmp_path / "index")
    built = run("build", "--index", index_dir)
    assert built.returncode == 0, built.stderr
    assert "1 articles" in built.stdout and "1 added" in built.stdout
    stats = json.loads(run("stats", "--json", "--index", index_dir).stdout)
    assert stats["articles"] == 1 and stats["dimension"] == 384


def test_asking_without_an_index_explains_how_to_build(tmp_path: Path) -> None:
    result = run("ask", "--index", str(tmp_path / "none"), "anything?")
    assert result.returncode == 2
    assert "python -m index build" in result.stderr
    assert "Traceback" not in result.stderr
