"""The command line, run as a user runs it: a separate ``python -m index`` process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index.answer.answerer import Answerer
from index.answer.reports import figure
from index.ops.feedback import FeedbackLog
from index.ops.gaps import QuestionLog
from index.reader import RETRAIN
from index.search.retriever import Retriever
from index.search.storage.folder import FolderStorage
from index.statedb import open_state

from .conftest import ROOT
from .newssite import BRIDGE, NewsSite
from .stories import BRIDGE as ASHFORD
from .stories import COURIER, LEDGER, TOLLS, TOLLS_ARTICLE, write_corpus

pytestmark = pytest.mark.process


def run(*args: str, **settings: str) -> subprocess.CompletedProcess:
    """``python -m index ARGS`` with ``settings`` (NEWSDESK_...) added to this environment."""
    return subprocess.run(
        [sys.executable, "-m", "index", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **settings},
    )


def test_ask_json_follows_the_schema(seed_index: Path) -> None:
    result = run(
        "ask", "--json", "--index", str(seed_index), "-k", "3", "Who walked out of the meeting?"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "passages"}
    assert data["question"] == "Who walked out of the meeting?"
    assert set(data["answer"]) == {
        "status", "confidence", "coverage", "text", "sentence", "article", "date", "as_of",
        "source", "url", "alternatives", "other_reports", "unknown_names", "elsewhere",
        "filtered",
    }  # fmt: skip
    assert "Delcy Rodriguez" in data["answer"]["text"]
    assert data["answer"]["status"] in ("sure", "unsure")
    assert 0 < data["answer"]["confidence"] < 1 and 0 < data["answer"]["coverage"] <= 1
    for alternative in data["answer"]["alternatives"]:
        assert set(alternative) == {
            "text", "sentence", "article", "date", "source", "url", "confidence"
        }  # fmt: skip
        assert alternative["text"] in alternative["sentence"]
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3]
    for passage in data["passages"]:
        assert set(passage) == {"rank", "score", "text", "article", "source", "url", "date"}
        assert isinstance(passage["score"], float)
    assert "stormed out of the meeting" in data["passages"][0]["text"]


def test_ask_shows_a_changed_figure_with_its_earlier_reports(tmp_path: Path) -> None:
    """The test stories: a toll reported as 9 and 11 on 3 September, then 23 by both
    outlets on the 5th. The answer is the newest figure; the earlier ones are listed with
    their outlets and dates, and the 23 of the other outlet is not a second report."""
    corpus, index = write_corpus(tmp_path / "stories"), str(tmp_path / "index")
    assert run("build", "--corpus", str(corpus), "--index", index).returncode == 0
    question = "How many people died in the Kellbridge floods?"
    result = run("ask", "--json", "--index", index, question)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)["answer"]
    assert figure(answer["text"]) == 23 and answer["date"].startswith("2026-09-05")
    reports = answer["other_reports"]
    assert {(figure(r["text"]), r["source"]) for r in reports} == {(11, LEDGER), (9, COURIER)}
    for report in reports:
        assert set(report) == {
            *["text", "sentence", "article", "date", "source", "url", "also", "kind"]
        }
        assert report["text"] in report["sentence"] and report["date"].startswith("2026-09-03")
        assert report["kind"] == "earlier"  # than the answer's 5 Sep
    shown = run("ask", "--index", index, question).stdout
    assert f"earlier report: 11 ({LEDGER}, 2026-09-03" in shown

    # The story's timeline, and what is new after a date (asked in words, too).
    result = run("timeline", "--json", "--index", index, "Kellbridge floods")
    timeline = json.loads(result.stdout)
    assert set(timeline) == {"query", "since", "entries"} and timeline["since"] is None
    for entry in timeline["entries"]:
        assert set(entry) == {"date", "sentence", "article", "source", "url", "also_in"}
    dates = [e["date"] for e in timeline["entries"]]
    assert dates == sorted(dates) and dates[0] == "2026-09-01"
    new = json.loads(
        run(
            "timeline",
            "--json",
            "--since",
            "4 September 2026",
            "--index",
            index,
            "Kellbridge floods",
        ).stdout
    )
    assert new["since"].endswith("-09-04") and all(e["date"] > new["since"] for e in new["entries"])
    asked = run(
        "ask", "--json", "--index", index, "What's new on the Kellbridge floods since 2026-09-04?"
    )
    assert json.loads(asked.stdout)["entries"] == new["entries"]
    unread = run("timeline", "--since", "the day after never", "--index", index, "floods")
    assert unread.returncode == 2 and "not a date I can read" in unread.stderr


def test_gaps_reports_what_the_bot_recorded(seed_index: Path, tmp_path: Path, embedder) -> None:
    db = tmp_path / "state.sqlite"
    log = QuestionLog(open_state(db))
    for user, question in enumerate(TOLLS):
        log.record(7, 70, user, "not covered", 0.1, question, embedder.encode_query(question))
    log.record(7, 70, 9, "sure", 0.9, "Who walked out?", embedder.encode_query("Who walked out?"))
    result = run("gaps", "--json", "--days", "7", "--db", str(db), "--index", str(seed_index))
    assert result.returncode == 0, result.stderr
    [group] = json.loads(result.stdout)["groups"]
    assert (group["times"], group["members"], group["answered_now"]) == (3, 3, False)
    assert group["outcomes"]["not covered"] == 3 and group["examples"][0] == TOLLS[2]
    missing = run("gaps", "--db", str(tmp_path / "none.sqlite"), "--index", str(seed_index))
    assert missing.returncode == 2 and "recorded nothing" in missing.stderr


def test_build_then_stats_on_a_fresh_index(tmp_path: Path) -> None:
    index_dir = str(tmp_path / "index")
    built = run("build", "--index", index_dir)
    assert built.returncode == 0, built.stderr
    assert "1 articles" in built.stdout and "1 added" in built.stdout
    stats = json.loads(run("stats", "--json", "--index", index_dir).stdout)
    assert stats["articles"] == 1 and stats["dimension"] == 384


def test_build_and_ask_from_postgres(database_url: str) -> None:
    """The issue's scenario: the index built into PostgreSQL, then asked from it."""
    database = {"NEWSDESK_DATABASE_URL": database_url}
    built = run("build", **database)
    assert built.returncode == 0, built.stderr
    assert "1 articles" in built.stdout and "1 added" in built.stdout
    asked = run("ask", "--json", "Who walked out of the meeting?", **database)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["answer"]["text"] == "Delcy Rodriguez"


