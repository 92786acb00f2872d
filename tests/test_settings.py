"""Settings from the environment, and folder settings checked before any work."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import BotSettings
from index.settings import Settings, SettingsError

from .conftest import ROOT, unprivileged


def test_settings_come_from_the_environment_with_types(monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_TOP_K", "3")
    monkeypatch.setenv("NEWSDESK_ADMIN_IDS", "12, 34 56")
    monkeypatch.setenv("NEWSDESK_LOG_QUESTIONS", "false")
    monkeypatch.setenv("NEWSDESK_GUILD_ID", "")
    settings = BotSettings.from_env(env_file=None)
    assert settings.top_k == 3
    assert settings.admin_ids == frozenset({12, 34, 56})
    assert settings.log_questions is False and settings.guild_id is None


def test_a_bad_value_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_TOP_K", "five")
    with pytest.raises(SettingsError, match="NEWSDESK_TOP_K='five'"):
        Settings.from_env(env_file=None)


def test_the_reader_is_one_of_the_shipped_ones(monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_READER", "large")
    assert Settings.from_env(env_file=None).reader == "large"
    monkeypatch.setenv("NEWSDESK_READER", "huge")
    with pytest.raises(SettingsError, match="NEWSDESK_READER='huge' is not valid: one of large"):
        Settings.from_env(env_file=None)


def test_the_token_is_not_in_the_settings_repr(monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_DISCORD_TOKEN", "secret-token-value")
    assert "secret-token-value" not in repr(BotSettings.from_env(env_file=None))


def paths(tmp_path: Path, corpus: Path, index: Path) -> None:
    Settings(corpus_dir=corpus, index_dir=index, model="unused").check_paths()


def test_folder_settings_are_checked_before_any_work(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paths(tmp_path, corpus, tmp_path / "new" / "index")  # an index folder may be created
    with pytest.raises(SettingsError, match="NEWSDESK_CORPUS_DIR=.* does not exist"):
        paths(tmp_path, tmp_path / "missing", tmp_path / "index")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SettingsError, match="NEWSDESK_INDEX_DIR=.* is a file"):
        paths(tmp_path, corpus, tmp_path / "file")
    with pytest.raises(SettingsError, match="NEWSDESK_INDEX_DIR=.* cannot be created"):
        paths(tmp_path, corpus, tmp_path / "file" / "index")
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(SettingsError, match="NEWSDESK_CORPUS_DIR=.*symlink loop"):
        paths(tmp_path, loop, tmp_path / "index")


def test_an_unwritable_index_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    corpus, locked = tmp_path / "corpus", tmp_path / "locked"
    corpus.mkdir()
    (corpus / "a.txt").write_text("An article about the harbour.")
    locked.mkdir(mode=0o500)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env |= {
        "NEWSDESK_CORPUS_DIR": str(corpus),
        "NEWSDESK_INDEX_DIR": str(locked / "index"),
        "NEWSDESK_STATE_DB": str(tmp_path / "state.sqlite"),
        "NEWSDESK_DISCORD_TOKEN": "unused-token",
    }
    for command in (["index", "build"], ["bot"]):
        result = subprocess.run(
            [*unprivileged(), sys.executable, "-m", *command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert f"NEWSDESK_INDEX_DIR={locked / 'index'} is not writable" in result.stderr
        assert "Traceback" not in result.stderr
    assert list(locked.iterdir()) == []


def test_every_setting_is_listed_in_env_example() -> None:
    listed = (ROOT / ".env.example").read_text()
    missing = [
        f"NEWSDESK_{f.name.upper()}"
        for f in dataclasses.fields(Settings)
        if f"NEWSDESK_{f.name.upper()}=" not in listed
    ]
    assert missing == []
