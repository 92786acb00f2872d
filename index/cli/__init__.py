"""``python -m index``: build, query and inspect an index from the command line.

The commands that change the coverage are in ``changes``, those that read it in ``reading``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from index.cli.changes import run_add, run_build, run_fetch, run_remove
from index.cli.reading import (
    run_ask,
    run_eval,
    run_feedback_export,
    run_feedback_stats,
    run_gaps,
    run_stats,
    run_timeline,
)
from index.errors import ONE_LINE_ERRORS
from index.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env().with_paths(args.corpus, args.index, args.database_url)
        if args.run in (run_build, run_eval, run_fetch, run_add, run_remove):
            settings.check_paths()
        return args.run(args, settings)
    except ONE_LINE_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--corpus", type=Path, help="articles folder (default: NEWSDESK_CORPUS_DIR)"
    )
    common.add_argument("--index", type=Path, help="index folder (default: NEWSDESK_INDEX_DIR)")
    common.add_argument(
        "--database-url",
        metavar="URL",
        help="a postgresql:// database holding the index instead of the folder "
        "(default: NEWSDESK_DATABASE_URL)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    # Whose coverage a command reads or changes: a server's own and the shared coverage, or
    # without it the shared coverage only (index.ingest.collections).
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--server",
        metavar="ID",
        help="act for this server (a community, by id): its own coverage and the shared one"
        " (default: the shared coverage only)",
    )

    parser = argparse.ArgumentParser(
        prog="python -m index", description="Build, query and inspect an index."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        parents=[common],
        help="index the corpus (incremental); with a database, --corpus DIR imports DIR first",
    )
    build.add_argument("--full", action="store_true", help="re-embed every article")
    build.set_defaults(run=run_build)

    add = commands.add_parser(
        "add", parents=[common, server], help="add article files or pages, indexed"
    )
    add.add_argument(
        "items", nargs="+", metavar="FILE_OR_URL", help=".txt/.md/.html/.json files or URLs"
    )
    add.set_defaults(run=run_add)

    remove = commands.add_parser(
        "remove", parents=[common, server], help="take an article out of the coverage and the index"
    )
    remove.add_argument("article", metavar="TITLE_OR_ID", help="its id (see stats) or its title")
    remove.set_defaults(run=run_remove)

    ask = commands.add_parser(
        "ask", parents=[common, server], help="answer a question from the index"
    )
    ask.add_argument("question")
    ask.add_argument("--source", metavar="NAME", help="only articles from this outlet")
    ask.add_argument("--since", metavar="DATE", help='only articles from this day on: "10 Sep"')
    ask.add_argument("--until", metavar="DATE", help="only articles up to this day")
    ask.add_argument(
        "-k", type=int, default=None, help="passages to show (default: NEWSDESK_TOP_K)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(run=run_ask)

    timeline = commands.add_parser(
        "timeline",
        parents=[common, server],
        help="a story's dated timeline, or what is new since a date",
    )
    timeline.add_argument("query", help='the story, e.g. "Kellbridge floods"')
    timeline.add_argument(
        "--since", metavar="DATE", help='only what is new after it: 2026-09-03, "3 September"'
    )
    timeline.add_argument("--limit", type=int, help="the newest N entries only")
    timeline.add_argument("--json", action="store_true", help="print one JSON object")
    timeline.set_defaults(run=run_timeline)

    stats = commands.add_parser(
        "stats", parents=[common, server], help="describe the current index"
    )
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(run=run_stats)

    evaluate = commands.add_parser("eval", parents=[common], help="score answers on a question set")
    evaluate.add_argument(
        "questions",
        type=Path,
        help="a JSONL file in the seed_qa.jsonl format, or a folder of stories "
        "(each its articles and questions.jsonl)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    evaluate.set_defaults(run=run_eval)

    fetch = commands.add_parser(
        "fetch", parents=[common, server], help="add articles from web pages or poll the news feeds"
    )
    fetch.add_argument("urls", nargs="*", metavar="URL", help="article pages to add")
    fetch.add_argument(
        "--feeds",
        action="store_true",
        help="poll NEWSDESK_FEEDS and the feeds servers added, once (for cron)",
    )
    fetch.set_defaults(run=run_fetch)

    gaps = commands.add_parser(
        "gaps", parents=[common], help="what members asked that the coverage does not answer"
    )
    gaps.add_argument("--days", type=int, default=30, help="how far back (default 30)")
    gaps.add_argument("--guild", type=int, help="one server's questions (default: every server)")
    gaps.add_argument("--db", type=Path, help="state database (default: NEWSDESK_STATE_DB)")
    gaps.add_argument("--csv", type=Path, metavar="FILE", help="also write the report as CSV")
    gaps.add_argument("--json", action="store_true", help="print one JSON object")
    gaps.set_defaults(run=run_gaps)

    feedback = commands.add_parser("feedback", help="votes cast on the bot's answers")
    feedback.add_argument("--db", type=Path, help="feedback database (default: NEWSDESK_STATE_DB)")
    actions = feedback.add_subparsers(required=True, metavar="ACTION")
    # The common options too, like every subcommand, though votes live outside any index.
    export = actions.add_parser(
        "export", parents=[common], help="write the voted-down questions as eval lines"
    )
    export.add_argument("file", type=Path, help="the JSONL file to write")
    export.set_defaults(run=run_feedback_export)
    counts = actions.add_parser(
        "stats", parents=[common], help="print the counts and the worst answers"
    )
    counts.set_defaults(run=run_feedback_stats)
    return parser
