"""The state database and the feedback log on it: versions, upgrades, votes. No model needed."""

import sqlite3
from pathlib import Path

import pytest

from index.answering import Answer
from index.feedback import FeedbackLog
from index.statedb import MIGRATIONS, VERSION, StateDatabase, StateUnavailable

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
        covered=True,
        text="Delcy Rodriguez",
        sentence="Delcy Rodriguez then stormed out of the meeting.",
        article="OAS meeting",
        source="seed.txt",
        url=None,
    )


def test_a_new_database_is_made_at_the_latest_version(tmp_path: Path) -> None:
    db = StateDatabase(tmp_path / "new" / "state.sqlite")
    assert db.version == VERSION == len(MIGRATIONS)
    tables = {name for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"answers", "votes", "server_settings", "conversations", "turns"} <= tables


def test_a_database_from_before_versions_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(RELEASED)
    db = StateDatabase(path)
    assert db.version == VERSION
    assert db.rows("SELECT answer FROM answers") == [("Delcy Rodriguez",)]
    assert db.rows("SELECT reason FROM votes") == [("wrong_answer",)]
    assert db.rows("SELECT answer FROM turns WHERE thread_id = 99") == [("23",)]
    indexes = {name for (name,) in db.rows("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "answers_by_guild" in indexes
    db.close()
    assert StateDatabase(path).version == VERSION, "opening again changes nothing"


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as newer:
        newer.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(StateUnavailable, match="newer Newsdesk.*restore a backup"):
        StateDatabase(path)


def test_a_damaged_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateUnavailable, match="damaged.*backup"):
        StateDatabase(path)


def test_one_vote_per_member_per_answer_changeable_with_a_reason(tmp_path: Path) -> None:
    log = FeedbackLog(StateDatabase(tmp_path / "state.sqlite"))
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


def test_counts_and_worst_answers_keep_to_one_server(tmp_path: Path) -> None:
    log = FeedbackLog(StateDatabase(tmp_path / "state.sqlite"))
    here = log.record("Who walked out?", answer(), guild_id=1)
    there = log.record("Where was it held?", answer("Where was it held?"), guild_id=2)
    log.vote(here, 10, up=False)
    log.vote(there, 10, up=True)
    assert log.counts(1) == {"answers": 1, "up": 0, "down": 1}
    assert log.counts() == {"answers": 2, "up": 1, "down": 1}
    assert [r.id for r in log.worst(guild_id=2)] == []
    assert [r.id for r in log.worst(guild_id=1)] == [here]


def test_voters_are_kept_as_salted_hashes(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    log = FeedbackLog(StateDatabase(path))
    log.vote(log.record("Who walked out?", answer(), guild_id=1), user_id=424242, up=True)
    [(voter,)] = StateDatabase(path).rows("SELECT voter FROM votes")
    assert "424242" not in voter and len(voter) >= 32
