"""``python -m index``: build, query and inspect an index from the command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from index.errors import ONE_LINE_ERRORS
from index.ops.feedback import REASONS, FeedbackLog
from index.search.build import BuildReport
from index.search.storage import backend_at
from index.settings import Settings
from index.statedb import open_state


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

    parser = argparse.ArgumentParser(prog="python -m index", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        parents=[common],
        help="index the corpus (incremental); with a database, --corpus DIR imports DIR first",
    )
    build.add_argument("--full", action="store_true", help="re-embed every article")
    build.set_defaults(run=run_build)

    add = commands.add_parser("add", parents=[common], help="add article files or pages, indexed")
    add.add_argument(
        "items", nargs="+", metavar="FILE_OR_URL", help=".txt/.md/.html/.json files or URLs"
    )
    add.set_defaults(run=run_add)

    remove = commands.add_parser(
        "remove", parents=[common], help="take an article out of the coverage and the index"
    )
    remove.add_argument("article", metavar="TITLE_OR_ID", help="its id (see stats) or its title")
    remove.set_defaults(run=run_remove)

    ask = commands.add_parser("ask", parents=[common], help="answer a question from the index")
    ask.add_argument("question")
    ask.add_argument(
        "-k", type=int, default=None, help="passages to show (default: NEWSDESK_TOP_K)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(run=run_ask)

    timeline = commands.add_parser(
        "timeline", parents=[common], help="a story's dated timeline, or what is new since a date"
    )
    timeline.add_argument("query", help='the story, e.g. "Kellbridge floods"')
    timeline.add_argument(
        "--since", metavar="DATE", help='only what is new after it: 2026-09-03, "3 September"'
    )
    timeline.add_argument("--limit", type=int, help="the newest N entries only")
    timeline.add_argument("--json", action="store_true", help="print one JSON object")
    timeline.set_defaults(run=run_timeline)

    stats = commands.add_parser("stats", parents=[common], help="describe the current index")
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
        "fetch", parents=[common], help="add articles from web pages or poll the news feeds"
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


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from index.ingest.originals import originals_for
    from index.search.build import BuildOptions, BuildProgress, build
    from index.search.embedding import Embedder

    bar = tqdm(total=0, unit="text", desc="reading articles", file=sys.stderr, leave=False)

    def show(progress: BuildProgress) -> None:
        if progress.stage == "embedding":
            bar.total = progress.texts_to_embed
            bar.set_description(f"embedding {progress.articles_to_embed} changed articles")
            bar.update(progress.texts_embedded - bar.n)
        else:
            bar.set_description(progress.stage)

    originals = originals_for(settings.database_url, settings.corpus_dir)
    if settings.database_url:
        # With a database the articles live there; a folder named here is imported first.
        imported = (
            originals.import_folder(settings.corpus_dir)
            if args.corpus
            else originals.seed(settings.corpus_dir)
        )
        if imported:
            print(
                f"imported {settings.corpus_dir}: {len(imported.added)} added, "
                f"{len(imported.updated)} updated, {len(imported.removed)} removed"
            )
    embedder = Embedder.from_settings(settings)
    with originals.files() as folder:
        report = build(
            folder,
            settings.index_location,
            embedder,
            BuildOptions.from_settings(settings),
            full=args.full,
            on_progress=show,
        )
    bar.close()
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    where = backend_at(settings.index_location)
    print(f"{_build_line(report)} in {where}; {report.texts_embedded} texts embedded")
    return 0


def run_fetch(args: argparse.Namespace, settings: Settings) -> int:
    """Pages and feeds go through the same guard as the bot's: no private addresses unless
    NEWSDESK_FETCH_ALLOW_PRIVATE is set (a cron job reading a hostile feed is protected)."""
    import asyncio

    from index.ingest.feeds import FeedBook, fetch_urls, poll
    from index.ingest.fetching import FetchPolicy
    from index.ops.desk import Desk

    if bool(args.urls) == args.feeds:
        print("error: give article URLs, or --feeds to poll the feeds", file=sys.stderr)
        return 2
    policy = FetchPolicy.from_settings(settings)
    book = FeedBook(open_state(settings.state_location))
    book.use_settings(settings.feeds)
    if args.feeds:
        results = asyncio.run(poll(policy, book, book.every()))
        report = Desk(settings).add_polled(book, results)
        for result in results:
            print(f"{result.feed.url}: {result.error or f'{len(result.articles)} new or updated'}")
            for _link, reason in result.failed:
                print(f"  not taken: {reason}", file=sys.stderr)
        print(_build_line(report) if report else "nothing new")
        return 1 if any(result.error for result in results) else 0
    fetched = asyncio.run(fetch_urls(policy, args.urls))
    for _url, reason in fetched.refused:
        print(f"not added: {reason}", file=sys.stderr)
    if fetched.articles:
        records, report = Desk(settings).add_requested(book, fetched.articles)
        for record in records:
            date = record.date or "no date"
            print(f"{record.id}: {record.title} ({date}, {record.passages} passages)")
        print(_build_line(report))
    return 1 if fetched.refused else 0


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    """Files are read as an uploaded article is; URLs are fetched as ``fetch`` fetches them."""
    from index.ops.desk import ArticleRejected, Desk

    urls = [item for item in args.items if item.startswith(("http://", "https://"))]
    paths = [Path(item) for item in args.items if item not in urls]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if paths:
        desk = Desk(settings)
        try:
            records, report = desk.add_articles([(path.name, path.read_bytes()) for path in paths])
        except ArticleRejected as reason:
            print(f"error: {reason}", file=sys.stderr)
            return 2
        for record in records:
            print(f"{record.id}: {record.title} ({record.passages} passages)")
        print(_build_line(report))
    if urls:
        args.urls, args.feeds = urls, False
        return run_fetch(args, settings)
    return 0


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from index.ops.desk import ArticleRejected, Desk

    desk = Desk(settings)
    desk.open()
    records = desk.articles()
    wanted = args.article.strip()
    matches = [r for r in records if r.id == wanted] or [
        r for r in records if r.title.casefold() == wanted.casefold()
    ]
    if len(matches) != 1:
        found = "; ".join(f"{r.id} ({r.title})" for r in matches)
        print(
            f"error: {len(matches)} articles are titled {wanted!r}: {found}; give the id"
            if matches
            else f"error: no article has the id or title {wanted!r} (see python -m index stats)",
            file=sys.stderr,
        )
        return 2
    try:
        record, report = desk.remove_article(matches[0].id)
    except ArticleRejected as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    print(f"removed {record.id}: {record.title}")
    print(_build_line(report))
    return 0


def _build_line(report: BuildReport) -> str:
    return (
        f"{report.articles} articles, {report.passages} passages: {len(report.added)} added, "
        f"{len(report.changed)} changed, {len(report.removed)} removed in {report.seconds:.1f}s"
    )


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from index.answer.answerer import clean_question, open_answerer
    from index.stories.timeline import NAME_THE_STORY, whats_new

    routed = whats_new(clean_question(args.question))
    if routed is not None:  # "what's new about X since Monday?" is a timeline
        if not routed.topic:
            print(f"error: {NAME_THE_STORY}", file=sys.stderr)
            return 2
        return _print_timeline(settings, routed.topic, routed.since, None, args.json)
    answer = open_answerer(settings).ask(args.question, k=args.k or settings.top_k)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    if answer.covered:
        lead = answer.text if answer.status == "sure" else f"Probably {answer.text}"
        print(f"{lead}  ({answer.status}, {answer.confidence:.0%} likely right)")
        print(f"  “{answer.sentence}”\n  — {answer.article}{_dated(answer.date)}")
        if answer.as_of:
            print(f"  (as of {answer.as_of}, as asked: what was reported by then)")
        if answer.elsewhere:
            print(f"  (that article does not mention {', '.join(answer.elsewhere)})")
        for other in answer.alternatives:
            print(
                f"  or: {other.text} ({other.confidence:.0%}) — “{other.sentence}”"
                f" — {other.article}{_dated(other.date)}"
            )
        for report in answer.other_reports:
            outlets = "; ".join(f"{source}{_dated(date)}" for source, date in report.sources())
            kind = f"{report.kind} report" if report.kind else "other report"
            print(f"  {kind}: {report.text} ({outlets}) — “{report.sentence}”")
        print()
    elif answer.unknown_names:
        missing = ", ".join(answer.unknown_names)
        print(f"Nothing in the coverage mentions {missing}. The closest passages:\n")
    elif answer.elsewhere:
        names = ", ".join(answer.elsewhere)
        print(f"The coverage mentions {names}, but not where it answers this. The closest:\n")
    else:
        print("The coverage does not answer that. The closest passages:\n")
    for p in answer.passages:
        print(f"[{p.rank}] {p.score:.4f} {p.title} ({p.source})\n    {p.text}\n")
    return 0


def run_timeline(args: argparse.Namespace, settings: Settings) -> int:
    from index.ingest.articles import parse_date

    since = None
    if args.since:
        since = parse_date(args.since)
        if since is None:
            print(f"error: --since {args.since!r} is not a date I can read", file=sys.stderr)
            return 2
    return _print_timeline(settings, args.query, since, args.limit, args.json)


def _print_timeline(
    settings: Settings, query: str, since: str | None, limit: int | None, as_json: bool
) -> int:
    from index.search.retriever import Retriever
    from index.stories.timeline import Timelines

    timeline = Timelines(Retriever.from_settings(settings)).build(query, since=since, limit=limit)
    if as_json:
        print(json.dumps(timeline.to_json(), ensure_ascii=False))
        return 0
    after = f" after {since}" if since else ""
    if not timeline.entries:
        print(f"Nothing{' new' if since else ''} in the coverage about {query!r}{after}.")
        return 0
    print(f"{query}{' — new' + after if since else ''}: {len(timeline.entries)} entries\n")
    for entry in timeline.entries:
        sources = "; ".join([entry.source, *(s.source for s in entry.also_in)])
        print(f"{entry.date or 'undated'}  {entry.sentence}\n    — {entry.article} ({sources})")
    return 0


def _dated(date: str | None) -> str:
    return f", {date}" if date else ""


def run_stats(args: argparse.Namespace, settings: Settings) -> int:
    store = backend_at(settings.index_location).open()
    manifest = store.manifest
    articles = store.articles()
    if args.json:
        print(json.dumps({"where": store.where, **manifest.__dict__}))
        return 0
    print(f"index     {store.where}")
    print(f"model     {manifest.model} ({manifest.dimension} dimensions)")
    print(f"built     {manifest.built_at} in {manifest.build_seconds:.1f}s, {manifest.faiss_index}")
    print(
        f"contents  {manifest.articles} articles, {manifest.passages} passages,"
        f" {manifest.sentences} sentences"
    )
    for article in articles:
        print(f"  {article.passages:5d}  {article.id}  {article.title}  ({article.source})")
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from index.training.evaluation import evaluate, format_report

    report = evaluate(args.questions, settings, corpus=args.corpus, mode=args.mode)
    print(json.dumps(report, indent=None) if args.json else format_report(report))
    return 0


def run_gaps(args: argparse.Namespace, settings: Settings) -> int:
    """The coverage-gaps report over the state database the bot records questions in; each
    of the largest groups asked of the index as it is now."""
    from index.answer.answerer import open_answerer
    from index.ops.gaps import QuestionLog, gaps_of, to_csv, with_coverage

    location = args.db or settings.state_location
    if isinstance(location, Path) and not location.is_file():
        raise FileNotFoundError(f"No state database at {location}: the bot recorded nothing.")
    gaps = gaps_of(QuestionLog(open_state(location)).asked(args.guild, args.days))
    with_coverage(gaps[:GAPS_CHECKED], open_answerer(settings).ask)
    if args.csv:
        args.csv.write_text(to_csv(gaps), encoding="utf-8")
    if args.json:
        print(json.dumps({"days": args.days, "groups": [g.to_json() for g in gaps]}))
        return 0
    print(f"{len(gaps)} groups of questions not covered, unsure or voted down, {args.days} days")
    for gap in gaps:
        wording = " / ".join(gap.examples) or "(wording not kept)"
        state = " · answered now" if gap.answered else ""
        print(f"  {gap.times:4d}x by {gap.members} members  {wording}{state}")
    return 0


# Groups of the report asked of the index (an answer each).
GAPS_CHECKED = 100


def _feedback(args: argparse.Namespace, settings: Settings) -> FeedbackLog:
    location = args.db or settings.state_location
    if isinstance(location, Path) and not location.is_file():
        raise FileNotFoundError(f"No feedback database at {location}: the bot recorded none.")
    return FeedbackLog(open_state(location))


def run_feedback_export(args: argparse.Namespace, settings: Settings) -> int:
    count = _feedback(args, settings).export(args.file)
    print(
        f"wrote {count} voted-down questions to {args.file}; fill in each line's answers and "
        "evidence, then run: python -m index eval " + str(args.file)
    )
    return 0


def run_feedback_stats(args: argparse.Namespace, settings: Settings) -> int:
    log = _feedback(args, settings)
    counts = log.counts()
    print(f"{counts['answers']} answers, {counts['up']} 👍, {counts['down']} 👎")
    for item in log.worst(limit=10):
        reasons = ", ".join(REASONS[r] for r in item.reasons) or "no reason given"
        print(f"  {item.up}👍 {item.down}👎  {item.question}  ->  {item.answer!r} ({reasons})")
    return 0
