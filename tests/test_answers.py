"""Short answers, abstention and the eval command, on the real model and real indexes."""

from dataclasses import replace
from pathlib import Path

import pytest

from index.answer.answerer import Answerer
from index.answer.followups import Turn
from index.answer.names import names
from index.answer.recency import asked_moment
from index.answer.reports import figure
from index.search.build import BuildOptions, build
from index.search.retriever import Fusion, Passage, Retriever
from index.settings import READERS
from index.training.evaluation import evaluate, load_questions, story_articles

from .conftest import ROOT, SEEDS, SHARED
from .stories import COURIER, LEDGER, write_corpus

SEED_QA = SHARED / "eval" / "seed_qa.jsonl"
XQUAD = SHARED / "eval" / "xquad"
STORIES = SHARED / "eval" / "stories"
# Each reader's figures on the stories (BENCHMARKS.md, issue 33), less one: answered right,
# and the answering sentence shown first (measured: large 23 and 28, small 19 and 24).
STORIES_FIGURES = {"large": (22, 27), "small": (18, 23)}
UNANSWERABLE = ROOT / "eval" / "unanswerable.jsonl"
FOLLOWUPS = ROOT / "eval" / "followups.jsonl"
FOLLOWUPS_XQUAD = ROOT / "eval" / "followups_xquad.jsonl"


@pytest.fixture(scope="module")
def xquad_settings(tmp_path_factory: pytest.TempPathFactory, settings, embedder):
    """Settings pointing at an index of the 48 XQuAD articles, built once for this module."""
    index_dir = tmp_path_factory.mktemp("xquad-index")
    build(XQUAD / "corpus", index_dir, embedder, BuildOptions.from_settings(settings))
    return settings.with_paths(index_dir=index_dir)


def test_a_why_question_is_answered_with_a_span_of_its_sentence(seed_index: Path, embedder) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    answer = answerer.ask("Why is Venezuela's economy struggling?")
    assert answer.covered
    assert answer.text and answer.text in answer.sentence
    assert "inflation" in answer.text


def test_the_issue_examples_are_answered(seed_index: Path, embedder) -> None:
    """The failures that asked for a reader (issue 11), each a kind of question."""
    answerer = Answerer(Retriever.open(seed_index, embedder))
    assert answerer.ask("Who left the meeting in anger?").text == "Delcy Rodriguez"
    assert answerer.ask("Which country hosted the OAS meeting?").text == "Mexico"
    membership = answerer.ask("What is Venezuela doing about its OAS membership?")
    assert membership.text.startswith("withdrawing")
    # No sentence is close by cosine (0.25): the reader's confidence answers it.
    assert answerer.ask("How many countries are in the group?").text == "34"


def test_design_card_answers(seed_index: Path, embedder) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    walkout = answerer.ask("Who walked out of the meeting?")
    assert walkout.text == "Delcy Rodriguez"
    assert "stormed out of the meeting" in walkout.sentence
    assert walkout.passages[0].text.find(walkout.sentence) >= 0
    assembly = answerer.ask("How many votes does the General Assembly need?")
    assert assembly.text == "18"


def test_off_topic_questions_are_abstained_with_the_closest_passages(
    seed_index: Path, embedder
) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    for item in load_questions(UNANSWERABLE):
        question = item["question"]
        answer = answerer.ask(question, k=3)
        assert not answer.covered, (question, answer.sentence)
        assert answer.text == "" and len(answer.passages) == 3
        shown = answer.to_json()["answer"]
        assert shown["status"] == "not covered" and shown["text"] is None
        assert shown["confidence"] is None and shown["coverage"] < 0.5


def test_names_are_runs_of_capitalised_words_without_question_words_or_acronyms() -> None:
    assert names("How many goals did Lionel Messi score?") == ["Lionel Messi"]
    assert names("Who is the CEO of Microsoft?") == ["Microsoft"]
    assert names("When will the next iPhone be out?") == ["iPhone"]
    assert names("What does UserDatagram Protocol do?") == ["User Datagram Protocol"]
    assert names("who walked out of the meeting?") == []