def test_with_a_database_articles_are_added_imported_and_removed_there(
    database_url: str, tmp_path: Path
) -> None:
    """``add`` and ``remove`` write the database's originals; ``build --corpus`` imports a
    folder; a full build from another folder keeps them all."""
    database = {"NEWSDESK_DATABASE_URL": database_url}
    article = tmp_path / "upload" / "tolls.md"
    article.parent.mkdir()
    article.write_text(TOLLS_ARTICLE)
    added = run("add", str(article), **database)
    assert added.returncode == 0, added.stderr
    assert "kellbridge-bridge-tolls-from-march.md: Kellbridge bridge tolls from March" in (
        added.stdout
    )

    imports = write_corpus(tmp_path / "stories", [ASHFORD])
    imported = run("build", "--corpus", str(imports), **database)
    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stdout and "1 added, 0 updated, 0 removed" in imported.stdout
    (imports / "ashford-bridge-approved.md").unlink()
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    rebuilt = run("build", "--full", "--corpus", str(imports), **database)
    assert "0 added, 0 updated, 1 removed" in rebuilt.stdout, rebuilt.stdout
    full = run("build", "--full", "--corpus", str(elsewhere), **database)
    assert "2 articles" in full.stdout, "the upload and the seed stay: neither was imported"

    asked = run("ask", "--json", TOLLS[0], **database)
    assert "March" in json.loads(asked.stdout)["answer"]["text"]
    removed = run("remove", "kellbridge bridge tolls from march", **database)
    assert removed.returncode == 0, removed.stderr
    assert "removed kellbridge-bridge-tolls-from-march.md" in removed.stdout
    again = run("remove", "Kellbridge bridge tolls from March", **database)
    assert again.returncode == 2 and "no article has the id or title" in again.stderr
    stats = json.loads(run("stats", "--json", **database).stdout)
    assert stats["articles"] == 1


