"""Build, incremental rebuild and retrieval, on a real FAISS index with the real model."""

import json
import shutil
from pathlib import Path

import faiss
import pytest

from index.errors import IndexUnavailable
from index.search.build import BuildOptions, build
from index.search.retriever import Retriever
from index.search.storage.folder import FolderStorage as Store


def test_design_card_questions_rank_the_right_passage_first(seed_index: Path, embedder) -> None:
    retriever = Retriever.open(seed_index, embedder)
    walkout = retriever.search("Who walked out of the meeting?", k=3)
    assert "stormed out of the meeting" in walkout[0].text
    votes = retriever.search("How many votes were needed?", k=3)
    assert "the 23 it needed" in votes[0].text
    first = votes[0]
    article_text = (Path(__file__).parent.parent / "seeds" / first.source).read_text()
    assert article_text[first.start : first.end] == first.text  # offsets quote exactly
    assert first.title == "Venezuela dares us to send in the marines"


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


def test_rebuild_embeds_only_changed_articles_and_drops_deleted(
    tmp_path: Path, embedder, settings
) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    write(
        corpus,
        "harbour.txt",
        "Harbour news\n\nThe harbour reopened on Monday. Ferries resumed at noon.",
    )
    write(
        corpus,
        "budget.txt",
        "Budget news\n\nThe council passed the budget. It raised taxes by 2 percent.",
    )
    write(corpus, "zoo.txt", "Zoo news\n\nA giraffe was born at the zoo. Keepers named her Dot.")
    first = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert sorted(first.added) == ["budget.txt", "harbour.txt", "zoo.txt"]

    write(corpus, "zoo.txt", "Zoo news\n\nA giraffe was born at the zoo. Keepers named her Spot.")
    second = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert second.changed == ["zoo.txt"] and not second.added and not second.removed
    # one passage and its two sentences: only the changed article was embedded
    assert second.texts_embedded == 3

    (corpus / "harbour.txt").unlink()
    third = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert third.removed == ["harbour.txt"] and third.texts_embedded == 0
    retriever = Retriever.open(index_dir, embedder)
    assert {p.article_id for p in retriever.search("harbour ferries", k=10)} <= {
        "budget.txt",
        "zoo.txt",
    }
    assert "Spot" in retriever.search("What is the giraffe called?", k=1)[0].text
    assert len(list((index_dir / "builds").iterdir())) == 1  # old builds are cleaned up

    full = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings), full=True)
    assert full.texts_embedded == 6 and sorted(full.added) == ["budget.txt", "zoo.txt"]


def copy_index(seed_index: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index, target, symlinks=True)
    return target


def test_index_from_another_model_is_refused(seed_index: Path) -> None:
    with pytest.raises(IndexUnavailable, match="built with the model .* rebuild|Rebuild"):
        Store.open(seed_index, model_id="sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(IndexUnavailable, match="768"):
        Store.open(seed_index, dimension=768)


def test_truncated_faiss_file_is_refused(seed_index: Path, tmp_path: Path) -> None:
    index_dir = copy_index(seed_index, tmp_path)
    faiss_file = (index_dir / "current").resolve() / "passages.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexUnavailable, match="truncated.*Rebuild"):
        Store.open(index_dir)


def test_a_faiss_file_of_another_kind_or_version_is_refused(
    seed_index: Path, tmp_path: Path
) -> None:
    index_dir = copy_index(seed_index, tmp_path)
    build_dir = (index_dir / "current").resolve()
    faiss_file = build_dir / "passages.faiss"
    original = faiss.read_index(str(faiss_file))
    # The same vectors under L2 distance: a file of exactly the same size, whose scores
    # would rank passages backwards if it were used.
    l2 = faiss.IndexFlatL2(original.d)
    l2.add(original.reconstruct_n(0, original.ntotal))
    faiss.write_index(l2, str(faiss_file))
    assert (
        faiss_file.stat().st_size
        == json.loads((build_dir / "manifest.json").read_text())["files"]["passages.faiss"]
    )
    with pytest.raises(IndexUnavailable, match="IndexFlatL2.*another version.*Rebuild"):
        Store.open(index_dir)

    # A header this FAISS does not know (as a newer FAISS might write), size unchanged.
    data = bytearray(faiss.serialize_index(original))
    data[:4] = b"IxZZ"
    faiss_file.write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match="damaged.*Rebuild"):
        Store.open(index_dir)


