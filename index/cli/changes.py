"""The commands that change the coverage: build, fetch, add, remove."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from index.search.build import BuildReport
from index.search.filters import read_scope
from index.search.scope import Scope
from index.search.storage import backend_at
from index.settings import Settings
from index.statedb import open_state


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
        records, report = Desk(settings).add_requested(book, fetched.articles, _server(args))
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
    server = _server(args)
    if paths:
        desk = Desk(settings)
        files = [(path.name, path.read_bytes()) for path in paths]
        try:
            records, report = desk.add_articles(files, server)
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
    from index.ops.desk import ArticleRejected, Desk, NotYours

    server = _server(args)
    desk = Desk(settings)
    desk.open()
    wanted = args.article.strip()
    records = desk.articles()
    matches = [r for r in records if r.id == wanted] or [
        r for r in records if r.title.casefold() == wanted.casefold()
    ]
    # A title several collections use: the one this server (or the shared coverage) holds.
    scope = Scope(server)
    matches = [r for r in matches if scope.admits(r.id, r.source, r.date)] or matches
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
        # Without --server, the operator's shared coverage; with it, that server's own only.
        record, report = desk.remove_article(matches[0].id, server, operator=server is None)
    except NotYours as reason:
        print(f"refused: {reason}", file=sys.stderr)
        return 1
    except ArticleRejected as reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    print(f"removed {record.id}: {record.title}")
    print(_build_line(report))
    return 0


def _server(args: argparse.Namespace) -> int | None:
    """``--server``'s id (a ``FilterError`` when it is not one)."""
    return read_scope(args.server).server


def _build_line(report: BuildReport) -> str:
    return (
        f"{report.articles} articles, {report.passages} passages: {len(report.added)} added, "
        f"{len(report.changed)} changed, {len(report.removed)} removed in {report.seconds:.1f}s"
    )
