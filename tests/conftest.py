"""Shared fixtures: the real packaged model and a real index of ``seeds/`` on disk, built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.embedding import Embedder
from index.indexer import build
from index.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env(env_file=None)


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return Embedder(settings.model, settings.batch_size)


@pytest.fixture(scope="session")
def seed_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, settings: Settings
) -> Path:
    """An index of the seed corpus. Read-only for tests: copy it before changing anything."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build(SEEDS, index_dir, embedder, settings.chunk_tokens)
    return index_dir


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the seed corpus."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder
