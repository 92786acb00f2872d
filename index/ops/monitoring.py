"""What a running process tells its operators: Prometheus metrics (prometheus-client) and the
facts its health check is made of. The HTTP side (``/metrics``, ``/healthz``) is the bot's
(``bot/monitor.py``); this holds the figures, so the index code that has them updates them.

One registry per process (``Monitoring``), not prometheus-client's global one: tests start
several in one interpreter.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from index.db import one

log = logging.getLogger(__name__)

# Whole answers take 20 to 40 ms on 2 cores (BENCHMARKS.md): buckets around that, and the
# tail an alert would look at.
ANSWER_BUCKETS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)
STAGE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


class Monitoring:
    """The metrics of one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "newsdesk_questions", "Questions answered, by outcome", ["outcome"], registry=r
        )
        self.answer_seconds = Histogram(
            "newsdesk_answer_seconds", "Whole answers", buckets=ANSWER_BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            "newsdesk_answer_stage_seconds",
            "Time of an answer spent searching and reading",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.feeds_polled = Counter("newsdesk_feeds_polled", "Feeds polled", registry=r)
        self.feeds_failed = Counter("newsdesk_feeds_failed", "Feed polls that failed", registry=r)
        self.jobs = Gauge(
            "newsdesk_jobs", "Jobs in the queue, by state (todo, doing, failed)", ["state"],
            registry=r,
        )  # fmt: skip
        self.replica_lag = Gauge(
            "newsdesk_replica_lag_seconds",
            "How far the read replica is behind the primary (0 without one)",
            registry=r,
        )
        self.shards = Gauge(
            "newsdesk_shards_connected", "Gateway shards this process has connected", registry=r
        )
        self.shards_expected = Gauge(
            "newsdesk_shards_expected", "Gateway shards this process runs", registry=r
        )

    def answered(self, outcome: str, seconds: float, timings: dict[str, float]) -> None:
        self.questions.labels(outcome).inc()
        self.answer_seconds.observe(seconds)
        for stage, spent in timings.items():
            self.stage_seconds.labels(stage).observe(spent)

    def polled(self, feeds: int, failed: int) -> None:
        self.feeds_polled.inc(feeds)
        self.feeds_failed.inc(failed)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format."""
        return generate_latest(self.registry)


def replica_lag(url: str) -> float | None:
    """Seconds the hot standby at ``url`` is behind (0 when it has replayed all it received),
    or None when it cannot be asked."""
    import psycopg  # only a process with a replica asks

    try:
        with psycopg.connect(url, connect_timeout=2, autocommit=True) as connection:
            (lag,) = one(
                connection,
                "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                " ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END",
            )
    except psycopg.Error as error:
        log.warning("replica lag not read: %s", error)
        return None
    return float(lag or 0.0)
