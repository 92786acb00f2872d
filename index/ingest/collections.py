"""Collections: every article belongs to the shared coverage or to one server's own.

Which one is in the article's id: a server's own articles are kept under ``servers/<server
id>/`` in the originals (the corpus folder, or the database), the shared coverage everywhere
else. So the articles of a deployment from before collections are the shared coverage as they
stand (nothing to migrate, nothing lost), an operator's corpus folder says at a glance whose
each file is, and every backend can filter on the id alone.
"""

from __future__ import annotations

SERVERS = "servers"


def server_of(article_id: str) -> int | None:
    """The server whose own article this is; None: the shared coverage."""
    parts = article_id.split("/", 2)
    if len(parts) == 3 and parts[0] == SERVERS and parts[1].isdigit():
        return int(parts[1])
    return None


def filed_under(server: int | None, article_id: str) -> str:
    """``article_id`` in ``server``'s own coverage (None: the shared coverage, as it is)."""
    return article_id if server is None else f"{SERVERS}/{server}/{article_id}"


def server_prefix(server: int) -> str:
    """What the ids of ``server``'s own articles start with."""
    return f"{SERVERS}/{server}/"


def refusal(article_id: str, server: int | None, operator: bool) -> str | None:
    """Why whoever acts for ``server`` (None: for the shared coverage) may not change the
    article ``article_id``, or None when they may: a server's admins change their server's own
    articles only; the shared coverage is the operators' (``operator``)."""
    owner = server_of(article_id)
    if not article_id.startswith(f"{SERVERS}/"):
        return None if operator else "it is in the shared coverage, which only operators change"
    if owner is not None and owner == server:
        return None
    return "it is another server's own article"
