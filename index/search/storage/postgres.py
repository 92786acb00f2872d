"""The PostgreSQL backend: the index in a database with pgvector, shared by every process that
points at it (``NEWSDESK_DATABASE_URL``), nothing held per process but a connection per thread.

Tables (``newsdesk_*``, in the connection's schema: add ``?options=-csearch_path%3Dname`` to
the URL to keep several indexes in one database):

    newsdesk_meta       schema version, the manifest, BM25's average passage length
    newsdesk_articles   one row per article, with its content hash
    newsdesk_passages   text, offsets, BM25 length and the passage vector
    newsdesk_sentences  text, offsets and the sentence vector
    newsdesk_terms      (term, passage, count): BM25 computed in SQL, the same scores as the
                        folder's bm25s (Lucene's formula, k1 = 1.5, b = 0.75)

A build is one transaction: it deletes the rows of removed and changed articles and inserts
the new ones, so questions keep being answered from the old rows until it commits, and a build
killed midway leaves nothing. Builders take an advisory lock, so two never interleave. Dense
search is exact up to ``approximate_above`` passages, an HNSW index above; each question reads
one snapshot, so a build committing mid-question cannot mix two indexes in one answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from index.db import connect, migrate, one, postgres_version, redacted
from index.errors import IndexUnavailable
from index.search.lexical import tokenize
from index.search.scope import Scope
from index.search.storage.base import (
    FORMAT,
    REBUILD_HINT,
    ArticleRecord,
    Backend,
    BuildRunning,
    BuildSpec,
    Changes,
    LexicalHits,
    Manifest,
    PassageRecord,
    Storage,
    passage_text_for_search,
)

# bm25s's defaults (method "lucene"), so both backends rank alike.
K1, B = 1.5, 0.75
BUILD_LOCK = 7_302_118_201  # pg_advisory_lock key held by a builder
HNSW_NEIGHBOURS, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128  # as the folder's FAISS
# Memory for building the graph, for the build's transaction only (PostgreSQL takes what the
# graph needs, up to this): about 2.5 KB a passage at 384 dimensions, so 4 GB holds 1.5 million.
# With PostgreSQL's default 64 MB the graph of more than ~25,000 passages spills to disk and
# builds many times slower (BENCHMARKS.md has both).
HNSW_BUILD_MEMORY = "4GB"


def _version(connection: psycopg.Connection) -> int:
    return postgres_version(connection, "newsdesk_meta")


def _manifest(connection: psycopg.Connection) -> Manifest | None:
    row = connection.execute("SELECT value FROM newsdesk_meta WHERE key = 'manifest'").fetchone()
    return Manifest(**json.loads(row[0])) if row else None


class PostgresStorage(Storage):
    """The index in the database, read through one connection per thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._connections: list[psycopg.Connection] = []
        self._guard = threading.Lock()
        connection = self._connection()
        if _version(connection) == 0 or _manifest(connection) is None:
            raise IndexUnavailable(
                f"There is no index in the database {redacted(url)} yet. Build it with "
                "`python -m index build`."
            )

    @property
    def manifest(self) -> Manifest:
        """Read at each use: another process's build changes it."""
        manifest = _manifest(self._connection())
        if manifest is None:
            raise IndexUnavailable(
                f"The index database {redacted(self.url)} holds no complete build. {REBUILD_HINT}"
            )
        return manifest

    @property
    def where(self) -> str:
        return redacted(self.url)

    def _connection(self) -> psycopg.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = connect(self.url)
            register_vector(connection)
            connection.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
            # pgvector 0.8 scans on until k rows pass a scope's filter (before: fewer come).
            (version,) = one(
                connection, "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            )
            if tuple(map(int, version.split(".")[:2])) >= (0, 8):
                connection.execute("SET hnsw.iterative_scan = strict_order")
            self._local.connection = connection
            with self._guard:
                self._connections.append(connection)
        return connection

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        return self._connection().execute(sql, args).fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        connection = self._connection()
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            yield  # already inside one
            return
        with connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield

    def dense(self, query: np.ndarray, depth: int, scope: Scope | None = None) -> list[int]:
        dimension = len(query)
        inside, args = _inside(scope)
        rows = self._rows(
            f"SELECT p.id FROM newsdesk_passages p WHERE {inside}"
            f" ORDER BY p.embedding::vector({dimension}) <#> %s LIMIT %s",
            (*args, query.astype(np.float32), depth),
        )
        return [row[0] for row in rows]

    def passage_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        rows = self._rows(
            "SELECT id, -(embedding <#> %s) FROM newsdesk_passages WHERE id = ANY(%s)",
            (query.astype(np.float32), [int(i) for i in ids]),
        )
        return _in_order(ids, dict(rows))

    def best_sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        rows = self._rows(
            "SELECT p.id, max(-(s.embedding <#> %s)) FROM newsdesk_passages p"
            " JOIN newsdesk_sentences s"
            " ON s.id >= p.first_sentence AND s.id < p.first_sentence + p.sentence_count"
            " WHERE p.id = ANY(%s) GROUP BY p.id",
            (query.astype(np.float32), [int(i) for i in ids]),
        )
        return _in_order(ids, dict(rows))

    def sentence_cosines(self, ids: Sequence[int], query: np.ndarray) -> np.ndarray:
        rows = self._rows(
            "SELECT id, -(embedding <#> %s) FROM newsdesk_sentences WHERE id = ANY(%s)",
            (query.astype(np.float32), [int(i) for i in ids]),
        )
        return _in_order(ids, dict(rows))

    def sentence_vectors(self, ids: Sequence[int]) -> np.ndarray:
        rows = dict(
            self._rows(
                "SELECT id, embedding FROM newsdesk_sentences WHERE id = ANY(%s)",
                ([int(i) for i in ids],),
            )
        )
        # pgvector's adapter gives Vector objects (0.5) or arrays (older releases).
        vectors = [getattr(rows[int(i)], "to_numpy", lambda v=rows[int(i)]: v)() for i in ids]
        return np.array(vectors, dtype=np.float32).reshape(len(ids), -1)

    def lexical(
        self, question: str, depth: int, also: Sequence[int] = (), scope: Scope | None = None
    ) -> LexicalHits:
        words = tokenize([question])[0]  # a repeated word counts again, as in bm25s
        frequency, total, average_length = self._statistics(words)
        known = [w for w in words if frequency.get(w)]
        if not known:
            return LexicalHits([], {int(i): 0.0 for i in also}, 0.0)
        weights = _idf(frequency, total, known)
        terms = (known, [weights[w] for w in known], average_length)
        scored = (
            "WITH q(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[]))"
            f" SELECT t.passage_id, sum(q.idf * t.tf / (t.tf + {K1} * (1 - {B} + {B} * p.length"
            " / %s))) AS score FROM newsdesk_terms t JOIN q ON q.term = t.term"
            " JOIN newsdesk_passages p ON p.id = t.passage_id"
        )
        inside, args = _inside(scope)
        top = self._rows(
            scored + f" WHERE {inside} GROUP BY t.passage_id"
            " ORDER BY score DESC, t.passage_id LIMIT %s",
            (*terms, *args, depth),
        )
        scores = {int(i): 0.0 for i in also}
        if also:
            scores |= dict(
                self._rows(
                    scored + " WHERE t.passage_id = ANY(%s) GROUP BY t.passage_id",
                    (*terms, [int(i) for i in also]),
                )
            )
        scores |= dict(top)
        return LexicalHits([row[0] for row in top], scores, top[0][1] if top else 0.0)

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        frequency, total, _ = self._statistics(words)
        return _idf(frequency, total, words)

    def _statistics(self, words: Sequence[str]) -> tuple[dict[str, int], int, float]:
        """In one round trip: how many passages hold each word (absent: none), how many
        passages there are, and their average length (BM25's)."""
        frequency, total, average = self._rows(
            "SELECT coalesce((SELECT json_object_agg(term, n) FROM (SELECT term, count(*) AS n"
            " FROM newsdesk_terms WHERE term = ANY(%s) GROUP BY term) AS f), '{}'),"
            " (SELECT (value::json->>'passages')::integer FROM newsdesk_meta"
            " WHERE key = 'manifest'),"
            " (SELECT value::float8 FROM newsdesk_meta WHERE key = 'average_length')",
            (sorted(set(words)),),
        )[0]
        return frequency, total or 0, average or 1.0

    def knows(self, text: str, scope: Scope | None = None) -> bool:
        words = set(tokenize([text])[0])
        inside, args = _inside(scope)
        found = self._rows(
            "SELECT count(DISTINCT t.term) FROM newsdesk_terms t"
            " JOIN newsdesk_passages p ON p.id = t.passage_id"
            f" WHERE t.term = ANY(%s) AND {inside}",
            (sorted(words), *args),
        )[0][0]
        return found == len(words)

    def passages(self, ids: Sequence[int]) -> list[PassageRecord]:
        rows = self._rows(
            "SELECT p.id, p.article_id, a.title, a.source, a.url, a.date, p.start_char,"
            " p.end_char, p.text, p.first_sentence, p.sentence_count FROM newsdesk_passages p"
            " JOIN newsdesk_articles a ON a.id = p.article_id WHERE p.id = ANY(%s)",
            ([int(i) for i in ids],),
        )
        by_id = {row[0]: PassageRecord(*row) for row in rows}
        return [by_id[int(i)] for i in ids]

    def sentences(self, first: int, count: int) -> list[tuple[int, int, int, str]]:
        return self._rows(
            "SELECT id, start_char, end_char, text FROM newsdesk_sentences"
            " WHERE id >= %s AND id < %s ORDER BY id",
            (first, first + count),
        )

    def articles(self, scope: Scope | None = None) -> list[ArticleRecord]:
        where, args = scope.condition("%s") if scope else ("TRUE", [])
        rows = self._rows(
            "SELECT a.id, a.title, a.source, a.url, a.date, a.hash, a.passages"
            f" FROM newsdesk_articles a WHERE {where} ORDER BY a.date DESC NULLS LAST, a.title",
            args,
        )
        return [ArticleRecord(*row) for row in rows]

    def close(self) -> None:
        with self._guard:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


def _idf(frequency: dict[str, int], total: int, words: Sequence[str]) -> dict[str, float]:
    """Lucene's idf over ``total`` passages, as bm25s computes it."""
    return {
        w: float(np.log(1 + (total - frequency.get(w, 0) + 0.5) / (frequency.get(w, 0) + 0.5)))
        for w in words
    }


def _inside(scope: Scope | None) -> tuple[str, list[object]]:
    """The condition on a passage ``p`` that ``scope`` admits it, and its arguments."""
    if scope is None:
        return "TRUE", []
    where, args = scope.condition("%s")
    return f"p.article_id IN (SELECT a.id FROM newsdesk_articles a WHERE {where})", args


def _in_order(ids: Sequence[int], values: dict[int, float]) -> np.ndarray:
    return np.array([values[int(i)] for i in ids], dtype=np.float32)


class PostgresBackend(Backend):
    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return redacted(self.url)

    def exists(self) -> bool:
        with connect(self.url) as connection:
            return _version(connection) > 0 and _manifest(connection) is not None

    def open(self, model_id: str | None = None, dimension: int | None = None) -> PostgresStorage:
        with connect(self.url) as connection:
            migrate(connection, self.url)
        storage = PostgresStorage(self.url)
        manifest = storage.manifest
        if model_id is not None and manifest.model_id != model_id:
            raise IndexUnavailable(
                f"The index in {redacted(self.url)} was built with the model {manifest.model!r}, "
                f"not the one configured now. {REBUILD_HINT}"
            )
        if dimension is not None and manifest.dimension != dimension:
            raise IndexUnavailable(
                f"The index in {redacted(self.url)} holds {manifest.dimension}-dimensional "
                f"vectors; the configured model makes {dimension}. {REBUILD_HINT}"
            )
        return storage

    @contextmanager
    def lock(self) -> Iterator[None]:
        """A session advisory lock on a connection of its own, held for the whole build
        (embedding included); the database releases it if the builder dies."""
        with connect(self.url) as connection:
            if one(connection, "SELECT pg_is_in_recovery()")[0]:
                raise IndexUnavailable(
                    f"{redacted(self.url)} is a read replica: build on the primary "
                    "(NEWSDESK_DATABASE_URL); the replica follows it."
                )
            migrate(connection, self.url)
            (taken,) = one(connection, "SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,))
            if not taken:
                raise BuildRunning(
                    f"Another build of the index in {redacted(self.url)} is running; try again "
                    "when it ends."
                )
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))

    def hashes(self, model_id: str, chunk_tokens: int) -> dict[str, str]:
        with connect(self.url) as connection:
            manifest = _manifest(connection)
            if manifest is None or manifest.model_id != model_id:
                return {}
            if manifest.chunk_tokens != chunk_tokens or manifest.format != FORMAT:
                return {}
            return dict(connection.execute("SELECT id, hash FROM newsdesk_articles").fetchall())

    def write(self, changes: Changes, spec: BuildSpec, started: float) -> Manifest:
        """One transaction: the rows of removed and changed articles out, the new ones in."""
        kept = [a.id for a in changes.articles if a.id not in changes.embedded]
        with connect(self.url) as connection, connection.transaction():
            register_vector(connection)
            connection.execute("DELETE FROM newsdesk_articles WHERE NOT (id = ANY(%s))", (kept,))
            self._insert(connection, changes)
            manifest = self._finish(connection, spec, started)
        return manifest

    def _insert(self, connection: psycopg.Connection, changes: Changes) -> None:
        passage_id, sentence_id = one(
            connection,
            "SELECT (SELECT coalesce(max(id) + 1, 0) FROM newsdesk_passages),"
            " (SELECT coalesce(max(id) + 1, 0) FROM newsdesk_sentences)",
        )
        new = [a for a in changes.articles if a.id in changes.embedded]
        with connection.cursor() as cursor:
            with cursor.copy("COPY newsdesk_articles FROM STDIN") as copy:
                for article in new:
                    embedded = changes.embedded[article.id]
                    copy.write_row(
                        (article.id, article.title, article.source, article.url, article.date,
                         article.content_hash, len(embedded.chunks))
                    )  # fmt: skip
            sentences: list[tuple] = []
            passages: list[tuple] = []
            terms: list[tuple] = []
            for article in new:
                embedded = changes.embedded[article.id]
                first_of = {}
                for span, vector in zip(embedded.sentences, embedded.sentence_vectors, strict=True):
                    first_of[span] = sentence_id
                    text = article.text[span[0] : span[1]]
                    sentences.append((sentence_id, article.id, span[0], span[1], text, vector))
                    sentence_id += 1
                searchable = [
                    passage_text_for_search(article.title, c.text) for c in embedded.chunks
                ]
                for chunk, vector, words in zip(
                    embedded.chunks, embedded.passage_vectors, tokenize(searchable), strict=True
                ):
                    passages.append(
                        (passage_id, article.id, chunk.start, chunk.end, chunk.text,
                         first_of[chunk.sentences[0]], len(chunk.sentences), max(len(words), 1),
                         vector)
                    )  # fmt: skip
                    counts: dict[str, int] = {}
                    for word in words:
                        counts[word] = counts.get(word, 0) + 1
                    terms.extend((word, passage_id, tf) for word, tf in counts.items())
                    passage_id += 1
            for table, rows in (
                ("newsdesk_sentences", sentences),
                ("newsdesk_passages", passages),
                ("newsdesk_terms", terms),
            ):
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def _finish(self, connection: psycopg.Connection, spec: BuildSpec, started: float) -> Manifest:
        """Counts, BM25's average length, the HNSW index above the size, the manifest."""
        articles, passages, sentences, average = one(
            connection,
            "SELECT (SELECT count(*) FROM newsdesk_articles),"
            " (SELECT count(*) FROM newsdesk_passages), (SELECT count(*) FROM newsdesk_sentences),"
            " (SELECT coalesce(avg(length), 1) FROM newsdesk_passages)",
        )
        approximate = passages > spec.approximate_above
        if approximate:
            connection.execute(f"SET LOCAL maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
            connection.execute(
                "CREATE INDEX IF NOT EXISTS newsdesk_passages_hnsw ON newsdesk_passages USING hnsw"
                f" ((embedding::vector({spec.dimension})) vector_ip_ops)"
                f" WITH (m = {HNSW_NEIGHBOURS}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
        else:
            connection.execute("DROP INDEX IF EXISTS newsdesk_passages_hnsw")
        manifest = Manifest(
            model=spec.model,
            model_id=spec.model_id,
            dimension=spec.dimension,
            chunk_tokens=spec.chunk_tokens,
            articles=articles,
            passages=passages,
            sentences=sentences,
            faiss_index="pgvector HNSW" if approximate else "pgvector exact",
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            build_seconds=round(time.monotonic() - started, 3),
        )
        for key, value in (
            ("manifest", json.dumps(asdict(manifest))),
            ("average_length", str(average)),
        ):
            connection.execute(
                "INSERT INTO newsdesk_meta VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        return manifest
