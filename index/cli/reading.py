"""The commands that read the coverage: ask, timeline, stats, eval, gaps, feedback."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

from index.ops.feedback import REASONS, FeedbackLog
from index.search.filters import check_source, outlets, read_scope
from index.search.scope import Scope
from index.search.storage import backend_at
from index.settings import Settings
from index.statedb import open_state


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from index.answer.answerer import clean_question, open_answerer
    from index.stories.timeline import NAME_THE_STORY, whats_new

    routed = whats_new(clean_question(args.question))
    if routed is not None:  # "what's new about X since Monday?" is a timeline
        if not routed.topic:
            print(f"error: {NAME_THE_STORY}", file=sys.stderr)
            return 2
        coverage = read_scope(args.server)
        return _print_timeline(settings, routed.topic, routed.since, None, args.json, coverage)
    scope = read_scope(args.server, args.source, args.since, args.until)
    answerer = open_answerer(settings)
    check_source(answerer.retriever.store, scope)
    answer = answerer.ask(args.question, k=args.k or settings.top_k, scope=scope)
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
    elif answer.filtered:
        print(answer.filtered)
        return 0
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
    scope = read_scope(args.server)
    return _print_timeline(settings, args.query, since, args.limit, args.json, scope)


def _print_timeline(
    settings: Settings,
    query: str,
    since: str | None,
    limit: int | None,
    as_json: bool,
    scope: Scope,
) -> int:
    """The timeline told from ``scope``'s coverage (the shared one, and a server's own)."""
    from index.search.retriever import Retriever
    from index.stories.timeline import Timelines

    timelines = Timelines(Retriever.from_settings(settings))
    timeline = timelines.build(query, since=since, limit=limit, scope=scope)
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
    """The index, and the articles of the coverage asked about: ``--server``'s own and the
    shared coverage, or the shared coverage only."""
    scope = read_scope(args.server)
    store = backend_at(settings.index_location).open()
    manifest = store.manifest
    articles = store.articles(scope)
    if args.json:
        # The build's own description, its counts those of the coverage asked about (the
        # whole index's beside them, for the operator).
        print(
            json.dumps(
                {
                    "where": store.where,
                    **manifest.__dict__,
                    "server": scope.server,
                    "articles": len(articles),
                    "passages": sum(a.passages for a in articles),
                    "sources": outlets(store, scope),
                    "index_articles": manifest.articles,
                    "index_passages": manifest.passages,
                }
            )
        )
        return 0
    print(f"index     {store.where}")
    print(f"model     {manifest.model} ({manifest.dimension} dimensions)")
    print(f"built     {manifest.built_at} in {manifest.build_seconds:.1f}s, {manifest.faiss_index}")
    print(
        f"contents  {manifest.articles} articles, {manifest.passages} passages,"
        f" {manifest.sentences} sentences"
    )
    whose = f"server {scope.server}'s own and the shared" if scope.server else "the shared"
    print(f"coverage  {len(articles)} articles: {whose} coverage")
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
    # "Answered now" from what that server may see; every server's: the whole coverage.
    scope = Scope(args.guild) if args.guild else None
    with_coverage(gaps[:GAPS_CHECKED], partial(open_answerer(settings).ask, scope=scope))
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