def test_a_question_naming_what_the_coverage_never_mentions_needs_a_closer_sentence(
    seed_index: Path, embedder
) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    # Close to the OAS article (cosine 0.38, over the 0.28 threshold), but about a stranger.
    stranger = answerer.ask("What did Lionel Messi say at the OAS meeting?")
    assert not stranger.covered and stranger.unknown_names == ("Lionel Messi",)
    assert stranger.passages, "the closest passages are still shown"
    known = answerer.ask("What did Delcy Rodriguez say at the OAS meeting?")
    assert known.covered and known.unknown_names == ()


def test_a_long_sentence_holding_the_question_words_answers_despite_a_low_cosine(
    seed_index: Path, embedder
) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    # Its sentence covers three topics: cosine 0.21, under the 0.28 threshold.
    answer = answerer.ask("What is the threshold in the General Assembly?")
    assert answer.covered and answer.text == "a simple majority of 18 votes"


def test_bm25_finds_an_article_added_by_an_incremental_reindex(
    corpus: Path, tmp_path: Path, embedder, settings
) -> None:
    index_dir = tmp_path / "index"
    build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    (corpus / "lighthouse.md").write_text(
        "---\ntitle: Lighthouse restored\n---\nVolunteers repainted the Quillborough lighthouse."
    )
    report = build(corpus, index_dir, embedder, BuildOptions.from_settings(settings))
    assert report.added == ["lighthouse.md"] and report.texts_embedded == 2
    lexical = Retriever.open(index_dir, embedder, Fusion(mode="lexical"))
    hits = lexical.search("Quillborough", k=5)
    assert [h.title for h in hits] == ["Lighthouse restored"]


@pytest.fixture(scope="module")
def stories(tmp_path_factory: pytest.TempPathFactory, embedder, settings) -> Answerer:
    """An answerer over the test stories (tests/stories.py): dated, two outlets."""
    folder = tmp_path_factory.mktemp("stories")
    corpus = write_corpus(folder / "corpus")
    build(corpus, folder / "index", embedder, BuildOptions.from_settings(settings))
    return Answerer(Retriever.open(folder / "index", embedder))


def test_a_figure_that_changed_is_the_newest_with_the_earlier_reports_listed(stories) -> None:
    answer = stories.ask("How many people died in the Kellbridge floods?")
    assert answer.covered and figure(answer.text) == 23 and answer.text in answer.sentence
    assert answer.date.startswith("2026-09-05")
    # Both outlets' figures of 3 September, one report each; the other outlet's 23 of the 5th
    # is the same figure, so not a report of its own.
    reports = {(figure(r.text), r.source, r.date[:10]) for r in answer.other_reports}
    assert reports == {(11, LEDGER, "2026-09-03"), (9, COURIER, "2026-09-03")}
    for report in answer.other_reports:
        assert report.text in report.sentence and report.also == ()
    assert all(figure(a.text) not in (9, 11, 23) for a in answer.alternatives)
    # Asked for the toll, the reader is less sure the "at least nine" sentence answers (0.14
    # against "no answer" 0.21), so only the 11 is listed: no report rather than a false one.
    toll = stories.ask("What is the death toll in Kellbridge?")
    assert figure(toll.text) == 23 and toll.date.startswith("2026-09-05")
    assert [(figure(r.text), r.source) for r in toll.other_reports] == [(11, LEDGER)]


def test_a_figure_asked_about_a_moment_in_the_past_is_not_the_newest(stories) -> None:
    answer = stories.ask("How many people had died by Thursday night?")
    assert figure(answer.text) in (9, 11) and answer.date.startswith("2026-09-03")
    assert any(figure(r.text) == 23 for r in answer.other_reports), "the later figure is shown"


def test_a_question_about_a_day_is_answered_from_what_was_reported_by_then(stories) -> None:
    answer = stories.ask("How many people had died in the Kellbridge floods as of 3 September?")
    assert figure(answer.text) in (9, 11) and answer.date.startswith("2026-09-03")
    assert answer.as_of == "2026-09-03" == answer.to_json()["answer"]["as_of"]
    assert any(figure(r.text) == 23 for r in answer.other_reports), "the later figure is shown"
    assert stories.ask("How many people died in the Kellbridge floods?").as_of is None


