"""Every card but the answer's: builds, sources, feeds, feedback, settings, timelines, follows
and coverage gaps, within Discord's limits by ``bot.formatting``'s helpers."""

from __future__ import annotations

import discord

from bot.formatting import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    fit,
    reported,
    safe,
    short_date,
    source_line,
    year_of,
)
from bot.state import ServerSettings
from index.ingest.collections import server_of
from index.ingest.feeds import Feed
from index.ops.feedback import REASONS, Rated
from index.ops.gaps import Gap
from index.search.build import BuildProgress, BuildReport
from index.search.storage.base import ArticleRecord
from index.stories.follows import Follow, News
from index.stories.timeline import Entry, Timeline


def progress_text(progress: BuildProgress) -> str:
    if progress.stage == "embedding":
        return (
            f"Reindexing: embedding {progress.texts_embedded}/{progress.texts_to_embed} passages "
            f"and sentences from {progress.articles_to_embed} new or changed articles "
            f"({progress.articles} articles in all)…"
        )
    return f"Reindexing: {progress.stage}…"


def report_embed(report: BuildReport) -> discord.Embed:
    embed = discord.Embed(title="Reindex complete", colour=discord.Colour.green())
    embed.description = (
        f"{report.articles} articles, {report.passages} passages, in {report.seconds:.1f} s.\n"
        f"Added {len(report.added)}, changed {len(report.changed)}, "
        f"removed {len(report.removed)}."
    )
    if report.skipped:
        lines = "\n".join(f"{safe(path)}: {safe(reason)}" for path, reason in report.skipped)
        embed.add_field(name="Skipped files", value=lines[:FIELD_VALUE_LIMIT], inline=False)
    return embed


