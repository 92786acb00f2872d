"""The coverage-gaps report in Discord (simcord): questions recorded as members ask them,
/gaps for admins, the server's choice to keep no wording, and a gap that new coverage closes."""

from __future__ import annotations

import pytest

from .conftest import embed_of, reply_of
from .stories import TOLLS, TOLLS_ARTICLE

pytestmark = pytest.mark.simcord


async def test_gaps_lists_what_members_asked_and_marks_what_new_coverage_answers(
    simcord_env, server
) -> None:
    guild, channel, reader, editor = server
    simcord_env.bot.services.state.change(guild.id, 1, thread_mode="off")
    members = [reader, *(guild.add_member(simcord_env.create_user(f"m{n}")) for n in range(2))]
    for member, question in zip(members, TOLLS, strict=True):
        await member.slash(channel, "ask", question=question)
    await reader.slash(channel, "ask", question="Who walked out of the meeting?")  # answered
    await reader.send_dm("When do the Kellbridge bridge tolls start?")  # never recorded

    [gaps] = [c for c in await simcord_env.bot.tree.fetch_commands() if c.name == "gaps"]
    guild.set_command_permissions(gaps, {guild.default_role: True})  # shown: still refused
    refused = await reader.slash(channel, "gaps")
    assert refused.ephemeral and "Only server managers" in reply_of(refused).content
    shown = reply_of(await editor.slash(channel, "gaps", days=7, csv=True))
    report = shown.embeds[0]
    assert report.title == "Coverage gaps · last 7 days · whole server"
    first = report.description.split("\n\n")[0]
    assert first.startswith("**Asked 3 times by 3 members**") and "3 not covered" in first
    assert f"> {TOLLS[2]}" in first and f"> {TOLLS[1]}" in first
    assert "Answered now" not in first
    assert str(reader.id) not in report.description and "m0" not in report.description
    [attached] = shown.attachments
    assert attached.filename == "coverage-gaps.csv"

    await editor.slash(channel, "add", article=("tolls.md", TOLLS_ARTICLE.encode()))
    again = embed_of(await editor.slash(channel, "gaps")).description.split("\n\n")[0]
    assert again.startswith("**Asked 3 times by 3 members**")
    assert "✅ Answered now, from Kellbridge bridge tolls from March" in again


async def test_a_server_that_keeps_no_wording_has_only_counts(simcord_env, server) -> None:
    guild, channel, reader, editor = server
    simcord_env.bot.services.state.change(guild.id, 1, thread_mode="off")
    changed = reply_of(await editor.slash(channel, "settings", keep_questions=False))
    assert "kept 90 days, without their wording" in changed.embeds[0].description
    await reader.slash(channel, "ask", question=TOLLS[0])
    rows = simcord_env.bot.services.state_db.rows("SELECT question, vector, outcome FROM questions")
    assert rows == [(None, None, "not covered")]
    report = embed_of(await editor.slash(channel, "gaps")).description
    assert report.startswith("**Asked 1 time by 1 member**") and "wording not kept" in report
