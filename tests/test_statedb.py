"""The state database and what is kept on it: versions and upgrades of each engine; votes,
server settings, conversations and feeds against both (the SQLite file and PostgreSQL)."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import BotSettings
from bot.state import BotState
from index.answer.records import Answer
from index.ingest.feeds import FeedBook, FeedRejected, FeedResult
from index.ops.feedback import FeedbackLog
from index.statedb import StateDatabase, StateUnavailable, open_state
from index.statedb import postgres as pg
from index.statedb.sqlite import MIGRATIONS, VERSION, SQLiteState
from localpg import PostgresServer

# The schema as releases before versioning wrote it (user_version 0), with a row in each table.
RELEASED = (
    MIGRATIONS[0]
    + """
INSERT INTO meta VALUES ('salt', 'abc');
INSERT INTO answers VALUES (1, 7, 'Who walked out?', 'Who walked out?', 'Delcy Rodriguez', 1,
    '[]', 1.0);
INSERT INTO votes VALUES (1, 'hash', 0, 'wrong_answer', 2.0);
INSERT INTO server_settings VALUES (7, 'cooldown_seconds', '10');
INSERT INTO conversations VALUES (99, 7, 3.0);
INSERT INTO turns VALUES (99, 'How many votes were needed?', '23', 3.0);
"""
)


def answer(question: str = "Who walked out of the meeting?") -> Answer:
    return Answer(
        question=question,
        status="sure",
        text="Delcy Rodriguez",
        sentence="Delcy Rodriguez then stormed out of the meeting.",
        article="OAS meeting",
        source="seed.txt",
        url=None,
    )


def test_a_new_database_is_made_at_the_latest_version(tmp_path: Path) -> None:
    db = SQLiteState(tmp_path / "new" / "state.sqlite")
    assert db.version == VERSION == len(MIGRATIONS)
    tables = {name for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"answers", "votes", "server_settings", "conversations", "turns"} <= tables


def test_a_database_from_before_versions_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(RELEASED)
    db = SQLiteState(path)
    assert db.version == VERSION
    assert db.rows("SELECT answer FROM answers") == [("Delcy Rodriguez",)]
    assert db.rows("SELECT reason FROM votes") == [("wrong_answer",)]
    assert db.rows("SELECT answer FROM turns WHERE thread_id = 99") == [("23",)]
    indexes = {name for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "answers_by_guild" in indexes
    db.close()
    assert SQLiteState(path).version == VERSION, "opening again changes nothing"


def test_removed_web_articles_of_a_release_before_collections_stay_removed_from_the_shared(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript("".join(MIGRATIONS[:5]))
        old.execute("INSERT INTO removed_urls VALUES ('https://local.example/story', 1.0)")
        old.execute("PRAGMA user_version = 5")
    book = FeedBook(SQLiteState(path))
    assert book.removed("https://local.example/story")
    assert not book.removed("https://local.example/story", 7)


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as newer:
        newer.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(StateUnavailable, match="newer Newsdesk.*restore a backup"):
        SQLiteState(path)


def test_a_damaged_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateUnavailable, match="damaged.*backup"):
        SQLiteState(path)


# What is kept on it, against both engines.


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "sqlite":
        return tmp_path / "state.sqlite"
    return request.getfixturevalue("database_url")


@pytest.fixture
def state(location: str | Path) -> Iterator[StateDatabase]:
    db = open_state(location)
    yield db
    db.close()


def test_one_vote_per_member_per_answer_changeable_with_a_reason(state: StateDatabase) -> None:
    log = FeedbackLog(state)
    first = log.record("Who walked out?", answer(), guild_id=1)
    assert log.vote(first, user_id=10, up=False)
    assert log.vote(first, user_id=10, up=False) and log.votes(first) == (0, 1)
    assert log.explain(first, user_id=10, reason="wrong_answer")
    assert not log.explain(first, user_id=11, reason="other"), "no vote of theirs to explain"
    assert log.vote(first, user_id=11, up=True) and log.votes(first) == (1, 1)
    assert not log.vote(12345, user_id=10, up=True), "no such answer"
    with pytest.raises(ValueError, match="unknown reason"):
        log.explain(first, 10, "boring")
    [worst] = log.worst()
    assert (worst.id, worst.up, worst.down, worst.reasons) == (first, 1, 1, ["wrong_answer"])
    assert log.vote(first, user_id=10, up=True) and log.worst() == [], "changed to 👍"


def test_counts_worst_answers_and_export_keep_to_one_server(
    state: StateDatabase, tmp_path: Path
) -> None:
    log = FeedbackLog(state)
    here = log.record("Who walked out?", answer(), guild_id=1)
    there = log.record("Where was it held?", answer("Where was it held?"), guild_id=2)
    big = 2**62  # Discord's ids are 64-bit
    log.vote(here, big, up=False)
    log.explain(here, big, "not_covered")
    log.vote(there, 10, up=True)
    assert log.counts(1) == {"answers": 1, "up": 0, "down": 1}
    assert log.counts() == {"answers": 2, "up": 1, "down": 1}
    assert [r.id for r in log.worst(guild_id=2)] == []
    assert [(r.id, r.reasons) for r in log.worst(guild_id=1)] == [(here, ["not_covered"])]
    assert log.export(tmp_path / "worst.jsonl") == 1
    assert '"answerable": false' in (tmp_path / "worst.jsonl").read_text()


def test_voters_are_kept_as_salted_hashes(location: str | Path) -> None:
    log = FeedbackLog(open_state(location))
    log.vote(log.record("Who walked out?", answer(), guild_id=1), user_id=424242, up=True)
    [(voter,)] = open_state(location).rows("SELECT voter FROM votes")
    assert "424242" not in voter and len(voter) >= 32
    assert FeedbackLog(open_state(location))._voter(424242) == voter, "one salt per database"


def test_server_settings_and_conversations_are_shared_by_every_process_on_it(
    location: str | Path,
) -> None:
    """Two handles on one database, as two bot processes hold: what one writes, the other
    reads at its next use, with no restart."""
    settings = BotSettings.from_env(env_file=None)
    one, other = BotState(open_state(location), settings), BotState(open_state(location), settings)
    guild, thread = 2**60 + 7, 2**61 + 9
    assert other.server(guild).cooldown_seconds == settings.cooldown_seconds
    one.change(guild, user_id=5, cooldown_seconds=30.0, channel_ids=frozenset({2**60}))
    assert other.server(guild).cooldown_seconds == 30.0
    assert other.server(guild).channel_ids == frozenset({2**60})
    one.change(guild, user_id=6, cooldown_seconds=10.0)
    assert [(user, name, new) for user, name, _, new, _ in other.changes(guild)] == [
        (5, "cooldown_seconds", "30.0"),
        (5, "channel_ids", f"[{2**60}]"),
        (6, "cooldown_seconds", "10.0"),
    ]
    assert other.conversation(thread) is None
    for number in range(5):
        one.add_turn(thread, guild, f"question {number}?", f"answer {number}")
    turns = other.conversation(thread)
    assert [t.question for t in turns or []] == ["question 2?", "question 3?", "question 4?"]


def test_feeds_their_entries_and_removed_urls(state: StateDatabase) -> None:
    book = FeedBook(state)
    book.use_settings(["https://news.example/rss.xml"])
    mine = book.add("https://local.example/feed", guild_id=2**60, user_id=1)
    with pytest.raises(FeedRejected, match="already polled"):
        book.add("https://local.example/feed", guild_id=2**60, user_id=1)
    assert [f.url for f in book.listed(2**60)] == [
        "https://news.example/rss.xml",
        "https://local.example/feed",
    ]
    assert [f.url for f in book.listed(3)] == ["https://news.example/rss.xml"]
    book.record(FeedResult(mine, taken={"a": "1"}, etag='"v1"'), added=1)
    book.record(FeedResult(mine, taken={"a": "2", "b": "1"}, etag='"v2"'), added=1)
    assert book.taken(mine.id) == {"a": "2", "b": "1"}
    assert next(f for f in book.every() if f.id == mine.id).etag == '"v2"'
    book.remember_removed("https://local.example/story?utm_source=x")
    book.remember_removed("https://local.example/story")
    assert book.removed("https://local.example/story")
    book.readmit(["https://local.example/story"])
    assert not book.removed("https://local.example/story")
    # Removed from one server's own coverage: that server's feeds skip it, no one else's.
    book.remember_removed("https://local.example/story", server=2**60)
    assert book.removed("https://local.example/story", 2**60)
    assert not book.removed("https://local.example/story") and not book.removed(
        "https://local.example/story", 3
    )
    book.readmit(["https://local.example/story"], 3)
    assert book.removed("https://local.example/story", 2**60), "readmitted elsewhere only"
    book.remove(mine.id, guild_id=2**60)
    assert book.taken(mine.id) == {}
    book.use_settings([])
    assert book.every() == []


# PostgreSQL's own: versions, and a server that goes away.


def test_postgres_state_is_made_once_and_a_newer_schema_is_refused(database_url: str) -> None:
    first, second = open_state(database_url), open_state(database_url)
    assert first.version == second.version == pg.VERSION
    with first.writing() as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateUnavailable, match="newer Newsdesk.*restore a backup"):
        open_state(database_url)
    assert "password" not in first.where


def test_postgres_going_away_is_a_clear_error_and_its_return_reconnects(
    tmp_path: Path,
) -> None:
    settings = BotSettings.from_env(env_file=None)
    server = PostgresServer()
    server.start()
    try:
        url = server.database("state")
        state = BotState(open_state(url), settings)
        state.change(7, user_id=1, cooldown_seconds=12.0)
        server.halt()
        with pytest.raises(StateUnavailable, match="state database"):
            state.add_turn(1, 7, "Who walked out?", "Delcy Rodriguez")
        # Questions are still answered meanwhile, with the settings last read.
        assert state.server(7).cooldown_seconds == 12.0
        server.resume()
        state.add_turn(1, 7, "Who walked out?", "Delcy Rodriguez")
        assert [t.answer for t in state.conversation(1) or []] == ["Delcy Rodriguez"]
    finally:
        server.stop()