def sources_embed(articles: list[ArticleRecord], page: int, per_page: int = 10) -> discord.Embed:
    pages = max(1, -(-len(articles) // per_page))
    page = min(max(page, 1), pages)
    shown = articles[(page - 1) * per_page : page * per_page]
    lines = []
    for article in shown:
        name = source_line(article.title, article.url, 200)
        own = " · this server's own" if server_of(article.id) is not None else ""
        lines.append(f"• {name}{reported(article.date)} · {article.passages} passages{own}")
    embed = discord.Embed(
        title=f"Indexed articles ({len(articles)})",
        description="\n".join(lines)[:DESCRIPTION_LIMIT] or "No articles are indexed.",
    )
    more = " · /sources page:N" if pages > 1 else ""
    if any(server_of(a.id) is not None for a in articles):
        more += " · the rest: the shared coverage, which every server answers from"
    embed.set_footer(text=f"Newest first · page {page} of {pages}{more}")
    return embed


def feeds_embed(feeds: list[Feed], interval_minutes: float) -> discord.Embed:
    """/feeds list: each feed with its id (for /feeds remove) and how its last poll went."""
    lines = []
    for feed in feeds:
        scope = "every server (NEWSDESK_FEEDS)" if feed.guild_id is None else "this server"
        if feed.last_run is None:
            status = "not polled yet"
        else:
            status = f"polled <t:{int(feed.last_run)}:R>, added {feed.last_added or 0}"
            if feed.last_error:
                status += f" · ⚠️ {fit(feed.last_error, 300)}"
        lines.append(f"`{feed.id}` <{fit(feed.url, 300)}> · {scope}\n  {status}")
    embed = discord.Embed(
        title=f"News feeds ({len(feeds)})",
        description="\n".join(lines)[:DESCRIPTION_LIMIT]
        or "No feeds are polled here. Add one with /feeds add.",
    )
    embed.set_footer(
        text=f"Polled every {interval_minutes:g} minutes · /feeds remove takes one out"
    )
    return embed


def added_embed(records: list[ArticleRecord], report: BuildReport, coverage: int) -> discord.Embed:
    """What /add indexed: the new article(s), with their passage counts; a web page fetched
    again says whether its story changed. ``coverage``: how many articles the server's
    questions are answered from now (never the whole index: other servers' are theirs)."""
    lines = [
        f"• {source_line(r.title, r.url, 300)}{reported(r.date)} · {r.passages} passages"
        for r in records
    ]
    ids = {r.id for r in records}
    if ids & set(report.added) or not records:
        title = "Article added" if len(records) == 1 else f"{len(records)} articles added"
    elif ids & set(report.changed):
        title = "Article updated: its old passages are replaced"
    else:
        title = "Already in the coverage, unchanged"
    embed = discord.Embed(
        title=title,
        description="\n".join(lines)[:DESCRIPTION_LIMIT],
        colour=discord.Colour.green(),
    )
    embed.set_footer(
        text=f"Indexed in {report.seconds:.1f} s · {coverage} articles answer here · answerable now"
    )
    return embed


def feedback_embed(counts: dict[str, int], worst: list[Rated]) -> discord.Embed:
    """/feedback: the votes in this server and the answers voted down most."""
    embed = discord.Embed(
        title="Feedback on answers",
        description=f"{counts['answers']} answers given · {counts['up']} 👍 · {counts['down']} 👎",
    )
    budget = EMBED_TOTAL_LIMIT - len(embed.title or "") - len(embed.description or "") - 100
    for item in worst[:5]:
        name = fit(f"{item.down}👎 {item.up}👍 · {item.question}", FIELD_NAME_LIMIT)
        reasons = ", ".join(REASONS[r] for r in item.reasons) or "no reason given"
        value = fit(f"Answered: {item.answer or '(not covered)'} — {reasons}", 300)
        if len(name) + len(value) > budget:
            break
        budget -= len(name) + len(value)
        embed.add_field(name=name, value=value, inline=False)
    if not worst:
        embed.add_field(name="Voted down", value="No answer has been voted down.", inline=False)
    return embed


def channel_list(ids: frozenset[int]) -> str:
    """Channels as Discord shows them: "#general, #news"."""
    return ", ".join(f"<#{c}>" for c in sorted(ids))


def settings_embed(server: ServerSettings, guild_name: str) -> discord.Embed:
    channels = channel_list(server.channel_ids) or "every channel"
    role = f"<@&{server.admin_role_id}>" if server.admin_role_id else "none (Manage Server only)"
    lines = [
        f"**Answer channels:** {channels}",
        f"**Thread mode:** {THREAD_MODE_TEXT[server.thread_mode]}",
        f"**Forum posts answered:** {'yes' if server.forum_answers else 'no'}",
        f"**Cooldown:** {server.cooldown_seconds:g} s per user",
        f"**Longest question:** {server.max_question_chars:,} characters",
        f"**Admin role:** {role}",
        f"**Feedback buttons:** {'shown' if server.feedback_buttons else 'hidden'}",
        f"**Questions for /gaps:** kept {server.retention_days} days, "
        + ("with their wording" if server.keep_questions else "without their wording"),
        "**Coverage:** questions here are answered from the shared coverage and this server's "
        "own. Its admins add to and remove from this server's own (/add, /remove, /feeds add); "
        "the bot's operators change the shared coverage and /reindex.",
    ]
    return discord.Embed(
        title=fit(f"Newsdesk settings for {guild_name}", TITLE_LIMIT),
        description="\n".join(lines)[:DESCRIPTION_LIMIT],
    )


THREAD_MODE_TEXT = {
    "off": "off (answers in place)",
    "mentions": "mentions (a mention opens a thread; /ask answers in place)",
    "all": "all (mentions and /ask open a thread)",
}


TIMELINE_PER_PAGE = 6


def timeline_pages(timeline: Timeline) -> int:
    return max(1, -(-len(timeline.entries) // TIMELINE_PER_PAGE))


def timeline_embed(timeline: Timeline, page: int) -> discord.Embed:
    """One page of a story's timeline, oldest first: each entry dated, quoted, sourced."""
    pages = timeline_pages(timeline)
    page = min(max(page, 1), pages)
    after = f" after {short_date(timeline.since)}" if timeline.since else ""
    title = fit(f"{'What is new' if timeline.since else 'Timeline'}: {timeline.query}", 200)
    shown = timeline.entries[(page - 1) * TIMELINE_PER_PAGE : page * TIMELINE_PER_PAGE]
    if not shown:
        description = (
            f"Nothing{' new' if timeline.since else ''} in the coverage about "
            f"“{fit(timeline.query, 200)}”{after}."
        )
    else:
        description = "\n\n".join(_entry_lines(entry) for entry in shown)
    embed = discord.Embed(
        title=fit(title + after, TITLE_LIMIT), description=description[:DESCRIPTION_LIMIT]
    )
    articles = len({e.article_id for e in timeline.entries})
    embed.set_footer(
        text=f"Page {page} of {pages} · {len(timeline.entries)} entries from {articles} articles"
        " · oldest first"
    )
    return embed


def _entry_lines(entry: Entry) -> str:
    """ "**5 Sep** · “The death toll … rose to 23 …” — The Northern Ledger · also: Courier" """
    when = short_date(entry.date, year_of(entry.date)) if entry.date else "undated"
    source = source_line(entry.source, entry.url, 150)
    also = ", ".join(fit(s.source, 60) for s in entry.also_in)
    return f"**{when}** · “{fit(entry.sentence, 450)}”\n— {source}" + (
        f" · also {also}" if also else ""
    )


def follow_embed(news: News) -> discord.Embed:
    """A followed story's new coverage: its newest entry or two, with their sources."""
    more = news.count - len(news.entries)
    embed = discord.Embed(
        title=fit(f"New in “{news.follow.topic}”", TITLE_LIMIT),
        description="\n\n".join(_entry_lines(e) for e in news.entries)[:DESCRIPTION_LIMIT],
        colour=discord.Colour.teal(),
    )
    embed.set_footer(
        text=(f"and {more} more · " if more > 0 else "")
        + "followed here with /follow · /unfollow to stop"
    )
    return embed


def following_embed(follows: list[Follow], guild_name: str) -> discord.Embed:
    lines = [
        f"`{f.id}` **{fit(f.topic, 100)}** in <#{f.channel_id}> · since <t:{int(f.created)}:d>"
        for f in follows
    ]
    return discord.Embed(
        title=fit(f"Stories followed in {guild_name} ({len(follows)})", TITLE_LIMIT),
        description="\n".join(lines)[:DESCRIPTION_LIMIT]
        or "No story is followed here. /follow topic: starts one.",
    )


GAPS_PER_PAGE = 5


def gaps_embed(gaps: list[Gap], page: int, days: int, where: str) -> discord.Embed:
    """A page of the coverage-gaps report: groups of questions the coverage does not answer
    well, largest first, with counts only (no member is named)."""
    pages = max(1, -(-len(gaps) // GAPS_PER_PAGE))
    page = min(max(page, 1), pages)
    blocks = []
    for gap in gaps[(page - 1) * GAPS_PER_PAGE : page * GAPS_PER_PAGE]:
        counted = gap.outcomes()
        how = ", ".join(f"{n} {name}" for name, n in counted.items() if n and name != "sure")
        head = (
            f"**Asked {gap.times} time{'s' * (gap.times != 1)} by {gap.members} "
            f"member{'s' * (gap.members != 1)}**, last <t:{int(gap.last)}:R> · {how}"
        )
        lines = [head]
        if gap.examples:
            lines += [f"> {fit(e, 200)}" for e in gap.examples]
        else:
            lines.append("> (wording not kept: this server keeps only how questions went)")
        if gap.answered:
            lines.append(f"✅ Answered now, from {fit(gap.closest or 'the coverage', 150)}")
        elif gap.closest:
            lines.append(f"Closest coverage: {fit(gap.closest, 150)}")
        blocks.append("\n".join(lines))
    embed = discord.Embed(
        title=fit(f"Coverage gaps · last {days} days · {where}", TITLE_LIMIT),
        description="\n\n".join(blocks)[:DESCRIPTION_LIMIT]
        or "No question went unanswered or was voted down in that time.",
    )
    asked = sum(g.times for g in gaps)
    embed.set_footer(
        text=f"Page {page} of {pages} · {len(gaps)} groups, {asked} questions "
        "(not covered, unsure or voted down) · counts only, no names"
    )
    return embed
