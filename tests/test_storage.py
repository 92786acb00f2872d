"""One contract, every storage backend: the folder (FAISS + SQLite + bm25s) and a real
PostgreSQL with pgvector (localpg/). Retrieval, answers, incremental builds, the
build lock and a damaged or newer database."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

import index.ops.desk
from index.answer.answerer import Answerer
from index.errors import IndexUnavailable
from index.ingest.collections import filed_under, server_of
from index.ops.desk import Desk
from index.search.build import BuildOptions, build
from index.search.embedding import Embedder
from index.search.retriever import Retriever
from index.search.scope import Scope
from index.search.storage import Location, backend_at

from .conftest import SEEDS
from .stories import LEDGER

BACKENDS = ["folder", "postgres"]
QUESTIONS = [
    "Who walked out of the meeting?",
    "How many votes were needed?",
    "Which country hosted the OAS meeting?",
    "How many people have died in the protests?",
    "What did Venezuela say about the Marines?",
    "Who is the foreign minister?",
]


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "postgres":
        return request.getfixturevalue("database_url")
    return tmp_path / "index"


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


def test_a_built_index_answers_and_describes_itself(
    location: Location, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    backend = backend_at(location)
    assert not backend.exists()
    with pytest.raises(IndexUnavailable, match="python -m index build"):
        backend.open()
    report = build(seed_corpus, location, embedder, BuildOptions.from_settings(settings))
    assert backend.exists() and report.added == ["venezuela-dares-us-to-send-in-the-marines.txt"]
    retriever = Retriever.open(location, embedder)
    answer = Answerer(retriever).ask("Who walked out of the meeting?")
    assert answer.text == "Delcy Rodriguez" and "stormed out" in answer.sentence
    manifest = retriever.store.manifest
    assert (manifest.articles, manifest.passages) == (1, report.passages)
    [article] = retriever.store.articles()
    assert article.passages == report.passages and article.title.startswith("Venezuela")
    assert retriever.store.knows("Delcy Rodriguez") and not retriever.store.knows("Lionel Messi")
    retriever.store.close()


def test_above_the_size_the_search_is_a_graph_that_answers(
    location: Location, seed_corpus: Path, embedder: Embedder
) -> None:
    """An approximate index (FAISS's HNSW, or pgvector's, built with its own memory)."""
    build(seed_corpus, location, embedder, BuildOptions(approximate_above=2))
    retriever = Retriever.open(location, embedder)
    assert "HNSW" in retriever.store.manifest.faiss_index
    assert Answerer(retriever).ask("Who walked out of the meeting?").text == "Delcy Rodriguez"
    retriever.store.close()


def test_both_backends_rank_alike(
    database_url: str, seed_index: Path, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    """Same passages, same order, same scores: the database computes cosines with pgvector
    and BM25 in SQL, the folder with FAISS and bm25s."""
    build(seed_corpus, database_url, embedder, BuildOptions.from_settings(settings))
    folder, database = Retriever.open(seed_index, embedder), Retriever.open(database_url, embedder)
    for question in QUESTIONS:
        expected, found = folder.search(question, k=5), database.search(question, k=5)
        assert [p.text for p in found] == [p.text for p in expected], question
        for ours, theirs in zip(found, expected, strict=True):
            assert ours.score == pytest.approx(theirs.score, abs=1e-4), question
        words = ["venezuela", "vote", "absent"]
        assert database.store.idf(words) == pytest.approx(folder.store.idf(words))
    # Sentence ids are each backend's own: compare the vectors of each passage's sentences.
    for ours, theirs in zip(
        database.search(QUESTIONS[0], k=3), folder.search(QUESTIONS[0], k=3), strict=True
    ):
        mine = database.store.sentences(ours.first_sentence, ours.sentence_count)
        other = folder.store.sentences(theirs.first_sentence, theirs.sentence_count)
        vectors = database.store.sentence_vectors([row[0] for row in mine])
        assert vectors.shape == (len(mine), 384) and vectors.dtype == "float32"
        assert vectors == pytest.approx(
            folder.store.sentence_vectors([row[0] for row in other]), abs=1e-5
        )
    database.store.close()


def test_incremental_builds_embed_only_what_changed(
    location: Location, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    options = BuildOptions.from_settings(settings)
    build(seed_corpus, location, embedder, options)
    harbour = seed_corpus / "harbour.txt"
    harbour.write_text("Harbour reopens\n\nThe harbour of Quillborough reopened on Monday.")
    added = build(seed_corpus, location, embedder, options)
    assert added.added == ["harbour.txt"] and added.texts_embedded == 2  # a passage, a sentence
    harbour.write_text("Harbour reopens\n\nThe harbour of Quillborough reopened on Friday.")
    changed = build(seed_corpus, location, embedder, options)
    assert changed.changed == ["harbour.txt"] and changed.texts_embedded == 2
    answerer = Answerer(Retriever.open(location, embedder))
    assert answerer.ask("When did the harbour of Quillborough reopen?").text == "Friday"
    (seed_corpus / "venezuela-dares-us-to-send-in-the-marines.txt").unlink()
    removed = build(seed_corpus, location, embedder, options)
    assert removed.removed == ["venezuela-dares-us-to-send-in-the-marines.txt"]
    store = Retriever.open(location, embedder).store
    assert [a.id for a in store.articles()] == ["harbour.txt"]
    assert store.manifest.passages == 1 and store.manifest.articles == 1
    fresh = Answerer(Retriever(store, embedder))
    assert not fresh.ask("Who walked out of the meeting?").covered
    full = build(seed_corpus, location, embedder, options, full=True)
    assert full.texts_embedded == 2


def test_a_second_builder_is_refused_while_one_builds(
    location: Location, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    backend = backend_at(location)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with backend.lock():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(IndexUnavailable, match="Another build"):
            build(seed_corpus, location, embedder, BuildOptions.from_settings(settings))
    finally:
        release.set()
        holder.join()
    build(seed_corpus, location, embedder, BuildOptions.from_settings(settings))


def test_a_build_in_the_database_reaches_readers_already_open(
    database_url: str, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    """Another process's reindex is visible without a restart: nothing is held per reader."""
    build(seed_corpus, database_url, embedder, BuildOptions.from_settings(settings))
    answerer = Answerer(Retriever.open(database_url, embedder))
    assert not answerer.ask("When did the harbour of Quillborough reopen?").covered
    (seed_corpus / "harbour.txt").write_text(
        "Harbour reopens\n\nThe harbour of Quillborough reopened on Monday after repairs."
    )
    build(seed_corpus, database_url, embedder, BuildOptions.from_settings(settings))
    assert answerer.ask("When did the harbour of Quillborough reopen?").text == "Monday"
    assert answerer.retriever.store.manifest.articles == 2