def test_asking_without_an_index_explains_how_to_build(tmp_path: Path) -> None:
    result = run("ask", "--index", str(tmp_path / "none"), "anything?")
    assert result.returncode == 2
    assert "python -m index build" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_reader_weights_are_one_clear_line(seed_index: Path, tmp_path: Path) -> None:
    missing = tmp_path / "reader.safetensors"
    result = subprocess.run(
        [sys.executable, "-m", "index", "ask", "--index", str(seed_index), "Who walked out?"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NEWSDESK_READER_WEIGHTS": str(missing)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: The reader's weights are missing ({missing}): restore them with "
        f"`git checkout -- {missing}` or retrain with `{RETRAIN}`."
    ]


def test_feedback_export_writes_voted_down_questions_as_eval_lines(
    seed_index: Path, embedder, tmp_path: Path
) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    db = tmp_path / "state.sqlite"
    state = open_state(db)
    votes = FeedbackLog(state)
    liked = votes.record("How many votes were needed?", answerer.ask("How many votes?"), 7)
    disliked = answerer.ask("Who represented the United States at the meeting?")
    wrong = votes.record(disliked.question, disliked, 7)
    votes.vote(liked, 1, up=True)
    votes.vote(wrong, 1, up=True)
    votes.vote(wrong, 1, up=False)  # changed their mind: one vote, down
    votes.vote(wrong, 2, up=False)
    assert votes.explain(wrong, 2, "wrong_answer") and not votes.explain(liked, 1, "other")
    state.close()

    out = tmp_path / "regressions.jsonl"
    result = run("feedback", "--db", str(db), "export", str(out))
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in out.read_text().splitlines()]
    assert line["question"] == "Who represented the United States at the meeting?"
    assert line["answers"] == [] and line["evidence"] == "" and line["answerable"] is True
    assert line["feedback"]["down"] == 2 and line["feedback"]["up"] == 0
    assert line["feedback"]["reasons"] == ["wrong_answer"]
    # Like every subcommand it takes --corpus and --index (votes live outside any index).
    stats = run("feedback", "--db", str(db), "stats", "--index", str(tmp_path), "--corpus", ".")
    assert "2 answers, 1 👍, 2 👎" in stats.stdout

    missing = run("feedback", "--db", str(tmp_path / "none.sqlite"), "export", str(out))
    assert missing.returncode == 2 and "No feedback database" in missing.stderr


