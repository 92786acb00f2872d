"""Answer -> Discord embed, within Discord's limits, quoting article text safely.

Quoted text is escaped (markdown and mentions) before it is measured, so a cut never leaves
half a markdown sequence, and it is cut at a sentence or word boundary with an ellipsis.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

import discord

from index.answer.answerer import clean_question
from index.answer.records import Alternative, Answer

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


def plain_question(text: str) -> str:
    """A member's question as the index reads it: mentions of members, roles and channels
    (``<@123>``, ``<@&123>``, ``<#123>``) taken out, then one line of bounded plain text."""
    return clean_question(re.sub(r"<(@[!&]?|#)\d+>", " ", text))


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


def source_line(title: str, url: str | None, limit: int) -> str:
    """The title, linked when the article has a web address, within ``limit`` characters."""
    name = fit(title, limit - len(url) - 8) if url else fit(title, limit)
    if url and url.startswith(("http://", "https://")) and len(name) + len(url) + 4 <= limit:
        return f"[{name}](<{url}>)"
    return name


def reported(date: str | None) -> str:
    """ " · reported 20 Nov 2026" for an ISO date ("" without one; other text as written)."""
    return f" · reported {long_date(date)}" if date else ""


def long_date(date: str) -> str:
    """An ISO date as members read it ("10 Oct 2025"); another text as it is, made safe."""
    try:
        shown = datetime.date.fromisoformat(date[:10]).strftime("%-d %b %Y")
    except ValueError:
        shown = date
    return safe(shown)


def _listed(names: Sequence[str]) -> str:
    """Names as a phrase: A; A or B; A, B or C."""
    return " or ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def answer_embed(answer: Answer) -> discord.Embed:
    """The reply to a question: the short answer first (plainly marked when unsure, with the
    alternatives), what other reports said, then the passages behind it."""
    if answer.covered:
        source = source_line(answer.article, answer.url, 300)
        short = fit(answer.text, 300)
        parts = [f"**{short}**" if answer.status == "sure" else f"Probably **{short}**"]
        if answer.sentence and answer.sentence != answer.text:
            parts.append(quote(answer.sentence, 1000))
        parts.append(f"— {source}{reported(answer.date)}")
        if answer.as_of:
            parts.append(f"As of {long_date(answer.as_of)}, as asked: what was reported by then.")
        if answer.elsewhere:
            parts.append(f"That article does not mention {fit(_listed(answer.elsewhere), 300)}.")
        if answer.alternatives:
            parts.append("Not sure; it could also be:")
            parts += [_alternative_line(a, year_of(answer.date)) for a in answer.alternatives]
        parts += reports_lines(answer)
        newer = answer.newer()
        if newer is not None and not answer.other_reports:
            parts.append(
                f"A newer report is among the passages below: **{fit(newer.title, 200)}**"
                f"{reported(newer.date)}. Figures may have changed since."
            )
        description = "\n".join(parts)
        colour = COLOUR_ANSWER if answer.status == "sure" else COLOUR_UNSURE
    else:
        if answer.filtered:  # the member's filters left nothing to answer from
            said = fit(answer.filtered, 1000)
        elif answer.unknown_names:
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
        if answer.passages:
            said += " These are the closest passages, in case they help."
        description = said
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


# How each kind of other report (``Report.kind``) is introduced, in the order shown.
REPORT_LABELS = {
    "same day": "Outlets differ",
    "earlier": "Earlier reports",
    "later": "Later reports",
    "": "Other reports",
}


def reports_lines(answer: Answer) -> list[str]:
    """One line for each kind of other report: "Outlets differ: The Daily Meridian: 58 · The
    Tolvern Echo: 63, both 8 Sep" (another figure the same day); "Earlier reports: 11 (The
    Northern Ledger, 3 Sep) · 9 (The Meridian Courier, 3 Sep)"; "Later reports: ..." (an
    answer as of a past day); "Other reports" when undated. One report per figure, naming
    every outlet that gave it."""
    year = year_of(answer.date)
    lines = []
    for kind, label in REPORT_LABELS.items():
        reports = [r for r in answer.other_reports if r.kind == kind]
        if not reports:
            continue
        if kind == "same day":
            said = [(answer.source or answer.article, answer.text)]
            said += [(source, r.text) for r in reports for source, _ in r.sources()]
            items = [f"{fit(source, 80)}: {fit(text, 80)}" for source, text in said]
            day = short_date(answer.date, year) if answer.date else ""
            lines.append(fit_line(f"{label}: " + " · ".join(items), 990) + f", both {day}")
            continue
        items = []
        for report in reports:
            outlets = "; ".join(
                fit(source, 80) + (f", {short_date(date, year)}" if date else "")
                for source, date in report.sources()
            )
            items.append(f"{fit(report.text, 80)} ({outlets})")
        lines.append(fit_line(f"{label}: " + " · ".join(items), 1000))
    return lines


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


def year_of(date: str | None) -> int | None:
    try:
        return datetime.date.fromisoformat(date[:10]).year if date else None
    except ValueError:
        return None