def test_a_database_from_a_newer_release_is_refused(
    database_url: str, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    build(seed_corpus, database_url, embedder, BuildOptions.from_settings(settings))
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("UPDATE newsdesk_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(IndexUnavailable, match="newer Newsdesk"):
        Retriever.open(database_url, embedder)


def test_an_unreachable_database_says_so_without_its_password(embedder: Embedder) -> None:
    url = "postgresql://newsdesk:s3cret@127.0.0.1:1/none"
    with pytest.raises(IndexUnavailable) as refused:
        Retriever.open(url, embedder)
    assert "Cannot reach the index database" in str(refused.value)
    assert "s3cret" not in str(refused.value) and ":***@" in str(refused.value)


def test_a_first_start_on_a_new_database_waits_for_its_replica_to_replay_the_build(
    postgres, bot_settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first build goes to the primary, and questions are read from the replica, which
    holds no index at all until it has replayed that build: the start waits for it (it
    failed the start once in the full suite, the standby a moment behind)."""
    primary = postgres.database("first_start")
    standby = postgres.standby()
    built = index.ops.desk.build

    def behind(*args, **kwargs):  # the standby stopped through the build, back 1 s after
        standby.freeze()
        try:
            return built(*args, **kwargs)
        finally:
            threading.Timer(1.0, standby.thaw).start()

    monkeypatch.setattr(index.ops.desk, "build", behind)
    settings = replace(
        bot_settings, database_url=primary, database_replica_url=standby.url("first_start")
    )
    try:
        desk = Desk(settings, embedder)
        desk.open()
        assert desk.ask("Who walked out of the meeting?").text == "Delcy Rodriguez"
    finally:
        standby.thaw()
        standby.stop()


def test_a_read_replica_answers_what_the_primary_built(
    postgres, seed_corpus: Path, embedder: Embedder, settings
) -> None:
    primary = postgres.database("replicated")
    build(seed_corpus, primary, embedder, BuildOptions.from_settings(settings))
    standby = postgres.standby()
    try:
        replica = standby.url("replicated")
        answerer = Answerer(Retriever.open(replica, embedder))
        assert answerer.ask("Who walked out of the meeting?").text == "Delcy Rodriguez"
        (seed_corpus / "harbour.txt").write_text(
            "Harbour reopens\n\nThe harbour of Quillborough reopened on Monday after repairs."
        )
        build(seed_corpus, primary, embedder, BuildOptions.from_settings(settings))
        deadline = time.monotonic() + 20
        while answerer.retriever.store.manifest.articles != 2:  # streamed, not yet replayed
            assert time.monotonic() < deadline, "the standby never caught up"
            time.sleep(0.1)
        assert answerer.ask("When did the harbour of Quillborough reopen?").text == "Monday"
        with pytest.raises(IndexUnavailable, match="read replica"):
            build(seed_corpus, replica, embedder, BuildOptions.from_settings(settings), full=True)
        answerer.retriever.store.close()
    finally:
        standby.stop()


# Two servers' own articles beside the shared coverage (tests/stories.py): each names what
# only it says, so a passage from the wrong collection shows.
SERVER_ARTICLES = {
    111: (
        "harbour.md",
        "---\ntitle: Saltmere harbour dredging\ndate: 2026-09-04\nsource: The Saltmere Post\n---\n"
        "The Saltmere harbour board will dredge the Quillon channel this winter, at a cost of "
        "4.2 million pounds, its chair Orla Venn said on Friday.",
    ),
    222: (
        "harbour.md",
        "---\ntitle: Dunmarsh harbour closes\ndate: 2026-09-06\nsource: The Dunmarsh Echo\n---\n"
        "Dunmarsh harbour will close to cargo ships in October, the port's owner Tobias Grale "
        "said, after the Quillon channel silted up.",
    ),
}


def scoped_corpus(folder: Path) -> Path:
    from .stories import FLOODS, write_corpus

    write_corpus(folder, FLOODS)
    for server, (name, text) in SERVER_ARTICLES.items():
        path = folder / filed_under(server, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("graph", [False, True], ids=["exact", "graph"])
def test_a_search_sees_only_its_scope(
    location: Location, tmp_path: Path, embedder: Embedder, graph: bool
) -> None:
    """The shared coverage, plus the asking server's own (never another's), narrowed by outlet
    and date: filtered inside the index (FAISS or pgvector, exact or a graph; bm25s or SQL),
    a collection of one passage still found first."""
    options = BuildOptions(approximate_above=2 if graph else 150_000)
    build(scoped_corpus(tmp_path / "corpus"), location, embedder, options)
    retriever = Retriever.open(location, embedder)
    store = retriever.store
    question = "Who is dredging the Quillon channel?"
    for scope in (Scope(), Scope(server=111), Scope(server=222), Scope(server=333)):
        found = retriever.search(question, k=10, scope=scope)
        assert found, scope
        assert all(scope.admits(p.article_id, p.source, p.date) for p in found), scope
        owners = {server_of(p.article_id) for p in found}
        assert owners <= {None, scope.server}, scope
    first = retriever.search(question, k=3, scope=Scope(server=111))[0]
    assert first.article_id == "servers/111/harbour.md"
    everything = retriever.search(question, k=30)
    assert {server_of(p.article_id) for p in everything} >= {111, 222}  # no scope: all
    # The names a question uses are known only where the asker may look.
    assert store.knows("Orla Venn", Scope(server=111)) and store.knows("Orla Venn")
    assert not store.knows("Orla Venn", Scope(server=222)) and not store.knows("Orla Venn", Scope())
    assert {a.id for a in store.articles(Scope(server=222))} == {
        *(a.id for a in store.articles(Scope())),
        "servers/222/harbour.md",
    }
    # A member's filters: one outlet, a date range (an undated article is outside it).
    ledger = retriever.search("How many people died?", k=10, scope=Scope(source=LEDGER.lower()))
    assert ledger and {p.source for p in ledger} == {LEDGER}
    window = Scope(server=222, since="2026-09-06")  # after the floods' coverage
    assert {p.article_id for p in retriever.search(question, k=10, scope=window)} == {
        "servers/222/harbour.md"
    }
    day = retriever.search(question, k=10, scope=Scope(since="2026-09-04", until="2026-09-04"))
    assert {p.article_id for p in day} == {"kellbridge-soldiers-sent.md"}
    assert retriever.search(question, k=5, scope=Scope(source="The Nowhere Times")) == []
    store.close()