def test_fetch_guards_then_adds_pages_and_polls_feeds(
    news_site: NewsSite, seed_index: Path, corpus: Path, tmp_path: Path
) -> None:
    """The guard is on by default here too: a cron job reading a hostile feed is protected."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    where = ("--corpus", str(corpus), "--index", str(index_dir))
    state = {"NEWSDESK_STATE_DB": str(tmp_path / "state.sqlite")}
    refused = run("fetch", *where, news_site.url("/news/floods-monday"), **state)
    assert refused.returncode == 1 and "private or local address" in refused.stderr
    assert news_site.requests == [] and not (corpus / "web").exists()

    trusted = {**state, "NEWSDESK_FETCH_ALLOW_PRIVATE": "true", "NEWSDESK_FETCH_DELAY_SECONDS": "0"}
    added = run("fetch", *where, news_site.url("/go/floods-monday"), **trusted)
    assert added.returncode == 0, added.stderr
    assert "Floods kill 74 in the river valley (2026-11-23, " in added.stdout
    news_site.publish(BRIDGE)
    feeds = {**trusted, "NEWSDESK_FEEDS": news_site.url("/rss.xml")}
    polled = run("fetch", "--feeds", *where, **feeds)
    assert polled.returncode == 0, polled.stderr
    assert "1 added, 0 changed" in polled.stdout  # the flood story was there already
    store = FolderStorage.open(index_dir)
    dated = {a.url: a.date for a in store.articles()}
    assert dated[news_site.url("/news/bridge")] == "2026-11-25"
    assert dated[news_site.url("/news/floods-monday")] == "2026-11-23"
    store.close()


def test_each_server_changes_and_reads_its_own_coverage(tmp_path: Path) -> None:
    """``--server``: an article added for one server is answered only there, removed only by
    it (another server, or the shared coverage's operator, is refused with exit code 1); the
    shared coverage is the operator's; filters that leave nothing say so; bad filters are one
    line and exit code 2."""
    corpus = write_corpus(tmp_path / "corpus", [ASHFORD])
    harbour = tmp_path / "harbour.md"
    harbour.write_text(
        "---\ntitle: Saltmere harbour dredging\ndate: 2026-09-04\nsource: The Saltmere Post\n"
        "---\nThe Saltmere harbour board will dredge the Quillon channel this winter, its chair "
        "Orla Venn said on Friday.",
        encoding="utf-8",
    )
    where = {"NEWSDESK_CORPUS_DIR": str(corpus), "NEWSDESK_INDEX_DIR": str(tmp_path / "index")}
    added = run("add", str(harbour), "--server", "111", **where)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("servers/111/saltmere-harbour-dredging.md: ")
    assert (corpus / "servers" / "111" / "saltmere-harbour-dredging.md").is_file()

    question = "Who chairs the board that will dredge the Quillon channel?"
    elsewhere = json.loads(run("ask", question, "--server", "222", "--json", **where).stdout)
    assert "Saltmere" not in json.dumps(elsewhere), "another server's article is never shown"
    own = run("ask", question, "--server", "111", "--source", "the saltmere post", "--json",
              "--since", "2026-09-01", **where)  # fmt: skip
    answer = json.loads(own.stdout)
    assert answer["answer"]["text"] == "Orla Venn", own.stdout
    assert {p["article"] for p in answer["passages"]} == {"Saltmere harbour dredging"}
    nothing = run("ask", question, "--server", "111", "--since", "2026-10-01", **where)
    assert nothing.stdout.strip() == ("No article since 1 Oct 2026 in this server's coverage."), (
        nothing.stdout
    )

    told = run("timeline", "Quillon channel dredging", "--server", "222", "--json", **where)
    assert "Saltmere" not in told.stdout and told.returncode == 0
    ours = run("timeline", "Quillon channel dredging", "--server", "111", "--json", **where)
    assert "Orla Venn" in ours.stdout

    refused = run("remove", "Saltmere harbour dredging", "--server", "222", **where)
    assert refused.returncode == 1 and "another server's own" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    shared = run("remove", ASHFORD.title, "--server", "111", **where)
    assert shared.returncode == 1 and "only operators change" in shared.stderr
    removed = run("remove", "Saltmere harbour dredging", "--server", "111", **where)
    assert removed.returncode == 0, removed.stderr
    stats = json.loads(run("stats", "--server", "111", "--json", **where).stdout)
    assert (stats["server"], stats["articles"], stats["sources"]) == (111, 1, [LEDGER])

    for bad, says in (
        (["--server", "abc"], "'abc' is not a server id (a number)"),
        (["--since", "the day after never"], "is not a date I can read"),
        (["--since", "2026-09-05", "--until", "2026-09-01"], "is after until"),
        (["--source", "The Nowhere Times"], "no article in the shared coverage is from"),
    ):
        result = run("ask", question, *bad, **where)
        assert result.returncode == 2 and says in result.stderr, (bad, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
