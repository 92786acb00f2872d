"""The desk: what a long-running front end (the bot) holds on to.

It answers from the current index while a rebuild runs in the background, switches to the new
index only once it is complete, and keeps the old one serving when a rebuild fails. One model
instance serves both querying and indexing. Articles are added to and taken out of the
originals (``index.ingest.originals``: the folder, or the database when there is one) and put
back when the build that follows fails.
"""

from __future__ import annotations

import ctypes
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from index.answer.answerer import Answerer, open_answerer, reader_for
from index.answer.confidence import calibration_for
from index.answer.followups import Turn
from index.answer.records import Answer
from index.errors import IndexUnavailable
from index.ingest.articles import SkipFile, read_file
from index.ingest.collections import filed_under, refusal
from index.ingest.feeds import FeedBook, FeedResult
from index.ingest.originals import Undo, originals_for
from index.ingest.pages import WebArticle
from index.search.build import BuildOptions, BuildProgress, BuildReport, build
from index.search.embedding import Embedder
from index.search.filters import check_source
from index.search.scope import Scope
from index.search.storage import Location, backend_at
from index.search.storage.base import ArticleRecord, BuildRunning, Manifest
from index.settings import Settings
from index.stories.timeline import Timeline, Timelines

log = logging.getLogger(__name__)


# What an uploaded article may be: the single-article formats (a .jsonl of many articles is a
# shell job).
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".json")
FIRST_BUILD_POLL_SECONDS = 1.0
REPLICA_WAIT_SECONDS = 10.0  # a standby on the same network replays a build in milliseconds


class ReindexRunning(RuntimeError):
    """A rebuild is already under way; only one runs at a time."""


class ArticleRejected(ValueError):
    """An article cannot be added or removed; the message says why, for the person who asked."""


class NotYours(ArticleRejected):
    """The article is another server's own, or the shared coverage and the asker no operator."""


