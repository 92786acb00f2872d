"""Guarded shards: no two live processes run the same Discord shard, and their IDENTIFYs are
spaced as Discord asks, across processes.

``ShardGuard``: a process holds, for its whole life, a PostgreSQL advisory lock per shard it
runs, on a connection of its own to the primary. A second process asking for one of them is
refused at start (``ShardTaken``). The locks go with the connection, so when it is lost the
guard takes them again at once (``check``): if another process took one meanwhile, this one
must stop its shards rather than run them beside it ("taken"); if it has them back, it goes
on ("held"). While the primary cannot be reached at all ("away": stopped, or failing over),
nobody can take the locks, and the shards go on answering from the replica; they are taken
again the moment it is back. (A process cut off from a primary that others still reach
would run beside a replacement started meanwhile: its /healthz says 503 all that time.)

``IdentifyGate``: Discord takes ``max_concurrency`` IDENTIFYs per 5 seconds, shard ``i`` in
bucket ``i % max_concurrency``; the gate holds the bucket's lock (in the same database) from
before a shard's IDENTIFY until 5 seconds after, whichever process asks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Literal

import psycopg

from index.db import one, redacted
from index.errors import NewsdeskError

log = logging.getLogger(__name__)

# Advisory lock keys (two int4: the kind, then the shard or bucket): the index's build lock and
# the state's migration lock use single bigint keys of their own.
SHARD_LOCK = 7_302_118_300
IDENTIFY_LOCK = 7_302_118_301
IDENTIFY_SECONDS = 5.0

Held = Literal["held", "away", "taken"]


class ShardTaken(NewsdeskError, RuntimeError):
    """Another live process runs one of this process's shards."""


def lock_key(kind: int, shard_count: int) -> int:
    """The first int4 of a lock: the kind and the shard count together, so that shard 0 of 2
    and shard 0 of 3 (a configuration being changed) do not block each other."""
    return (kind * 1000 + shard_count) % 2**31


class ShardGuard:
    def __init__(self, url: str, shard_ids: Sequence[int], shard_count: int) -> None:
        self.url, self.shard_ids, self.shard_count = url, sorted(shard_ids), shard_count
        self._connection: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take every shard's lock, or none: ``ShardTaken`` names the first one held."""
        with self._lock:
            self._connection = self._take()
        log.info("holding shards %s of %s", self.shard_ids, self.shard_count)

    def _take(self) -> psycopg.Connection:
        connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        key = lock_key(SHARD_LOCK, self.shard_count)
        for shard in self.shard_ids:
            (taken,) = one(connection, "SELECT pg_try_advisory_lock(%s, %s)", (key, shard))
            if not taken:
                connection.close()  # releases the ones taken so far
                raise ShardTaken(
                    f"Shard {shard} of {self.shard_count} is already run by another live process "
                    f"(its lock is held in {redacted(self.url)}). Give this process other "
                    "NEWSDESK_SHARD_IDS, or stop the other one first."
                )
        return connection

    def check(self) -> Held:
        """Whether the locks are held: "held" (still, or taken again after their connection
        was lost), "away" (the primary cannot be reached: nobody holds them) or "taken"
        (another process holds one now)."""
        with self._lock:
            if self._connection is not None and not self._connection.closed:
                try:
                    self._connection.execute("SELECT 1")
                    return "held"
                except psycopg.Error as error:
                    log.error("the shard locks' connection is lost: %s", error)
                    self._connection.close()
            self._connection = None
            try:
                self._connection = self._take()
            except ShardTaken as taken:
                log.error("%s", taken)
                return "taken"
            except psycopg.OperationalError:
                return "away"
        log.warning("shard locks taken again: holding shards %s", self.shard_ids)
        return "held"

    def release(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class IdentifyGate:
    def __init__(self, url: str, max_concurrency: int, shard_count: int) -> None:
        self.url, self.max_concurrency = url, max(1, max_concurrency)
        self._key = lock_key(IDENTIFY_LOCK, shard_count)
        self._connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
        self._lock = threading.Lock()

    def wait_turn(self, shard_id: int) -> None:
        """Block until the shard's bucket is free, then hold it for ``IDENTIFY_SECONDS``
        (released by a timer: the IDENTIFY goes out meanwhile). Call from a worker thread."""
        bucket = shard_id % self.max_concurrency
        with self._lock:
            self._connection.execute("SELECT pg_advisory_lock(%s, %s)", (self._key, bucket))
        timer = threading.Timer(IDENTIFY_SECONDS, self._release, (bucket,))
        timer.daemon = True
        timer.start()

    def _release(self, bucket: int) -> None:
        with self._lock:
            try:
                self._connection.execute("SELECT pg_advisory_unlock(%s, %s)", (self._key, bucket))
            except psycopg.Error as error:  # the lock went with the connection anyway
                log.warning("identify bucket %s not released: %s", bucket, error)

    def close(self) -> None:
        with self._lock:
            self._connection.close()
