"""Members' filters, read from what they typed (``--server``, ``source:``, ``since:``,
``until:``), and what to say when a filter leaves nothing to answer from."""

from __future__ import annotations

from datetime import date

from index.errors import NewsdeskError
from index.ingest.articles import parse_date
from index.search.scope import Scope
from index.search.storage.base import Storage


class FilterError(NewsdeskError, ValueError):
    """A filter that cannot be read; the message says which and why, in one line."""


def read_scope(
    server: int | str | None = None,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    today: date | None = None,
) -> Scope:
    """The scope of a question: dates as the timeline reads them ("2025-09-10", "10 Sep",
    "last Monday"), a source as its name."""
    if isinstance(server, str):
        if not server.strip().isdigit():
            raise FilterError(f"{server!r} is not a server id (a number)")
        server = int(server)
    days = []
    for name, text in (("since", since), ("until", until)):
        day = parse_date(text, today) if text and text.strip() else None
        if text and text.strip() and day is None:
            raise FilterError(f"{name} {text!r} is not a date I can read (try 2025-09-10)")
        days.append(day)
    if days[0] and days[1] and days[0] > days[1]:
        raise FilterError(f"since {since!r} ({days[0]}) is after until {until!r} ({days[1]})")
    return Scope(server, (source or "").strip() or None, days[0], days[1])


def check_source(store: Storage, scope: Scope) -> None:
    """A ``FilterError`` when ``scope`` names an outlet that no article the asker may see is
    from (bad input, like a date that cannot be read), naming the outlets there are."""
    if not scope.source:
        return
    known = outlets(store, Scope(scope.server))
    if scope.source.casefold() not in {o.casefold() for o in known}:
        listed = ", ".join(known[:10]) + (" …" if len(known) > 10 else "")
        raise FilterError(
            f"no article in {_coverage(scope)} is from {scope.source!r}; its outlets: {listed}"
        )


def nothing_inside(store: Storage, scope: Scope) -> str | None:
    """What to tell a member whose filters leave no article ("No article from The Tolvern
    Echo since 10 Sep 2025 in this server's coverage."); None when some are left."""
    if not scope.narrowed or store.articles(scope):
        return None
    return f"No article {scope.describe()} in {_coverage(scope)}."


def outlets(store: Storage, scope: Scope) -> list[str]:
    """The outlets of the articles inside ``scope``, for a member to choose from."""
    return sorted({a.source for a in store.articles(scope) if a.source}, key=str.casefold)


def _coverage(scope: Scope) -> str:
    return "this server's coverage" if scope.server is not None else "the shared coverage"
