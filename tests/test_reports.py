"""Other reports: figures read however they are written, and what counts as a difference."""

from index.answer.reports import Outlet, differing, figure, newest_first, same_report


def test_figures_are_read_however_they_are_written() -> None:
    assert figure("74") == figure("seventy-four people") == 74
    assert figure("1,200") == figure("1.2 thousand") == figure("1.2k") == 1200
    assert figure("More than 12,000") == 12000
    assert figure("Twenty-three people") == 23
    assert figure("two dozen") == 24 and figure("a million") == 1_000_000
    assert figure("3.2 million euros") == 3_200_000
    assert figure("Delcy Rodriguez") is None
    assert figure("someone") is None and figure("an hour") is None


def test_only_real_differences_count() -> None:
    assert same_report("nine", "9 people") and same_report("23", "Twenty-three")
    assert same_report("John Sullivan", "US Deputy Secretary of State John Sullivan")
    assert not same_report("11", "9") and not same_report("Ruth Okafor", "Daniel Price")


def outlet(text: str, source: str, date: str | None) -> Outlet:
    return Outlet(f"{source}-{date}", f"{source} on {date}", source, date, None, f"{text}.", text)


def test_differing_answers_are_grouped_by_figure_and_listed_newest_first() -> None:
    reports = differing(
        "23",
        [
            outlet("9", "Courier", "2026-09-03T08:00:00+00:00"),
            outlet("eleven", "Ledger", "2026-09-03T21:00:00+00:00"),
            outlet("Twenty-three", "Courier", "2026-09-05T18:00:00+00:00"),  # the same: no report
            outlet("11", "Post", "2026-09-03T10:00:00+00:00"),  # the same as the Ledger's
            outlet("Kellbridge", "Post", None),  # a name against a figure: not comparable
        ],
    )
    assert [r.text for r in reports] == ["eleven", "9"]
    assert reports[0].source == "Ledger" and [o.source for o in reports[0].also] == ["Post"]
    assert reports[1].also == ()


def test_undated_items_come_after_the_dated() -> None:
    items = [outlet("1", "A", None), outlet("2", "B", "2026-01-02"), outlet("3", "C", "2026-01-05")]
    assert [i.source for i in newest_first(items)] == ["C", "B", "A"]


def test_each_report_is_dated_against_the_answer() -> None:
    """Earlier (a figure since changed), the same day (outlets that disagree), later (an
    answer as of a past day), or undated."""
    outlets = [
        outlet("9", "Courier", "2026-09-03T08:00:00+00:00"),
        outlet("11", "Ledger", "2026-09-03T21:00:00+00:00"),
        outlet("23", "Ledger", "2026-09-05T12:00:00+00:00"),
        outlet("40", "Post", None),
    ]
    kinds = {r.text: r.kind for r in differing("11", outlets, "2026-09-03T21:00:00+00:00")}
    assert kinds == {"23": "later", "9": "same day", "40": ""}
    assert {r.text: r.kind for r in differing("23", outlets, "2026-09-05")} == {
        "11": "earlier",
        "9": "earlier",
        "40": "",
    }
    assert {r.kind for r in differing("23", outlets)} == {""}  # an undated answer
