"""Each server its own coverage (simcord): what one server's admins add is answered there only,
they change nothing of another's or of the shared coverage, and a member's filters narrow a
question. The same through the real bot process is in test_bot_process.py."""

from __future__ import annotations

import discord

from .conftest import embed_of, reply_of

HARBOUR = (
    "---\ntitle: Saltmere harbour dredging\ndate: 2026-09-04\nsource: The Saltmere Post\n---\n"
    "The Saltmere harbour board will dredge the Quillon channel this winter, its chair Orla "
    "Venn said on Friday."
)
SEED = "venezuela-dares-us-to-send-in-the-marines.txt"
QUESTION = "Who chairs the board that will dredge the Quillon channel?"


async def test_a_partner_server_keeps_to_its_own_coverage(
    simcord_env, server, bot_settings
) -> None:
    home, channel, reader, _ = server  # the home server: its admins are the operators
    partner = simcord_env.create_guild("Partner")
    lobby = partner.create_text_channel("lobby")
    managers = partner.create_role("managers", permissions=discord.Permissions(manage_guild=True))
    admin = partner.add_member(simcord_env.create_user("partner-admin"), roles=[managers])
    member = partner.add_member(simcord_env.create_user("partner-member"))

    added = embed_of(await admin.slash(lobby, "add", article=("harbour.md", HARBOUR.encode())))
    assert added.title == "Article added"
    assert "· 2 articles answer here ·" in added.footer.text  # its own and the shared one
    own = bot_settings.corpus_dir / "servers" / str(partner.id) / "saltmere-harbour-dredging.md"
    assert own.read_text() == HARBOUR, "filed under the partner's own coverage"

    there = embed_of(await member.slash(lobby, "ask", question=QUESTION))
    assert "Orla Venn" in there.description
    here = embed_of(await reader.slash(channel, "ask", question=QUESTION))
    assert "Saltmere" not in str(here.to_dict()), "never quoted, cited or named in another server"
    listed = embed_of(await reader.slash(channel, "sources"))
    assert "Saltmere" not in listed.description and listed.title == "Indexed articles (1)"
    mine = embed_of(await member.slash(lobby, "sources"))
    assert "Saltmere harbour dredging" in mine.description and "this server's own" in (
        mine.description
    )

    # Nor in its timelines: the story told here holds no line of the partner's article.
    told = embed_of(await reader.slash(channel, "timeline", topic="Quillon channel dredging"))
    assert "Saltmere" not in str(told.to_dict())
    theirs = embed_of(await member.slash(lobby, "timeline", topic="Quillon channel dredging"))
    assert "Orla Venn" in str(theirs.to_dict())

    # The partner's admin: the shared coverage and every server's index are not theirs.
    refused = await admin.slash(lobby, "reindex")
    assert refused.ephemeral and "Only the bot's operators" in refused.response.content
    assert await admin.autocomplete(lobby, "remove", "article", "venezuela") == []
    asked = await admin.slash(lobby, "remove", article=SEED)
    pressed = await admin.click(asked.response.message, label="Remove")
    assert "only operators change" in reply_of(pressed).content
    assert (bot_settings.corpus_dir / SEED).exists(), "nothing removed"

    # A member's filters: an outlet, offered from this server's coverage; one that leaves
    # nothing says so.
    outlets = await member.autocomplete(lobby, "ask", "source", "")
    assert [c["value"] for c in outlets] == ["The Saltmere Post", SEED]
    narrowed = embed_of(
        await member.slash(lobby, "ask", question=QUESTION, source="The Saltmere Post")
    )
    assert "Orla Venn" in narrowed.description
    empty = embed_of(await member.slash(lobby, "ask", question=QUESTION, since="2026-10-01"))
    assert empty.description == "No article since 1 Oct 2026 in this server's coverage."
    bad = await member.slash(lobby, "ask", question=QUESTION, until="the day after never")
    assert bad.ephemeral and "is not a date I can read" in bad.response.content
    unknown = await member.slash(lobby, "ask", question=QUESTION, source="The Nowhere Times")
    assert unknown.ephemeral and "is from 'The Nowhere Times'; its outlets: " in (
        unknown.response.content
    )

    # Its own article, its admin removes; the home server's operators answer the same after.
    asked = await admin.slash(lobby, "remove", article=f"servers/{partner.id}/{own.name}")
    await admin.click(asked.response.message, label="Remove")
    assert not own.exists()
    assert home.id != partner.id
