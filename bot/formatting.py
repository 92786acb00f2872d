"""Answer -> Discord embed, within Discord's limits, quoting article text safely.

Quoted text is escaped (markdown and mentions) before it is measured, so a cut never leaves
half a markdown sequence, and it is cut at a sentence or word boundary with an ellipsis.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

import discord

from bot.state import ServerSettings
from index.answer.records import Alternative, Answer
from index.ingest.feeds import Feed
from index.ops.feedback import REASONS, Rated
from index.ops.gaps import Gap
from index.search.build import BuildProgress, BuildReport
from index.search.storage.base import ArticleRecord
from index.stories.follows import Follow, News
from index.stories.timeline import Entry, Timeline

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MESSAGE_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
EMBED_TOTAL_LIMIT = 6000

ELLIPSIS = "…"
NO_MENTIONS = discord.AllowedMentions.none()
COLOUR_ANSWER = discord.Colour.blue()
COLOUR_UNSURE = discord.Colour.gold()
COLOUR_NOT_COVERED = discord.Colour.light_grey()


def safe(text: str) -> str:
    """Article or user text made inert: no markdown effects, no mention syntax."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def fit(text: str, limit: int) -> str:
    """``text`` escaped and, when too long, cut at a sentence or word with an ellipsis."""
    escaped = safe(text)
    if len(escaped) <= limit:
        return escaped
    # Escaping lengthens text: shrink the raw cut until its escaped form fits.
    cut = limit
    while cut > 0 and (excess := len(safe(text[:cut])) + len(ELLIPSIS) - limit) > 0:
        cut = max(0, cut - excess)
    head = text[:cut]
    sentence_end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    if sentence_end > cut * 0.6:
        return safe(head[: sentence_end + 1]) + " " + ELLIPSIS
    word_end = head.rfind(" ")
    if word_end > cut * 0.5:
        head = head[:word_end]
    return safe(head.rstrip()) + ELLIPSIS


def quote(text: str, limit: int) -> str:
    """A block quote of ``text`` (every line prefixed) that fits ``limit`` characters."""
    lines = max(1, text.count("\n") + 1)
    body = fit(re.sub(r"\n{2,}", "\n", text), max(1, limit - 2 * lines))
    return "\n".join(f"> {line}" if line.strip() else ">" for line in body.split("\n"))


def _source_line(title: str, url: str | None, limit: int) -> str:
    """The title, linked when the article has a web address, within ``limit`` characters."""
    name = fit(title, limit - len(url) - 8) if url else fit(title, limit)
    if url and url.startswith(("http://", "https://")) and len(name) + len(url) + 4 <= limit:
        return f"[{name}](<{url}>)"
    return name


def reported(date: str | None) -> str:
    """ " · reported 20 Nov 2026" for an ISO date ("" without one; other text as written)."""
    if not date:
        return ""
    try:
        shown = datetime.date.fromisoformat(date[:10]).strftime("%-d %b %Y")
    except ValueError:
        shown = date
    return f" · reported {safe(shown)}"