def test_the_day_a_question_asks_about_is_read_in_the_coverages_time() -> None:
    """The year, and a weekday's week, are those of the newest article: news is asked about
    after it is reported."""
    newest = [Passage(1, 1, 1.0, 0.5, "", "a", "T", "S", None, 0, 1, 0, 1, "2025-10-20")]
    asked = {
        "what was the budget figure as of Oct 10?": "2025-10-10",
        "how many cases were there on Thursday Sept 4th?": "2025-09-04",
        "what was offered per share as of 12 June?": "2025-06-12",
        "how many had died by Thursday?": "2025-10-16",
        "who won on 3 September 2024?": "2024-09-03",
        "what will it be by Dec 1?": None,  # after the newest article, not last December
        "what is the total now?": None,
        "how did they vote on the motion?": None,
    }
    assert {q: asked_moment(q, newest) for q in asked} == asked
    assert asked_moment("what was it as of Oct 10?", [replace(newest[0], date=None)]) is None


def test_a_question_about_another_town_is_not_answered_from_this_towns_story(stories) -> None:
    """Kellbridge's mayor spoke about the floods, Ashford's about a bridge: asked what the
    mayor of Ashford said about the floods, it is not covered, and the reply says why."""
    stranger = stories.ask("What did the mayor of Ashford say about the floods?")
    assert not stranger.covered and stranger.elsewhere == ("Ashford",)
    assert stranger.passages
    known = stories.ask("What did the mayor of Kellbridge say about the floods?")
    assert known.covered and "Ruth Okafor" in known.sentence and known.elsewhere == ()
    # A likely span (the Kellbridge toll) is shown, but never as sure, and says what it lacks.
    floods = stories.ask("How many people died in the Ashford floods?")
    assert floods.status in ("unsure", "not covered") and floods.elsewhere == ("Ashford",)


def test_a_clear_answer_is_sure(stories) -> None:
    answer = stories.ask("How many soldiers were sent to Kellbridge?")
    assert answer.status == "sure" and answer.text == "Two hundred"
    assert answer.confidence >= stories.calibration.sure_threshold
    assert answer.alternatives == () and answer.other_reports == ()


def test_an_unsure_answer_shows_the_right_one_among_its_alternatives(
    seed_index: Path, embedder
) -> None:
    """The seed's two misses are unsure, never sure, and the right answer is shown beside
    each: a verbatim span of its sentence, with its article and its own confidence."""
    answerer = Answerer(Retriever.open(seed_index, embedder))
    for question, right in (
        ("How many votes were needed?", "23"),
        ("Who represented the United States at the meeting?", "John Sullivan"),
    ):
        answer = answerer.ask(question)
        assert answer.status == "unsure" and answer.confidence < answerer.calibration.sure_threshold
        assert right in [a.text for a in answer.alternatives], (question, answer.alternatives)
        assert len(answer.alternatives) <= 2
        for alternative in answer.alternatives:
            assert alternative.text in alternative.sentence and alternative.text != answer.text
            assert alternative.article and 0 < alternative.confidence < answer.confidence


@pytest.mark.eval
def test_seed_eval(settings, embedder) -> None:
    report = evaluate(SEED_QA, settings, corpus=SEEDS, embedder=embedder)
    assert report["answerable"] == 8 and report["unanswerable"] == 1
    assert report["recall@5"] == 1.0
    assert report["recall@1"] >= 0.875
    # 6 of 8: the reader reads "fell three votes shy of the 23 it needed" as "three" and
    # answers 18 from the next sentence; see BENCHMARKS.md. Both misses are unsure and show
    # the right answer as an alternative.
    assert report["answer_accuracy"] >= 0.75
    assert report["shown_short_accuracy"] == 1.0
    assert all(r["short_correct"] for r in report["per_question"] if r.get("status") == "sure"), (
        "no wrong answer is marked sure"
    )
    assert report["abstained"] == 1
    assert report["wrongly_refused"] == 0


