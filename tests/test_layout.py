"""The house as the README draws it: each stage imports only the stages below it, the runtime
never imports training, index/ knows nothing of Discord, and a folder + SQLite install loads
no PostgreSQL client."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.unit

# Lowest first: a module may import its own stage and the ones before it, never one after.
# The root modules (settings, errors, db) come first; cli, the front door, last.
STAGES = (
    "index.errors", "index.db", "index.settings", "index.statedb", "index.ingest",
    "index.search", "index.reader", "index.answer", "index.stories", "index.ops",
    "index.training", "index.cli", "bot",
)  # fmt: skip
# Old names kept only to print the new one (index.confidence, index.reader's __main__).
MOVED_NOTICES = {"index.confidence.__main__", "index.reader.__main__"}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> int:
    matches = [i for i, s in enumerate(STAGES) if module == s or module.startswith(s + ".")]
    if module in ("index.__main__",):
        return STAGES.index("index.cli")
    assert matches, f"{module} belongs to no stage: add it to STAGES or move it"
    return matches[-1]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether at run time) for every ``index``/``bot`` import in ``path``;
    imports under ``if TYPE_CHECKING`` are not run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for statement in branch.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module in ("index", "bot"):
                names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found += [(n, id(node) not in checking) for n in names if n.split(".")[0] in STAGES_ROOT]
    return found


STAGES_ROOT = {"index", "bot"}
SOURCES = sorted([*(ROOT / "index").rglob("*.py"), *(ROOT / "bot").rglob("*.py")])


def test_every_stage_imports_only_the_stages_below_it() -> None:
    wrong = []
    for path in SOURCES:
        module = _module(path)
        if module in MOVED_NOTICES:
            continue
        for imported, at_run_time in _imports(path):
            if at_run_time and _stage(imported) > _stage(module):
                wrong.append(f"{module} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_runtime_never_imports_training() -> None:
    """Only the CLI's eval command (and training itself) may: nothing that answers."""
    wrong = [
        f"{_module(path)} imports {imported}"
        for path in SOURCES
        if not _module(path).startswith(("index.training", "index.cli"))
        for imported, _ in _imports(path)
        if imported.startswith("index.training")
    ]
    assert not wrong, "\n".join(wrong)


# Discord's name, its gateway's IDENTIFY, and the bot's slash commands. ("guild_id" stays: it
# is a column of the state database's shipped migrations, which are never edited.)
DISCORD_WORDS = re.compile(
    r"discord|\bIDENTIFY\b|(?<![\w/])/(sources|reindex|add|ask|remove|feeds|follow|gaps|"
    r"timeline|settings|digest)\b",
    re.IGNORECASE,
)


def test_index_knows_nothing_of_discord() -> None:
    said = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "index").rglob("*"))
        if path.is_file() and path.suffix in {".py", ".md", ".json"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if DISCORD_WORDS.search(line)
    ]
    assert not said, "\n".join(said)


def test_no_module_is_longer_than_a_sitting(tmp_path: Path) -> None:
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for path in SOURCES
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 450
    ]
    assert not long, "\n".join(long)
    assert len(list((ROOT / "index").glob("*.py"))) <= 8


def test_a_folder_install_answers_without_loading_postgresql(seed_index: Path) -> None:
    """The bot's modules and the CLI's ask path on a folder index and a SQLite state database:
    psycopg, pgvector and procrastinate stay unloaded (each costs start time and needs a
    client library)."""
    script = (
        "import json, sys\n"
        "import bot.client, bot.services\n"
        "from index.cli import main\n"
        f"main(['ask', '--json', '--index', {str(seed_index)!r}, 'Who walked out?'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'psycopg', 'pgvector', 'procrastinate', 'psycopg_pool'})\n"
        "print(json.dumps(loaded))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_DATABASE")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    *answer, loaded = result.stdout.strip().splitlines()
    assert "Delcy Rodriguez" in "".join(answer)
    assert json.loads(loaded) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("index.reader", "python -m index.training.reader"),
        ("index.confidence", "python -m index.training.calibration fit"),
    ],
)
def test_an_old_command_name_says_the_new_one(old: str, new: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", old, "train"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1 and new in result.stderr
