"""Follow-ups completed from their conversation, by rule: no model needed."""

import pytest

from index.answer.followups import Turn, stands_alone, with_context

VOTES = Turn("How many votes were needed?", "23")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # A question that stands alone is kept as it is.
        ("Who walked out of the meeting?", "Who walked out of the meeting?"),
        # No question word of its own: it continues the last question.
        ("And in the General Assembly?", "How many votes were needed, in the General Assembly?"),
        ("what about the General Assembly?", "How many votes were needed, the General Assembly?"),
        # Its own question word: it keeps its words and borrows the last question's topic.
        ("Where is it based?", "Where is it based? (votes needed)"),
    ],
)
def test_a_follow_up_is_completed_from_the_last_turn(question: str, expected: str) -> None:
    assert with_context(question, [VOTES]) == expected


def test_a_person_referred_to_is_taken_from_the_last_answer() -> None:
    walkout = Turn("Who walked out of the meeting?", "Delcy Rodriguez")
    assert with_context("What did she say?", [walkout]) == (
        "What did she say? (walked meeting Delcy Rodriguez)"
    )


def test_only_the_last_turn_is_read_and_no_history_changes_nothing() -> None:
    older = Turn("Who walked out of the meeting?", "Delcy Rodriguez")
    assert with_context("And in the General Assembly?", [older, VOTES]).startswith(
        "How many votes were needed"
    )
    assert with_context("And in the General Assembly?", []) == "And in the General Assembly?"


@pytest.mark.parametrize(
    ("question", "alone"),
    [
        ("Who walked out of the meeting?", True),
        ("Since when?", False),
        ("What did he say?", False),
        ("And the votes needed?", False),
    ],
)
def test_what_stands_alone(question: str, alone: bool) -> None:
    assert stands_alone(question) is alone