class Desk:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        # Loaded at start, so missing or damaged weights stop it before any work.
        self.reader = reader_for(settings)
        calibration_for(self.reader)  # likewise a damaged calibration
        self.originals = originals_for(settings.database_url, settings.corpus_dir)
        self._answerer: Answerer | None = None
        self._rebuilding = threading.Lock()

    def open(self) -> None:
        """Load the index, building it from the corpus first when there is none yet."""
        if self._answerer is not None:
            return
        try:
            self._answerer = self._load()
        except IndexUnavailable as reason:
            if backend_at(self.settings.index_location).exists():
                # Built, but a read replica may not have replayed it yet; past that, a damaged
                # or mismatched index is the operator's call, not ours (this raises again).
                self._await_replica()
                self._answerer = self._load()
            else:
                log.info("%s Building it from %s now.", reason, self.originals)
                self._first_build()
        # Load the language model and warm the caches now, not on the first user's question.
        self.ask("Which article is this question warming up?")

    def _first_build(self) -> None:
        """Build the first index; when another process is building it (bot processes started
        together on one new database), wait for that build, then take it in (an incremental
        build that finds nothing to do), or make it if that one failed."""
        while True:
            try:
                self.reindex(on_progress=_log_progress)
                return
            except BuildRunning:
                log.info("another process is building the index; waiting for it")
                time.sleep(FIRST_BUILD_POLL_SECONDS)

    def ask(
        self, question: str, history: Sequence[Turn] = (), scope: Scope | None = None
    ) -> Answer:
        """``scope``: the coverage the asker may see (None: all of it, for the operator)."""
        answerer = self._answerer  # one read: a swap during the question does not affect it
        if answerer is None:
            raise IndexUnavailable("The index is not loaded yet.")
        return answerer.ask(question, k=self.settings.top_k, history=history, scope=scope)

    def timeline(
        self,
        query: str,
        since: str | None = None,
        limit: int | None = None,
        within: set[str] | None = None,
        scope: Scope | None = None,
    ) -> Timeline:
        """A story's timeline from the current index (``index.stories.timeline``)."""
        return self.timelines().build(query, since, limit, within, scope)

    def timelines(self) -> Timelines:
        """What builds timelines from the current index (for the follows' checks)."""
        answerer = self._answerer
        if answerer is None:
            raise IndexUnavailable("The index is not loaded yet.")
        return Timelines(answerer.retriever)

    def articles(self, scope: Scope | None = None) -> list[ArticleRecord]:
        return self._answerer.retriever.store.articles(scope) if self._answerer else []

    def check_source(self, scope: Scope) -> None:
        """``filters.check_source`` on the current index (a ``FilterError`` for an outlet
        the asker's coverage does not have)."""
        if self._answerer is not None:
            check_source(self._answerer.retriever.store, scope)

    def reindex(
        self, full: bool = False, on_progress: Callable[[BuildProgress], None] | None = None
    ) -> BuildReport:
        """Rebuild from the corpus and switch to the result; raises ``ReindexRunning``."""
        with self._exclusively():
            return self._rebuild(full, on_progress)

    def add_article(
        self, filename: str, data: bytes, server: int | None = None
    ) -> tuple[list[ArticleRecord], BuildReport]:
        """``add_articles`` of one file."""
        return self.add_articles([(filename, data)], server)

    def add_articles(
        self, files: Sequence[tuple[str, bytes]], server: int | None = None
    ) -> tuple[list[ArticleRecord], BuildReport]:
        """Validate uploaded articles as the corpus loader would, save them into ``server``'s
        own coverage (None: the shared one), index them in one build.

        Each is saved under a name made from its title, never from its file name. When one
        cannot be read, nothing is saved; when indexing fails, they are taken out again.
        """
        limit = self.settings.max_upload_bytes
        named = [
            (self._checked_name(filename, data, limit, server), data) for filename, data in files
        ]
        report = self._change(lambda: self.originals.put_many(named, "upload"))
        # A .json file may hold a list of articles: "name#0", "name#1", ...
        names = {name for name, _ in named}
        return [a for a in self.articles() if a.id.split("#")[0] in names], report

    def _checked_name(self, filename: str, data: bytes, limit: int, server: int | None) -> str:
        """The name an uploaded article is saved under (in ``server``'s own coverage);
        ``ArticleRejected`` when it is not one the loader reads."""
        suffix = Path(filename).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise ArticleRejected(
                f"{suffix or 'A file without an extension'} is not an article format I read; "
                f"attach one of {', '.join(UPLOAD_SUFFIXES)}."
            )
        if len(data) > limit:
            raise ArticleRejected(f"The file is {len(data):,} bytes; the limit is {limit:,}.")
        with tempfile.TemporaryDirectory(prefix="newsdesk-upload-") as scratch:
            # The uploaded name, reduced to a slug, only serves to title an article that has
            # none.
            staged = Path(scratch) / f"{_slug(Path(filename).stem)}{suffix}"
            staged.write_bytes(data)
            try:
                title = next(iter(read_file(staged, staged.name, limit))).title
            except SkipFile as reason:
                raise ArticleRejected(f"I could not read {filename}: {reason}.") from None
        return self._free_name(title, suffix, server)

    def _free_name(self, title: str, suffix: str, server: int | None) -> str:
        """A name made from ``title`` that no article of ``server``'s coverage uses yet."""
        stem = _slug(title)
        name, number = filed_under(server, f"{stem}{suffix}"), 2
        while self.originals.get(name) is not None:
            name, number = filed_under(server, f"{stem}-{number}{suffix}"), number + 1
        return name

    def add_web(
        self, articles: Sequence[tuple[int | None, WebArticle]]
    ) -> tuple[list[ArticleRecord], BuildReport]:
        """Save fetched articles, each into its server's own coverage (None: the shared one;
        a story already there is replaced when its text changed) and index them in one build;
        when the build fails, the originals are put back as they were. Returns the records of
        the articles now indexed."""
        files = [(filed_under(s, a.path), a.to_markdown().encode()) for s, a in articles]
        report = self._change(lambda: self.originals.put_many(files, "web"))
        paths = {path for path, _ in files}
        return [a for a in self.articles() if a.id in paths], report

    def add_requested(
        self, book: FeedBook, articles: list[WebArticle], server: int | None = None
    ) -> tuple[list[ArticleRecord], BuildReport]:
        """Index articles a person asked for by URL: one an admin removed is taken back."""
        records, report = self.add_web([(server, article) for article in articles])
        book.readmit([article.url for article in articles], server)
        return records, report

    def add_polled(self, book: FeedBook, results: list[FeedResult]) -> BuildReport | None:
        """Index what a poll brought in one build (none when it brought nothing), then record
        each feed's run. When the build fails, the feeds keep their validators and entries, so
        the next poll takes the same stories again."""
        # A server's feed brings articles into that server's own coverage.
        articles = [(result.feed.guild_id, a) for result in results for a in result.articles]
        try:
            report = self.add_web(articles)[1] if articles else None
        except Exception as error:
            for result in results:
                book.record(result, 0, failed=f"indexing failed: {error}")
            raise
        changed = set(report.added + report.changed) if report else set()
        for result in results:
            server = result.feed.guild_id
            book.record(
                result, sum(filed_under(server, a.path) in changed for a in result.articles)
            )
        return report

    def remove_article(
        self, article_id: str, server: int | None = None, operator: bool = True
    ) -> tuple[ArticleRecord, BuildReport]:
        """Take an article out of the originals (kept aside, as ``Originals.take_out`` says)
        and out of the index, for whoever acts for ``server`` (None: the shared coverage) and
        may change what ``collections.refusal`` allows."""
        records = {a.id: a for a in self.articles()}
        if article_id not in records:
            raise ArticleRejected(
                "That article is not in the index; pick one from the list of sources."
            )
        refused = refusal(article_id, server, operator)
        if refused:
            raise NotYours(f"{records[article_id].title} cannot be removed here: {refused}.")
        if "#" in article_id:
            raise ArticleRejected(
                f"{article_id.split('#')[0]} holds several articles; remove this one by editing "
                "that file and reindexing."
            )
        if self.originals.get(article_id) is None:
            raise ArticleRejected(f"{article_id} is no longer among the articles.")
        report = self._change(lambda: self.originals.take_out(article_id))
        return records[article_id], report

    def _change(self, change: Callable[[], Undo]) -> BuildReport:
        """Make ``change`` to the originals and index the result, alone (``ReindexRunning``
        otherwise); when the build fails, the change is undone."""
        with self._exclusively():
            undo = change()
            try:
                return self._rebuild()
            except BaseException:
                undo()
                raise

    @contextmanager
    def _exclusively(self) -> Iterator[None]:
        if not self._rebuilding.acquire(blocking=False):
            raise ReindexRunning("A reindex is already running.")
        try:
            seeded = self.originals.seed(self.settings.corpus_dir)  # before any change
            if seeded:
                log.info(
                    "the database held no articles: imported %d from %s",
                    len(seeded.added),
                    self.settings.corpus_dir,
                )
            yield
        finally:
            _release_memory()
            self._rebuilding.release()

    def _rebuild(
        self, full: bool = False, on_progress: Callable[[BuildProgress], None] | None = None
    ) -> BuildReport:
        with self.originals.files() as folder:
            report = build(
                folder,
                self.settings.index_location,
                self.embedder,
                BuildOptions.from_settings(self.settings),
                full=full,
                on_progress=on_progress,
            )
        # The replica first: after the first build it holds no index at all until it has
        # replayed it (a new cluster's first start failed on that once in the full suite).
        self._await_replica()
        self._answerer = self._load()
        return report

    def _await_replica(self) -> None:
        """With a read replica, wait (up to ``REPLICA_WAIT_SECONDS``) until it holds the
        build the primary holds, so that what is reported added is answered at once."""
        if self.settings.answer_location == self.settings.index_location:
            return
        built = _manifest_at(self.settings.index_location)
        deadline = time.monotonic() + REPLICA_WAIT_SECONDS
        while built is not None and _manifest_at(self.settings.answer_location) != built:
            if time.monotonic() > deadline:
                log.warning(
                    "the read replica has not replayed the new build after %.0f s; it answers "
                    "from the previous one until it does",
                    REPLICA_WAIT_SECONDS,
                )
                return
            time.sleep(0.1)

    def _load(self) -> Answerer:
        return open_answerer(self.settings, embedder=self.embedder, reader=self.reader)


def _manifest_at(location: Location) -> Manifest | None:
    """The manifest of the index at ``location``; None when it cannot be opened."""
    try:
        store = backend_at(location).open()
    except IndexUnavailable:
        return None
    try:
        return store.manifest
    finally:
        store.close()


def _release_memory() -> None:
    """Hand what a build freed back to the system: glibc's allocator keeps it otherwise, and
    the process grows with every reindex (a full one of the XQuAD corpus left it 360 MB
    larger; trimmed, it was back where it started: 1,229 -> 869 MB)."""
    with suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim so
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].rstrip("-") or "article"


def _log_progress(progress: BuildProgress) -> None:
    if progress.stage == "embedding" and progress.texts_embedded in (0, progress.texts_to_embed):
        log.info(
            "embedding %d texts from %d articles (%d/%d done)",
            progress.texts_to_embed,
            progress.articles_to_embed,
            progress.texts_embedded,
            progress.texts_to_embed,
        )
