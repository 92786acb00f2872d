"""Where the articles live: one contract for the folder and the database (a real PostgreSQL),
imports of a folder into the database, and the cluster's promise that an article added
through one machine survives a full rebuild made on another."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from index.ingest.originals import FolderOriginals, Originals
from index.ingest.originals_postgres import DatabaseOriginals
from index.ops.desk import Desk

from .conftest import SEEDS
from .stories import BRIDGE, TOLLS, TOLLS_ARTICLE, markdown

SEED = "venezuela-dares-us-to-send-in-the-marines.txt"


@pytest.fixture(params=["folder", "database"])
def originals(request: pytest.FixtureRequest, tmp_path: Path) -> Originals:
    if request.param == "database":
        return DatabaseOriginals(request.getfixturevalue("database_url"))
    return FolderOriginals(tmp_path / "corpus")


def held(originals: Originals) -> dict[str, bytes]:
    with originals.files() as folder:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in _files(folder)}


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and ".removed" not in p.parts]


def test_put_get_take_out_and_every_undo(originals: Originals) -> None:
    undo_add = originals.put("web/example.org/a.md", b"# A\n\nFirst text.", "web")
    assert originals.get("web/example.org/a.md") == b"# A\n\nFirst text."
    undo_change = originals.put("web/example.org/a.md", b"# A\n\nSecond text.", "web")
    assert held(originals) == {"web/example.org/a.md": b"# A\n\nSecond text."}

    undo_change()
    assert originals.get("web/example.org/a.md") == b"# A\n\nFirst text."
    undo_out = originals.take_out("web/example.org/a.md")
    assert originals.get("web/example.org/a.md") is None and held(originals) == {}
    undo_out()
    assert originals.get("web/example.org/a.md") == b"# A\n\nFirst text."
    undo_add()
    assert originals.get("web/example.org/a.md") is None and held(originals) == {}


def test_put_many_writes_only_what_changed_and_undoes_as_one(originals: Originals) -> None:
    originals.put("a.txt", b"Alpha\n\nOne.", "cli")
    undo = originals.put_many([("a.txt", b"Alpha\n\nOne."), ("b.txt", b"Beta\n\nTwo.")], "cli")
    assert held(originals) == {"a.txt": b"Alpha\n\nOne.", "b.txt": b"Beta\n\nTwo."}
    undo()
    assert held(originals) == {"a.txt": b"Alpha\n\nOne."}, "a.txt was not written, so it stays"


def test_an_id_leading_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a path inside"):
        FolderOriginals(tmp_path / "corpus").put("../outside.txt", b"x", "cli")
    assert not (tmp_path / "outside.txt").exists()


def test_an_import_adds_updates_and_removes_only_what_it_brought(
    database_url: str, tmp_path: Path
) -> None:
    originals = DatabaseOriginals(database_url)
    originals.put("uploaded.txt", b"Uploaded\n\nFrom Discord.", "upload")
    folder = tmp_path / "import"
    shutil.copytree(SEEDS, folder)
    (folder / ".removed").mkdir()
    (folder / ".removed" / "old.txt").write_text("Old\n\nSkipped like the loader skips it.")
    (folder / "notes.pdf").write_bytes(b"%PDF not an article format")

    first = originals.import_folder(folder)
    assert first.added == [SEED] and not first.updated and not first.removed
    assert originals.import_folder(folder).added == [], "a second import changes nothing"

    (folder / SEED).write_text("Venezuela\n\nAn updated report.")
    (folder / "new.md").write_text("# New\n\nA new story.")
    second = originals.import_folder(folder)
    assert (second.added, second.updated) == (["new.md"], [SEED])

    (folder / "new.md").unlink()
    third = originals.import_folder(folder)
    assert third.removed == ["new.md"]
    assert set(held(originals)) == {SEED, "uploaded.txt"}, "what it did not bring stays"
    assert originals.seed(folder) is None, "a database that holds articles is not seeded"


def test_an_article_added_on_one_machine_survives_a_full_rebuild_on_another(
    bot_settings, embedder, database_url: str, tmp_path: Path
) -> None:
    """Two desks on one database, each with its own (different) articles folder."""
    here = replace(bot_settings, database_url=database_url)
    there_folder = tmp_path / "elsewhere"
    there_folder.mkdir()
    (there_folder / "unrelated.txt").write_text("Unrelated\n\nNot in the database's coverage.")
    there = replace(here, corpus_dir=there_folder)

    first = Desk(here, embedder)
    first.open()  # the first build takes the first machine's folder into the empty database
    [record], _ = first.add_article("tolls.md", TOLLS_ARTICLE.encode())
    second = Desk(there, embedder)
    second.open()  # the database holds articles: the other folder is not imported
    report = second.reindex(full=True)

    assert {a.id for a in second.articles()} == {SEED, record.id} and report.articles == 2
    answer = second.ask(TOLLS[0])
    assert answer.article == "Kellbridge bridge tolls from March" and "March" in answer.text

    removed, _ = second.remove_article(record.id)
    first.reindex()
    assert {a.id for a in first.articles()} == {SEED} and removed.id == record.id


def test_an_upload_that_fails_to_index_leaves_the_database_as_it_was(
    bot_settings, embedder, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(replace(bot_settings, database_url=database_url), embedder)
    desk.open()
    before = held(desk.originals)

    def broken(*args, **kwargs):
        raise RuntimeError("the embedder failed")

    monkeypatch.setattr("index.ops.desk.build", broken)
    with pytest.raises(RuntimeError):
        desk.add_article("bridge.md", markdown(BRIDGE).encode())
    assert held(desk.originals) == before
