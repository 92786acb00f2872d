"""The desk: what a long-running front end (the Discord bot) holds on to.

It answers from the current index while a rebuild runs in the background, switches to the new
index only once it is complete, and keeps the old one serving when a rebuild fails. One model
instance serves both querying and indexing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from index.answering import Answer, Answerer
from index.embedding import Embedder
from index.followups import Turn
from index.indexer import BuildProgress, BuildReport, build
from index.retriever import Retriever
from index.settings import Settings
from index.store import ArticleRecord, IndexUnavailable

log = logging.getLogger(__name__)


class ReindexRunning(RuntimeError):
    """A rebuild is already under way; only one runs at a time."""


class Desk:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(settings.model, settings.batch_size)
        self._answerer: Answerer | None = None
        self._rebuilding = threading.Lock()

    def open(self) -> None:
        """Load the index, building it from the corpus first when there is none yet."""
        if self._answerer is not None:
            return
        try:
            self._answerer = self._load()
        except IndexUnavailable as reason:
            if (self.settings.index_dir / "current").exists():
                raise  # a damaged or mismatched index is the operator's call, not ours
            log.info("%s Building it from %s now.", reason, self.settings.corpus_dir)
            self.reindex(on_progress=_log_progress)
        # Load the language model and warm the caches now, not on the first user's question.
        self.ask("Which article is this question warming up?")

    @property
    def reindexing(self) -> bool:
        return self._rebuilding.locked()

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        answerer = self._answerer  # one read: a swap during the question does not affect it
        if answerer is None:
            raise IndexUnavailable("The index is not loaded yet.")
        return answerer.ask(question, k=self.settings.top_k, history=history)

    def articles(self) -> list[ArticleRecord]:
        return self._answerer.retriever.store.articles() if self._answerer else []

    def reindex(
        self, full: bool = False, on_progress: Callable[[BuildProgress], None] | None = None
    ) -> BuildReport:
        """Rebuild from the corpus and switch to the result; raises ``ReindexRunning``."""
        if not self._rebuilding.acquire(blocking=False):
            raise ReindexRunning("A reindex is already running.")
        try:
            report = build(
                self.settings.corpus_dir,
                self.settings.index_dir,
                self.embedder,
                self.settings.chunk_tokens,
                full=full,
                max_article_bytes=self.settings.max_article_bytes,
                on_progress=on_progress,
            )
            self._answerer = self._load()
            return report
        finally:
            self._rebuilding.release()

    def _load(self) -> Answerer:
        retriever = Retriever.open(self.settings.index_dir, self.embedder)
        return Answerer.from_settings(retriever, self.settings)


def _log_progress(progress: BuildProgress) -> None:
    if progress.stage == "embedding" and progress.texts_embedded in (0, progress.texts_to_embed):
        log.info(
            "embedding %d texts from %d articles (%d/%d done)",
            progress.texts_to_embed,
            progress.articles_to_embed,
            progress.texts_embedded,
            progress.texts_to_embed,
        )
