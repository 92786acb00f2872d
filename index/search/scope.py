"""What one search may return: the shared coverage and the asking server's own
(``index.ingest.collections``), narrowed by outlet and publication date when a member asks.

Every backend filters inside its index with the same condition (``Scope.condition``), so a
server's question never sees another server's passages, not even as a candidate to drop."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from index.ingest.collections import SERVERS, server_prefix


@dataclass(frozen=True)
class Scope:
    """``server``: the server asking (its own coverage too), None: the shared coverage only
    (a direct message, the CLI without ``--server``). ``since`` / ``until``: ISO dates, both
    included; an undated article is outside any date range."""

    server: int | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        for day in (self.since, self.until):
            if day is not None:
                datetime.date.fromisoformat(day)  # a ValueError for the caller to word
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since {self.since} is after until {self.until}")

    @property
    def narrowed(self) -> bool:
        """Whether a member's filter narrows it (beyond whose coverage it is)."""
        return bool(self.source or self.since or self.until)

    def admits(self, article_id: str, source: str, date: str | None) -> bool:
        """Whether an article is inside: what ``condition`` says, in Python."""
        servers = f"{SERVERS}/"
        mine = self.server is not None and article_id.startswith(server_prefix(self.server))
        if article_id.startswith(servers) and not mine:
            return False
        if self.source and source.casefold() != self.source.casefold():
            return False
        day = (date or "")[:10]
        if (self.since or self.until) and not day:
            return False
        return not (self.since and day < self.since) and not (self.until and day > self.until)

    def condition(
        self, mark: str, article: str = "a.id", source: str = "a.source", date: str = "a.date"
    ) -> tuple[str, list[object]]:
        """The SQL condition (``mark``: the driver's placeholder, "?" or "%s") over an
        articles table's id, source and date columns, and its arguments."""
        # substr, not LIKE: SQLite's LIKE ignores case, PostgreSQL's does not.
        servers = f"{SERVERS}/"
        own = f"substr({article}, 1, {len(servers)}) <> {mark}"
        args: list[object] = [servers]
        if self.server is not None:
            prefix = server_prefix(self.server)
            own = f"({own} OR substr({article}, 1, {len(prefix)}) = {mark})"
            args.append(prefix)
        parts = [own]
        if self.source:
            parts.append(f"lower({source}) = lower({mark})")
            args.append(self.source)
        if self.since:
            parts.append(f"substr({date}, 1, 10) >= {mark}")
            args.append(self.since)
        if self.until:
            parts.append(f"substr({date}, 1, 10) <= {mark}")
            args.append(self.until)
        return " AND ".join(parts), args

    def describe(self) -> str:
        """The filters in words: "from The Tolvern Echo since 9 Sep 2025"."""
        words = []
        if self.source:
            words.append(f"from {self.source}")
        if self.since:
            words.append(f"from {_day(self.since)}" if self.until else f"since {_day(self.since)}")
        if self.until:
            words.append(f"to {_day(self.until)}" if self.since else f"until {_day(self.until)}")
        return " ".join(words)


def _day(iso: str) -> str:
    return datetime.date.fromisoformat(iso).strftime("%-d %b %Y")