def test_corrupt_sqlite_is_refused_even_when_its_size_is_right(
    seed_index: Path, tmp_path: Path
) -> None:
    index_dir = copy_index(seed_index, tmp_path)
    db = (index_dir / "current").resolve() / "meta.sqlite"
    db.write_bytes(b"\x00" * db.stat().st_size)
    with pytest.raises(IndexUnavailable, match="damaged.*Rebuild"):
        Store.open(index_dir)


def test_empty_folder_and_missing_manifest_say_how_to_build(
    seed_index: Path, tmp_path: Path
) -> None:
    with pytest.raises(IndexUnavailable, match="no index .* `python -m index build`"):
        Store.open(tmp_path)
    index_dir = copy_index(seed_index, tmp_path)
    ((index_dir / "current").resolve() / "manifest.json").unlink()
    with pytest.raises(IndexUnavailable, match="manifest"):
        Store.open(index_dir)


def test_a_build_that_dies_before_the_switch_leaves_the_old_index_serving(
    corpus: Path, tmp_path: Path, embedder, settings, monkeypatch
) -> None:
    index_dir = tmp_path / "index"
    build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    before = (index_dir / "current").resolve()
    (corpus / "extra.txt").write_text("An extra article about a harbour.")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("index.search.storage.folder_build._switch", crash)
    with pytest.raises(OSError, match="disk full"):
        build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert (index_dir / "current").resolve() == before
    assert Store.open(index_dir).manifest.articles == 1
    monkeypatch.undo()
    report = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert report.added == ["extra.txt"]
    assert [p.name for p in (index_dir / "builds").iterdir()] == [
        (index_dir / "current").resolve().name
    ]


def test_a_missing_corpus_folder_is_a_clear_error(tmp_path: Path, embedder, settings) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build(
            tmp_path / "nowhere", tmp_path / "index", embedder, BuildOptions.from_settings(settings)
        )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"dimension": 768}, "wrong dimension"),  # a manifest that lies about its vectors
        ({"format": 99}, "format 99"),  # a build written by another version of Newsdesk
    ],
)
def test_a_manifest_that_does_not_match_its_files_is_refused(
    seed_index: Path, tmp_path: Path, change: dict, error: str
) -> None:
    index_dir = copy_index(seed_index, tmp_path)
    manifest_file = (index_dir / "current").resolve() / "manifest.json"
    manifest_file.write_text(json.dumps(json.loads(manifest_file.read_text()) | change))
    with pytest.raises(IndexUnavailable, match=f"{error}.*Rebuild"):
        Store.open(index_dir)


def test_a_large_index_gets_an_hnsw_graph_that_answers_and_rebuilds(
    corpus: Path, tmp_path: Path, embedder, settings
) -> None:
    index_dir = tmp_path / "index"
    # A threshold of 2 passages stands in for a corpus above the real one (150,000).
    build(corpus, index_dir, embedder, BuildOptions(approximate_above=2))
    store = Store.open(index_dir)
    assert store.manifest.faiss_index == "IndexHNSWFlat"
    assert store.faiss.hnsw.efSearch == 128  # set at load: the search breadth chosen by bench
    store.close()
    retriever = Retriever.open(index_dir, embedder)
    assert "stormed out of the meeting" in retriever.search("Who walked out?", k=3)[0].text
    (corpus / "harbour.txt").write_text("Harbour news\n\nThe harbour reopened on Monday.")
    report = build(corpus, index_dir, embedder, BuildOptions(approximate_above=2))
    assert report.added == ["harbour.txt"] and report.texts_embedded == 2  # the rest reused
    assert Store.open(index_dir).manifest.faiss_index == "IndexHNSWFlat"
    small = build(corpus, tmp_path / "small", embedder, BuildOptions.from_settings(settings))
    assert small.passages == report.passages
    assert Store.open(tmp_path / "small").manifest.faiss_index == "IndexFlatIP"