def _listed(names: Sequence[str]) -> str:
    """Names as a phrase: A; A or B; A, B or C."""
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def answer_embed(answer: Answer) -> discord.Embed:
    """The reply to a question: the short answer first (plainly marked when unsure, with the
    alternatives), what other reports said, then the passages behind it."""
    if answer.covered:
        source = _source_line(answer.article, answer.url, 300)
        short = fit(answer.text, 300)
        parts = [f"**{short}**" if answer.status == "sure" else f"Probably **{short}**"]
        if answer.sentence and answer.sentence != answer.text:
            parts.append(quote(answer.sentence, 1000))
        parts.append(f"— {source}{reported(answer.date)}")
        if answer.elsewhere:
            parts.append(f"That article does not mention {fit(_listed(answer.elsewhere), 300)}.")
        if answer.alternatives:
            parts.append("Not sure; it could also be:")
            parts += [_alternative_line(a, _year(answer.date)) for a in answer.alternatives]
        if answer.other_reports:
            parts.append(reports_line(answer))
        newer = answer.newer()
        if newer is not None and not answer.other_reports:
            parts.append(
                f"A newer report is among the passages below: **{fit(newer.title, 200)}**"
                f"{reported(newer.date)}. Figures may have changed since."
            )
        description = "\n".join(parts)
        colour = COLOUR_ANSWER if answer.status == "sure" else COLOUR_UNSURE
    else:
        if answer.unknown_names:
            said = (
                f"Nothing in the coverage I have mentions {fit(_listed(answer.unknown_names), 300)}"
                ", so it does not answer that."
            )
        elif answer.elsewhere:
            said = (
                f"The coverage I have mentions {fit(_listed(answer.elsewhere), 300)}, but not in "
                "what it says about this, so it does not answer that."
            )
        else:
            said = "The coverage I have does not answer that."
        description = said + " These are the closest passages, in case they help."
        colour = COLOUR_NOT_COVERED
    embed = discord.Embed(
        title=fit(answer.question, TITLE_LIMIT) or "Question",
        description=description[:DESCRIPTION_LIMIT],
        colour=colour,
    )
    footer = f"{len(answer.passages)} passages · {answer.seconds * 1000:.0f} ms"
    if answer.confidence is not None:
        footer = f"{answer.status.capitalize()} · {answer.confidence:.0%} likely right · {footer}"
    if answer.read_as:  # say how a follow-up was understood, so a misreading can be seen
        footer = f"Read with the thread's earlier questions as: {answer.read_as[:300]}\n{footer}"
    embed.set_footer(text=footer)
    budget = EMBED_TOTAL_LIMIT - len(embed.title or "") - len(description) - len(footer) - 50
    passages = answer.passages[:5]
    for index, passage in enumerate(passages):
        dated = reported(passage.date)
        name = fit(f"{passage.rank}. {passage.title}", FIELD_NAME_LIMIT - len(dated)) + dated
        share = min(FIELD_VALUE_LIMIT, (budget - len(name)) // (len(passages) - index))
        link = f"\n[source](<{passage.url}>)" if passage.url else ""
        value = quote(passage.text, share - len(link)) + link
        budget -= len(name) + len(value)
        embed.add_field(name=name, value=value, inline=False)
    return embed


def _alternative_line(alternative: Alternative, year: int | None) -> str:
    """ "• **23** (18 %) — “… the 23 it needed …” · Article · 3 Sep" """
    where = fit(alternative.article, 120) + (
        f" · {short_date(alternative.date, year)}" if alternative.date else ""
    )
    return (
        f"• **{fit(alternative.text, 150)}** ({alternative.confidence:.0%}) — "
        f"“{fit(alternative.sentence, 300)}” · {where}"
    )


def reports_line(answer: Answer) -> str:
    """ "Earlier reports: 11 (The Northern Ledger, 3 Sep) · 9 (The Meridian Courier, 3 Sep)";
    "Other reports" when some are not older than the answer. One report per figure, naming
    every outlet that gave it."""
    year = _year(answer.date)
    earlier = bool(answer.date) and all(
        r.date and r.date < (answer.date or "") for r in answer.other_reports
    )
    items = []
    for report in answer.other_reports:
        outlets = "; ".join(
            fit(o.source, 80) + (f", {short_date(o.date, year)}" if o.date else "")
            for o in [report, *report.also]  # the newest first
        )
        items.append(f"{fit(report.text, 80)} ({outlets})")
    label = "Earlier reports" if earlier else "Other reports"
    return fit_line(f"{label}: " + " · ".join(items), 1000)


def fit_line(text: str, limit: int) -> str:
    """A line already made safe, cut at a separator to ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" · ", 0, limit - 2)
    return (text[:cut] if cut > 0 else text[: limit - 2]) + " …"


def short_date(date: str, year: int | None = None) -> str:
    """ "3 Sep" for an ISO date of ``year`` ("3 Sep 2025" for another); other text as written."""
    try:
        day = datetime.date.fromisoformat(date[:10])
    except ValueError:
        return safe(date)
    shown = day.strftime("%-d %b")
    return shown if day.year == year else f"{shown} {day.year}"


def _year(date: str | None) -> int | None:
    try:
        return datetime.date.fromisoformat(date[:10]).year if date else None
    except ValueError:
        return None


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
        name = _source_line(article.title, article.url, 200)
        lines.append(f"• {name}{reported(article.date)} · {article.passages} passages")
    embed = discord.Embed(
        title=f"Indexed articles ({len(articles)})",
        description="\n".join(lines)[:DESCRIPTION_LIMIT] or "No articles are indexed.",
    )
    more = " · /sources page:N" if pages > 1 else ""
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


def added_embed(records: list[ArticleRecord], report: BuildReport) -> discord.Embed:
    """What /add indexed: the new article(s), with their passage counts; a web page fetched
    again says whether its story changed."""
    lines = [
        f"• {_source_line(r.title, r.url, 300)}{reported(r.date)} · {r.passages} passages"
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
        text=f"Indexed in {report.seconds:.1f} s · {report.articles} articles in all · "
        "answerable now"
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
    when = short_date(entry.date, _year(entry.date)) if entry.date else "undated"
    source = _source_line(entry.source, entry.url, 150)
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
