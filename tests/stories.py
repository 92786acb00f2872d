"""Dated news stories from two outlets, written for the tests of answers that change over time
(other reports, timelines): the Kellbridge floods, whose death toll was reported as 9 and 11
on the same day and 23 two days later; a dockers' strike at Port Ellis, called, begun and
settled; and stories that share their words but not their subject (a bridge in Ashford, a
football match in Kellbridge, flood defences in Brenmoor, a food festival in Port Ellis, a
rail strike in Brenmoor).

``write_corpus`` puts them in a folder as Markdown with front matter, as the corpus loader
reads them; the same ``Story`` objects can be served by ``tests/newssite.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .newssite import Story

LEDGER = "The Northern Ledger"
COURIER = "The Meridian Courier"


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 9, day, hour, tzinfo=UTC)


WARNING = Story(
    "kellbridge-rain-warning",
    "Amber warning for heavy rain over the Lune valley",
    [
        "Forecasters issued an amber warning for heavy rain across the Lune valley on Tuesday, "
        "saying up to 120 millimetres could fall on Kellbridge in two days.",
        "The county council said sandbags would be handed out at the Kellbridge fire station.",
    ],
    _at(1, 17),
    COURIER,
)
NINE = Story(
    "kellbridge-floods-nine-dead",
    "Floods in Kellbridge kill nine",
    [
        "At least nine people have died after the River Lune burst its banks in Kellbridge, "
        "the county emergency service said on Thursday.",
        "About 400 residents were taken from their homes to the town's leisure centre.",
    ],
    _at(3, 8),
    COURIER,
)
ELEVEN = Story(
    "kellbridge-flood-toll-eleven",
    "Kellbridge flood toll rises to 11",
    [
        "The death toll from the Kellbridge floods has risen to 11, officials said late on "
        "Thursday.",
        "Mayor Ruth Okafor said the town had never seen the water rise so high, so fast.",
    ],
    _at(3, 21),
    LEDGER,
)
SOLDIERS = Story(
    "kellbridge-soldiers-sent",
    "Soldiers sent to flooded Kellbridge",
    [
        "Two hundred soldiers were sent to Kellbridge on Friday to shore up the flood barriers "
        "along the River Lune.",
        "The railway line to Kellbridge was closed after the embankment gave way.",
    ],
    _at(4, 10),
    LEDGER,
)
TWENTY_THREE = Story(
    "kellbridge-search-ends",
    "Kellbridge flood: 23 dead as search ends",
    [
        "The death toll from the Kellbridge floods has risen to 23, the county emergency "
        "service said on Saturday, as rescuers ended their search.",
        "A relief fund opened by the council has raised 1.2 million pounds.",
    ],
    _at(5, 12),
    LEDGER,
)
COUNTING = Story(
    "kellbridge-counts-the-cost",
    "Kellbridge counts the cost of its floods",
    [
        "Twenty-three people died in the Kellbridge floods, officials confirmed on Saturday.",
        "Insurers put the damage to homes and shops at 40 million pounds.",
    ],
    _at(5, 18),
    COURIER,
)
BRIDGE = Story(
    "ashford-bridge-approved",
    "Ashford council approves a new footbridge",
    [
        "Ashford council approved a new footbridge over the River Esk on Friday.",
        "Mayor Daniel Price of Ashford said the bridge would open in the spring of 2028.",
    ],
    _at(4, 15),
    LEDGER,
)
FOOTBALL = Story(
    "kellbridge-rovers-cup",
    "Kellbridge Rovers reach the county cup final",
    [
        "Kellbridge Rovers beat Ashford Town 2-1 on Friday night to reach the county cup final.",
        "Their manager said the win was for a town that had had a terrible week.",
    ],
    _at(4, 22),
    COURIER,
)
DEFENCES = Story(
    "brenmoor-flood-defences",
    "Brenmoor's flood defences are finished",
    [
        "The 8 million pound flood defences along the River Esk in Brenmoor were completed on "
        "Monday after three years of work.",
    ],
    _at(1, 11),
    COURIER,
)

STRIKE_CALLED = Story(
    "port-ellis-strike-called",
    "Port Ellis dockers vote to strike",
    [
        "Dockers at Port Ellis voted by 412 to 37 to strike over pay, the Harbour Workers' "
        "Union said on Wednesday.",
        "The union's leader, Tomas Reyes, said the port's owners had refused to meet them.",
    ],
    _at(2, 14),
    LEDGER,
)
STRIKE_BEGINS = Story(
    "port-ellis-strike-begins",
    "Port Ellis strike halts container traffic",
    [
        "The strike at Port Ellis began at dawn on Friday, leaving 60 container ships waiting "
        "outside the harbour.",
        "Supermarkets in the region warned that fresh food could run short within a week.",
    ],
    _at(4, 9),
    COURIER,
)
STRIKE_ENDS = Story(
    "port-ellis-strike-ends",
    "Port Ellis strike ends with a 6 percent pay rise",
    [
        "The Port Ellis strike ended on Sunday after the owners offered dockers a 6 percent "
        "pay rise, which the union accepted.",
        "Tomas Reyes called the deal a victory for every worker on the coast.",
    ],
    _at(6, 19),
    LEDGER,
)
FESTIVAL = Story(
    "port-ellis-food-festival",
    "Port Ellis food festival draws record crowds",
    [
        "More than 30,000 visitors came to the Port Ellis food festival on Saturday, the "
        "organisers said.",
    ],
    _at(5, 20),
    COURIER,
)
RAIL_STRIKE = Story(
    "brenmoor-rail-strike",
    "Rail workers in Brenmoor announce a strike",
    [
        "Rail workers in Brenmoor announced a two-day strike over staffing for later this month.",
    ],
    _at(3, 13),
    LEDGER,
)

# Written after the timeline's settings were chosen on the two stories above, to check them
# on one they were not set on.
BOIL_NOTICE = Story(
    "meridale-boil-notice",
    "Meridale residents told to boil tap water",
    [
        "Residents of Meridale were told on Monday to boil their tap water after E. coli was "
        "found at the Hollins treatment works.",
        "About 18,000 homes are affected, the water company said.",
    ],
    _at(7, 16),
    COURIER,
)
SCHOOLS_SHUT = Story(
    "meridale-schools-shut",
    "Meridale schools shut over water scare",
    [
        "Six schools in Meridale closed on Tuesday because of the boil-water notice.",
        "Northvale Water apologised to its customers and said tests were under way.",
    ],
    _at(8, 11),
    LEDGER,
)
NOTICE_LIFTED = Story(
    "meridale-notice-lifted",
    "Boil-water notice lifted in Meridale",
    [
        "Northvale Water lifted the boil-water notice for Meridale on Thursday after three clean "
        "tests in a row.",
        "Each household will be paid 50 pounds in compensation, the company said.",
    ],
    _at(10, 15),
    COURIER,
)
COUNCIL_LEADER = Story(
    "meridale-council-leader",
    "Meridale council elects a new leader",
    ["Meridale council elected Joan Pryce as its leader on Tuesday evening."],
    _at(8, 21),
    LEDGER,
)
WATER_PRICES = Story(
    "northern-water-prices",
    "Water bills to rise across the north",
    ["Northern water companies will raise their prices by 4 percent in April, the regulator said."],
    _at(9, 10),
    COURIER,
)

FLOODS = [WARNING, NINE, ELEVEN, SOLDIERS, TWENTY_THREE, COUNTING]
STRIKE = [STRIKE_CALLED, STRIKE_BEGINS, STRIKE_ENDS]
WATER = [BOIL_NOTICE, SCHOOLS_SHUT, NOTICE_LIFTED]
DISTRACTORS = [BRIDGE, FOOTBALL, DEFENCES, FESTIVAL, RAIL_STRIKE, COUNCIL_LEADER, WATER_PRICES]
STORIES = FLOODS + STRIKE + WATER + DISTRACTORS


def markdown(story: Story) -> str:
    """The story as a corpus file: front matter, then its paragraphs."""
    front = (
        f"---\ntitle: {story.title}\ndate: {story.published.isoformat()}\n"
        f"source: {story.site}\n---\n"
    )
    return front + "\n\n".join(story.paragraphs) + "\n"


def write_corpus(folder: Path, stories: list[Story] = STORIES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for story in stories:
        (folder / f"{story.slug}.md").write_text(markdown(story), encoding="utf-8")
    return folder


# What members ask that the seed coverage does not say, three ways, and the article that
# answers it (the coverage-gaps tests).
TOLLS = [
    "When do the tolls on the new Kellbridge bridge start?",
    "From what date will drivers pay a toll on the Kellbridge bridge?",
    "when does the Kellbridge bridge toll begin",
]
TOLLS_ARTICLE = (
    "---\ntitle: Kellbridge bridge tolls from March\ndate: 2026-11-30\n---\n"
    "Tolls on the new Kellbridge bridge will start on 1 March 2027, the county council "
    "announced on Monday."
)
