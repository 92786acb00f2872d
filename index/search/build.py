"""Build: corpus folder -> articles -> chunks -> vectors -> a new index, in a folder or a
database (``index.search.storage``).

Incremental by default: an article whose content hash is unchanged keeps its passages and
vectors from the current index; only new or changed articles are embedded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from index.ingest.articles import Article, load_corpus
from index.ingest.chunking import Chunk, Chunker
from index.search.embedding import Embedder, model_identity
from index.search.storage import Location, backend_at
from index.search.storage.base import BuildSpec, Changes, Embedded, passage_text_for_search
from index.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BuildProgress:
    """Where a build stands; handed to the progress callback as it moves."""

    stage: str = "reading"  # reading -> embedding -> writing -> done
    articles: int = 0
    articles_to_embed: int = 0
    texts_embedded: int = 0
    texts_to_embed: int = 0


@dataclass
class BuildReport:
    articles: int = 0
    passages: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    texts_embedded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class BuildOptions:
    """How a build reads, chunks and stores: the settings every caller must build with alike
    (``from_settings``); the defaults are ``Settings``'s."""

    chunk_tokens: int = Settings.chunk_tokens
    max_article_bytes: int = Settings.max_article_bytes
    approximate_above: int = Settings.approximate_above

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildOptions:
        return cls(settings.chunk_tokens, settings.max_article_bytes, settings.approximate_above)


def build(
    corpus_dir: Path,
    location: Location,
    embedder: Embedder,
    options: BuildOptions = BuildOptions(),
    full: bool = False,
    on_progress: Callable[[BuildProgress], None] | None = None,
) -> BuildReport:
    """Build the index of ``corpus_dir`` at ``location`` (a folder or a database URL) and
    make it current; the old one answers until then."""
    chunk_tokens = options.chunk_tokens
    started = time.monotonic()
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"The corpus folder {corpus_dir} does not exist or is not a folder."
        )
    progress = BuildProgress()
    notify = on_progress or (lambda _: None)
    model_id = model_identity(embedder.name)
    backend = backend_at(location)

    with backend.lock():
        notify(progress)
        corpus = load_corpus(corpus_dir, options.max_article_bytes)
        previous = {} if full else backend.hashes(model_id, chunk_tokens)

        report = BuildReport(articles=len(corpus.articles), skipped=corpus.skipped)
        report.removed = sorted(set(previous) - {a.id for a in corpus.articles})
        to_embed = [a for a in corpus.articles if previous.get(a.id) != a.content_hash]
        for article in to_embed:
            (report.changed if article.id in previous else report.added).append(article.id)

        chunked = {a.id: chunk_article(embedder, chunk_tokens, a) for a in to_embed}
        texts = [t for a in to_embed for t in texts_to_embed(a, chunked[a.id])]
        progress.stage, progress.articles = "embedding", len(corpus.articles)
        progress.articles_to_embed, progress.texts_to_embed = len(to_embed), len(texts)
        notify(progress)

        def advance(count: int) -> None:
            progress.texts_embedded += count
            notify(progress)

        vectors = embedder.encode(texts, progress=advance)
        report.texts_embedded = len(texts)

        embedded: dict[str, Embedded] = {}
        row = 0
        for article in to_embed:
            chunks = chunked[article.id]
            sentences = _sentences(chunks)
            passage_vectors = vectors[row : row + len(chunks)]
            row += len(chunks)
            sentence_vectors = vectors[row : row + len(sentences)]
            row += len(sentences)
            embedded[article.id] = Embedded(chunks, passage_vectors, sentences, sentence_vectors)

        progress.stage = "writing"
        notify(progress)
        spec = BuildSpec(
            embedder.name, model_id, embedder.dimension, chunk_tokens, options.approximate_above
        )
        changes = Changes(corpus.articles, embedded)
        manifest = backend.write(changes, spec, started)
    report.passages = manifest.passages
    report.seconds = round(time.monotonic() - started, 2)
    progress.stage = "done"
    notify(progress)
    log.info(
        "built %s: %d articles, %d passages (%d added, %d changed, %d removed) in %.1fs",
        backend,
        report.articles,
        report.passages,
        len(report.added),
        len(report.changed),
        len(report.removed),
        report.seconds,
    )
    return report


def chunk_article(embedder: Embedder, chunk_tokens: int, article: Article) -> list[Chunk]:
    # The model sees the title line too: title + passage must fit its window whole.
    title_tokens = embedder.count_tokens(passage_text_for_search(article.title, ""))
    budget = min(chunk_tokens, embedder.max_tokens - title_tokens)
    return Chunker(embedder.count_tokens, budget).chunk(article)


def texts_to_embed(article: Article, chunks: list[Chunk]) -> list[str]:
    """What the model embeds for one article: its passages, then its sentences."""
    passages = [passage_text_for_search(article.title, c.text) for c in chunks]
    return passages + _sentence_texts(article, _sentences(chunks))


def _sentence_texts(article: Article, spans: list[tuple[int, int]]) -> list[str]:
    """Each sentence as the model sees it: after the title and the sentence before it, which
    often names what "she" or "the company" refers to (+0.02 sentence accuracy on XQuAD)."""
    texts = []
    for i, (start, end) in enumerate(spans):
        before = article.text[spans[i - 1][0] : spans[i - 1][1]] + " " if i else ""
        texts.append(passage_text_for_search(article.title, before + article.text[start:end]))
    return texts


def _sentences(chunks: list[Chunk]) -> list[tuple[int, int]]:
    """The article's sentences in order, each once although passages overlap."""
    seen: dict[tuple[int, int], None] = {}
    for chunk in chunks:
        for span in chunk.sentences:
            seen.setdefault(span, None)
    return list(seen)