@pytest.mark.eval
def test_xquad_eval(xquad_settings, embedder) -> None:
    report = evaluate(XQUAD / "questions.jsonl", xquad_settings, embedder=embedder)
    assert report["answerable"] == 1190
    assert report["recall@1"] >= 0.92
    assert report["recall@5"] >= 0.99
    # The reader's figures on 2026-11-27 (BENCHMARKS.md): 0.892, 0.692, EM 63.0 / F1 75.4.
    assert report["sentence_accuracy"] >= 0.88
    assert report["short_answer_accuracy"] >= 0.65
    assert report["exact_match"] >= 60 and report["f1"] >= 73
    assert report["wrongly_refused"] / report["answerable"] <= 0.015
    # The confidence (BENCHMARKS.md, "Confidence"): calibrated, and the sure answers right.
    assert report["expected_calibration_error"] <= 0.05
    assert report["sure_right"] >= 0.85 and report["sure"] >= 400
    assert report["top2_short_accuracy"] >= 0.73


def test_a_folder_of_stories_is_one_corpus_of_their_articles(tmp_path: Path) -> None:
    for story in ("s1", "s2"):
        (tmp_path / story).mkdir()
        (tmp_path / story / "2025-01-02-outlet-one.md").write_text("---\ntitle: One\n---\nText.")
        (tmp_path / story / "questions.jsonl").write_text('{"question": "What?"}\n')
        (tmp_path / story / "timeline.json").write_text("{}")
    corpus = story_articles(tmp_path, (tmp_path / "corpus").resolve())
    assert sorted(p.name for p in corpus.iterdir()) == [
        "s1-2025-01-02-outlet-one.md",
        "s2-2025-01-02-outlet-one.md",
    ], "every story's articles, never its questions or timeline facts"


@pytest.mark.eval
@pytest.mark.parametrize("reader", READERS)
def test_stories_eval(settings, embedder, reader: str) -> None:
    """Members' own wording over three news stories in one corpus (BENCHMARKS.md, issue 33)."""
    report = evaluate(STORIES, replace(settings, reader=reader), embedder=embedder)
    assert report["answerable"] == 45 and report["unanswerable"] == 9
    assert (report["earlier_reports"], report["latest_questions"], report["as_of_questions"]) == (
        13,
        7,
        3,
    ), "the story questions' own checks are read"
    rows = [r for r in report["per_question"] if r["answerable"]]
    right, first = STORIES_FIGURES[reader]
    assert sum(r["short_correct"] for r in rows) >= right
    assert sum(r["evidence_first"] for r in rows) >= first
    assert not any(r["status"] == "sure" and not r["short_correct"] for r in rows), (
        "no wrong answer is marked sure"
    )
    assert report["unanswerable_marked_sure"] == 0


@pytest.mark.eval
def test_off_topic_questions_are_abstained_on_the_xquad_corpus(xquad_settings, embedder) -> None:
    report = evaluate(UNANSWERABLE, xquad_settings, embedder=embedder)
    # 16 of 30 before the reader's no-answer signal, 23 before the calibrated coverage check.
    assert report["abstained"] >= 25
    assert report["unanswerable_marked_sure"] == 0


def test_a_follow_up_is_read_with_its_conversation(seed_index: Path, embedder) -> None:
    answerer = Answerer(Retriever.open(seed_index, embedder))
    first = answerer.ask("How many votes were needed?")
    history = [Turn(first.question, first.text)]
    followup = answerer.ask("And in the General Assembly?", history=history)
    assert followup.text == "18"
    assert followup.question == "And in the General Assembly?"
    assert followup.read_as == "How many votes were needed, in the General Assembly?"
    assert "simple majority of 18 votes" in followup.passages[0].text
    assert answerer.ask("Who walked out of the meeting?", history=history).text == (
        "Delcy Rodriguez"
    ), "a question that stands alone is not changed by the conversation"


@pytest.mark.eval
def test_follow_up_evals_gain_from_context(settings, xquad_settings, embedder) -> None:
    seed = evaluate(FOLLOWUPS, settings, corpus=SEEDS, embedder=embedder)
    xquad = evaluate(FOLLOWUPS_XQUAD, xquad_settings, embedder=embedder)
    assert seed["followups"] == 10 and xquad["followups"] == 12
    assert seed["followup_recall@1"] >= 0.8 and seed["recall@5"] == 1.0
    # Among 48 articles a bare "What year was he born?" finds the wrong one a third of the time.
    assert xquad["followup_recall@1"] == 1.0 > xquad["followup_recall@1_alone"]
