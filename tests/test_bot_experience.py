"""Threads and follow-ups, feedback votes, /add and /remove, per-server /settings, in simcord."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import discord
import pytest
from simcord.builders import ChannelHandle

from bot.client import NewsdeskBot
from bot.services import Services
from index.ops.desk import Desk
from index.ops.feedback import FeedbackLog
from index.ops.jobs import LocalJobs
from index.statedb import StateUnavailable, open_state
from localpg import PostgresServer

from .conftest import embed_of, lead, reply_of
from .stories import write_corpus

pytestmark = pytest.mark.simcord

ARTICLE = (
    "---\ntitle: Quillborough harbour reopens\nurl: https://example.org/harbour\n---\n"
    "The harbour of Quillborough reopened on Monday after storm repairs costing 4 million euros."
)


def in_process(settings, tasks) -> LocalJobs:
    return LocalJobs(tasks)


def answer_in(channel: ChannelHandle) -> discord.Embed:
    message = channel.last_message
    assert message is not None and message.embeds, f"no answer in {channel!r}"
    return message.embeds[0]


def vote_counts(env, answer_id: int) -> tuple[int, int]:
    return FeedbackLog(open_state(env.bot.services.settings.state_db)).votes(answer_id)


async def test_a_mention_opens_a_thread_and_follow_ups_there_need_no_mention(
    simcord_env, server
) -> None:
    _, channel, reader, _ = server
    me = simcord_env.bot.user
    await reader.send(channel, f"{me.mention} how many votes were needed?")
    [thread] = channel.threads
    assert thread.name == "How many votes were needed?"
    assert answer_in(thread).title == "how many votes were needed?"
    await reader.send(thread, "And in the General Assembly?")
    followup = answer_in(thread)
    assert followup.title == "And in the General Assembly?"
    assert "as: how many votes were needed, in the General Assembly?" in followup.footer.text
    assert lead(followup.description) == "18"
    assert "simple majority of 18 votes" in followup.description
    # A follow-up of the follow-up keeps the conversation's topic.
    await reader.send(thread, "And in the 34-nation group?")
    footer = answer_in(thread).footer.text
    assert "as: how many votes were needed" in footer and "34-nation group?" in footer
    assert all(m.author.id == me.id for m in channel.history() if m.embeds)


async def test_ask_in_thread_mode_all_answers_in_a_new_thread(simcord_env, server) -> None:
    guild, channel, reader, _ = server
    simcord_env.bot.services.state.change(guild.id, 1, thread_mode="all")
    result = await reader.slash(channel, "ask", question="Who walked out of the meeting?")
    [thread] = channel.threads
    assert thread.mention in reply_of(result).content
    assert lead(answer_in(thread).description) == "Delcy Rodriguez"
    await reader.send(thread, "Who did she call the boss?")
    assert lead(answer_in(thread).description) == "Sullivan"


@pytest.mark.parametrize("failure", [KeyError("id"), discord.DiscordServerError])
async def test_a_thread_that_cannot_be_opened_gets_the_answer_in_place(
    simcord_env, server, monkeypatch, caplog, failure
) -> None:
    """An HTTP error or a response the library cannot read: the member still gets the answer."""
    _, channel, reader, _ = server
    me = simcord_env.bot.user
    if failure is discord.DiscordServerError:
        failure = discord.DiscordServerError(
            type("Response", (), {"status": 500, "reason": "Server Error"})(), "boom"
        )

    async def fails(*args, **kwargs):
        raise failure

    monkeypatch.setattr(discord.Message, "create_thread", fails)
    await reader.send(channel, f"{me.mention} who walked out of the meeting?")
    assert channel.threads == []
    assert lead(answer_in(channel).description) == "Delcy Rodriguez"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_the_bot_keeps_out_of_threads_it_did_not_start(simcord_env, server) -> None:
    guild, channel, reader, _ = server
    simcord_env.backend.create_thread(channel.id, "Weekend plans", reader.id)
    await simcord_env.settle()
    [thread] = channel.threads
    await reader.send(thread, "who walked out of the meeting?")
    assert [m.author.id for m in thread.history()] == [reader.id]
    await reader.send(thread, f"{simcord_env.bot.user.mention} who walked out of the meeting?")
    assert lead(answer_in(thread).description) == "Delcy Rodriguez"
    await reader.send(thread, "and how many votes were needed?")
    assert thread.last_message.author.id == reader.id, "a mention is not an invitation to stay"


async def test_votes_are_stored_once_per_user_changeable_and_survive_a_restart(
    simcord_env, server, bot_settings, embedder
) -> None:
    _, channel, reader, editor = server
    simcord_env.bot.services.state.change(server[0].id, 1, thread_mode="off")
    await reader.slash(channel, "ask", question="How many votes were needed?")
    answer = channel.last_message
    up = next(c for row in answer.components for c in row.children if c.emoji.name == "👍")
    answer_id = int(up.custom_id.split(":")[1])

    await reader.click(answer, custom_id=f"vote:{answer_id}:1")
    await reader.click(answer, custom_id=f"vote:{answer_id}:1")  # the same vote twice: one vote
    assert vote_counts(simcord_env, answer_id) == (1, 0)
    labels = {
        c.emoji.name: c.label for row in channel.last_message.components for c in row.children
    }
    assert labels == {"👍": "1", "👎": None}, "the buttons show the counts"

    down = await reader.click(channel.last_message, custom_id=f"vote:{answer_id}:0")
    assert vote_counts(simcord_env, answer_id) == (0, 1), "a second click changes the vote"
    why = reply_of(down)
    assert why.ephemeral and "What was wrong" in why.content
    noted = await reader.select(why.message, ["wrong_answer"], custom_id=f"why:{answer_id}")
    assert "wrong answer" in noted.response.content

    # A new bot process, as after a restart: the old message's buttons still work.
    restarted = NewsdeskBot(Services.build(bot_settings, Desk(bot_settings, embedder)))
    await simcord_env.restart_bot(restarted)
    await editor.click(channel.last_message, custom_id=f"vote:{answer_id}:0")
    assert vote_counts(simcord_env, answer_id) == (0, 2)
    with sqlite3.connect(bot_settings.state_db) as db:
        voters = [row[0] for row in db.execute("SELECT voter FROM votes")]
        question, passages = db.execute("SELECT question, passages FROM answers").fetchone()
    assert len(voters) == 2 and str(reader.id) not in voters and str(editor.id) not in voters
    assert question == "How many votes were needed?" and "the 23 it needed" in passages

    report = await editor.slash(channel, "feedback")
    embed = report.response.embeds[0]
    assert report.ephemeral and "0 👍 · 2 👎" in embed.description
    assert "How many votes were needed?" in embed.fields[0].name
    assert "Wrong answer" in embed.fields[0].value


async def test_answers_are_delivered_while_the_state_database_is_away(
    simcord_env, server, bot_settings, embedder, caplog
) -> None:
    """The state in a real PostgreSQL that stops mid-conversation: answers still come, without
    vote buttons, with the server's settings as last read; when it is back, so are they."""
    database = PostgresServer()
    database.start()
    try:
        settings = replace(bot_settings, database_url=database.database("state"))
        # The index from its folder (the desk's settings), the state in PostgreSQL; the jobs
        # in-process (simcord waits for every task to settle, a queue's worker never does).
        bot = NewsdeskBot(Services.build(settings, Desk(bot_settings, embedder)), jobs=in_process)
        await simcord_env.restart_bot(bot)
        guild, channel, reader, editor = server
        bot.services.state.change(guild.id, 1, thread_mode="off")
        await reader.slash(channel, "ask", question="How many votes were needed?")
        assert channel.last_message.components, "vote buttons while the database is up"

        answered = channel.last_message
        answer_id = int(answered.components[0].children[0].custom_id.split(":")[1])

        database.halt()
        result = await reader.slash(channel, "ask", question="Who walked out of the meeting?")
        assert lead(embed_of(result).description) == "Delcy Rodriguez"
        assert not channel.last_message.components
        assert channel.threads == [], "thread_mode off, as last read"
        assert "answer sent without vote buttons" in caplog.text
        vote = await reader.click(answered, custom_id=f"vote:{answer_id}:1")
        said = reply_of(vote)
        assert said.ephemeral and "cannot be recorded just now" in said.content
        # An admin's commands on the database: told so, not apologised to.
        for command, options in [("feedback", {}), ("settings", {"cooldown": 5.0})]:
            told = await editor.slash(channel, command, **options)
            assert told.ephemeral and "not answering just now" in told.response.content, command
        assert "Traceback" not in caplog.text

        database.resume()
        await reader.slash(channel, "ask", question="Where was the meeting held?")
        assert channel.last_message.components, "the buttons are back with the database"
    finally:
        database.stop()


async def test_a_state_database_that_hangs_is_given_up_in_time(
    bot_settings, embedder, caplog
) -> None:
    """The state in a real PostgreSQL whose processes are stopped in place: its connections
    stay open and nothing answers. Each state call is given up after STATE_SECONDS as
    StateUnavailable, which the answer path handles as it does a database that is away (the
    test above); a server's settings come as last read. (Not in simcord: it waits for the
    bot's threads to settle, and this one waits on the database until it is thawed.)"""
    from bot.services import STATE_SECONDS

    database = PostgresServer()
    database.start()
    try:
        settings = replace(bot_settings, database_url=database.database("state"))
        bot = NewsdeskBot(Services.build(settings, Desk(bot_settings, embedder)))
        bot.services.state.change(7, 1, thread_mode="off")
        assert (await bot.services.server(7)).thread_mode == "off"

        database.freeze()
        started = time.monotonic()
        assert (await bot.services.server(7)).thread_mode == "off", "as last read"
        with pytest.raises(StateUnavailable, match="did not answer"):
            await bot.services.state_call(bot.services.state.conversation, 42)
        waited = time.monotonic() - started
        assert 2 * STATE_SECONDS <= waited < 2 * STATE_SECONDS + 1, waited
        assert "settings as last read" in caplog.text
        database.thaw()
        assert (await bot.services.server(7)).thread_mode == "off"
        assert await bot.services.state_call(bot.services.state.conversation, 42) is None, (
            "answers again"
        )
        await bot.close()
    finally:
        database.thaw()
        database.stop()


@pytest.mark.parametrize("command", ["add", "remove", "settings", "feedback"])
async def test_non_admins_are_refused_every_admin_command(
    simcord_env, server, command: str
) -> None:
    guild, channel, reader, _ = server
    assert command not in reader.available_commands(channel)  # hidden by Discord by default
    # A server admin may show the command to everyone: the bot still refuses.
    [shown] = [c for c in await simcord_env.bot.tree.fetch_commands() if c.name == command]
    guild.set_command_permissions(shown, {guild.default_role: True})
    options = {
        "add": {"article": ("harbour.md", ARTICLE.encode())},
        "remove": {"article": "venezuela-dares-us-to-send-in-the-marines.txt"},
    }.get(command, {})
    result = await reader.slash(channel, command, **options)
    assert result.ephemeral and "Only server managers" in result.response.content
    assert sorted(p.name for p in simcord_env.bot.services.settings.corpus_dir.iterdir()) == [
        "venezuela-dares-us-to-send-in-the-marines.txt"
    ]


async def test_an_answer_says_how_sure_it_is_and_shows_what_else_it_could_be(
    simcord_env, server
) -> None:
    _, channel, reader, _ = server
    simcord_env.bot.services.state.change(server[0].id, 1, thread_mode="off")
    unsure = embed_of(await reader.slash(channel, "ask", question="How many votes were needed?"))
    lines = unsure.description.split("\n")
    assert lines[0] == "Probably **18**" and lead(unsure.description) == "18"
    assert "Not sure; it could also be:" in lines
    others = [line for line in lines if line.startswith("• ")]
    assert 1 <= len(others) <= 2 and any(line.startswith("• **23** (") for line in others)
    assert "fell three votes shy of the 23 it needed" in unsure.description
    assert unsure.footer.text.startswith("Unsure · ") and "% likely right" in unsure.footer.text
    assert unsure.colour == discord.Colour.gold()
    sure = embed_of(await reader.slash(channel, "ask", question="How many people have died?"))
    assert sure.description.startswith("**74**") and sure.footer.text.startswith("Sure · ")
    assert "could also be" not in sure.description


async def test_earlier_reports_of_a_figure_are_listed_with_their_outlets_and_dates(
    simcord_env, server, bot_settings
) -> None:
    _, channel, reader, editor = server
    write_corpus(bot_settings.corpus_dir)
    assert embed_of(await editor.slash(channel, "reindex")).title == "Reindex complete"
    answer = embed_of(
        await reader.slash(
            channel, "ask", question="How many people died in the Kellbridge floods?"
        )
    )
    assert lead(answer.description) == "Twenty-three"
    [line] = [x for x in answer.description.split("\n") if x.startswith("Earlier reports: ")]
    assert sorted(line.removeprefix("Earlier reports: ").split(" · ")) == [
        "11 (The Northern Ledger, 3 Sep)",
        "nine (The Meridian Courier, 3 Sep)",
    ]
    assert "reported 5 Sep 2026" in answer.description
    stranger = embed_of(
        await reader.slash(
            channel, "ask", question="What did the mayor of Ashford say about the floods?"
        )
    )
    assert stranger.description.startswith(
        "The coverage I have mentions Ashford, but not in what it says about this"
    )


async def test_an_attached_article_is_answerable_at_once(simcord_env, server, bot_settings) -> None:
    _, channel, reader, editor = server
    result = await editor.slash(
        channel, "add", article=("../../etc/evil name.md", ARTICLE.encode())
    )
    embed = embed_of(result)
    assert embed.title == "Article added"
    assert "Quillborough harbour reopens" in embed.description and "passages" in embed.description
    saved = sorted(p.name for p in bot_settings.corpus_dir.iterdir())
    assert saved == [
        "quillborough-harbour-reopens.md",
        "venezuela-dares-us-to-send-in-the-marines.txt",
    ]
    answer = embed_of(await reader.slash(channel, "ask", question="When did the harbour reopen?"))
    assert lead(answer.description) == "Monday"


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" + bytes(200), "binary file"),
        ("empty.md", b"   \n", "empty file"),
        ("latin1.txt", "Caf\xe9 cr\xe8me".encode("latin-1"), "not UTF-8"),
        ("notes.pdf", b"%PDF-1.7", "not an article format"),
        ("big.txt", b"news " * 500_000, "the limit is 2,000,000"),
    ],
)
async def test_an_unreadable_or_oversized_attachment_is_refused_and_nothing_written(
    simcord_env, server, bot_settings, name: str, data: bytes, why: str
) -> None:
    _, channel, _, editor = server
    before = sorted(p.name for p in bot_settings.corpus_dir.rglob("*"))
    result = await editor.slash(channel, "add", article=(name, data))
    assert why in reply_of(result).content
    assert sorted(p.name for p in bot_settings.corpus_dir.rglob("*")) == before


async def test_remove_offers_titles_and_asks_to_confirm(simcord_env, server, bot_settings) -> None:
    _, channel, reader, editor = server
    await editor.slash(channel, "add", article=("harbour.md", ARTICLE.encode()))
    choices = await editor.autocomplete(channel, "remove", "article", "harbour")
    assert choices == [
        {"name": "Quillborough harbour reopens", "value": "quillborough-harbour-reopens.md"}
    ]
    [command] = [c for c in await simcord_env.bot.tree.fetch_commands() if c.name == "remove"]
    server[0].set_command_permissions(command, {server[0].default_role: True})
    assert await reader.autocomplete(channel, "remove", "article", "harbour") == []

    asked = await editor.slash(channel, "remove", article="quillborough-harbour-reopens.md")
    assert asked.ephemeral and "Quillborough harbour reopens" in asked.response.content
    cancelled = await editor.click(asked.response.message, label="Cancel")
    assert "nothing was removed" in cancelled.response.content
    assert len(simcord_env.bot.services.desk.articles()) == 2

    asked = await editor.slash(channel, "remove", article="quillborough-harbour-reopens.md")
    await editor.click(asked.response.message, label="Remove")
    assert [a.title for a in simcord_env.bot.services.desk.articles()] == [
        "Venezuela dares us to send in the marines"
    ]
    assert not (bot_settings.corpus_dir / "quillborough-harbour-reopens.md").exists()
    kept = list((bot_settings.corpus_dir / ".removed").iterdir())
    assert len(kept) == 1 and kept[0].read_text() == ARTICLE, "moved aside, not destroyed"
    answer = embed_of(await reader.slash(channel, "ask", question="When did the harbour reopen?"))
    assert "Quillborough" not in answer.description


async def test_settings_apply_only_to_their_own_server(simcord_env, server) -> None:
    guild, channel, reader, editor = server
    other = simcord_env.create_guild("Elsewhere")
    elsewhere = other.create_text_channel("general")
    visitor = other.add_member(simcord_env.create_user("visitor"))
    quiet = guild.create_text_channel("quiet")

    shown = await editor.slash(channel, "settings")
    assert shown.ephemeral and "Thread mode" in shown.response.embeds[0].description
    changed = await editor.slash(
        channel,
        "settings",
        cooldown=60.0,
        max_question_chars=40,
        remove_channel=quiet,
        add_channel=channel,
        thread_mode="off",
        feedback_buttons=False,
    )
    description = changed.response.embeds[0].description
    assert "60 s" in description and channel.mention in description
    assert "Changed:" in changed.response.content

    first = await reader.slash(channel, "ask", question="Who walked out of the meeting?")
    assert lead(embed_of(first).description) == "Delcy Rodriguez"
    assert not channel.last_message.components, "feedback buttons are off here"
    again = await reader.slash(channel, "ask", question="How many votes were needed?")
    assert again.ephemeral and "try again in 60 s" in again.response.content
    elsewhere_here = await reader.slash(quiet, "ask", question="Who walked out?")
    assert elsewhere_here.ephemeral and channel.mention in elsewhere_here.response.content
    too_long = await editor.slash(
        channel, "ask", question="Who walked out of the meeting of the OAS?"
    )
    assert too_long.ephemeral and "under 40" in too_long.response.content

    # The other server keeps the defaults: no cooldown here, buttons shown, any channel.
    for question in ("Who walked out of the meeting of the OAS?", "How many votes were needed?"):
        result = await visitor.slash(elsewhere, "ask", question=question)
        assert not result.ephemeral
    assert elsewhere.last_message.components
    with sqlite3.connect(simcord_env.bot.services.settings.state_db) as db:
        logged = db.execute("SELECT guild_id, user_id, name FROM settings_changes").fetchall()
    assert {(g, u) for g, u, _ in logged} == {(guild.id, editor.id)}
    assert {n for _, _, n in logged} == {
        "cooldown_seconds",
        "max_question_chars",
        "channel_ids",
        "thread_mode",
        "feedback_buttons",
    }


async def test_an_admin_role_set_in_settings_grants_the_admin_commands(simcord_env, server) -> None:
    guild, channel, reader, editor = server
    moderators = guild.create_role("moderators")
    moderator = guild.add_member(simcord_env.create_user("moderator"), roles=[moderators])
    [command] = [c for c in await simcord_env.bot.tree.fetch_commands() if c.name == "feedback"]
    guild.set_command_permissions(command, {moderators: True})
    refused = await moderator.slash(channel, "feedback")
    assert "Only server managers" in refused.response.content
    await editor.slash(channel, "settings", admin_role=moderators)
    allowed = await moderator.slash(channel, "feedback")
    assert allowed.response.embeds[0].title == "Feedback on answers"


async def test_feeds_are_for_admins_and_a_local_feed_is_refused_by_the_guard(
    simcord_env, server, news_site
) -> None:
    guild, channel, reader, editor = server
    [feeds] = [c for c in await simcord_env.bot.tree.fetch_commands() if c.name == "feeds"]
    guild.set_command_permissions(feeds, {guild.default_role: True})
    refused = await reader.slash(channel, "feeds list")
    assert refused.ephemeral and "Only server managers" in refused.response.content

    # The guard is on here, as in production: the site on 127.0.0.1 is refused, privately.
    url = news_site.url("/rss.xml")
    added = await editor.slash(channel, "feeds add", url=url)
    assert added.ephemeral
    assert "could not be read" in reply_of(added).content
    assert "private or local address" in reply_of(added).content
    assert news_site.requests == []
    listed = embed_of(await editor.slash(channel, "feeds list"))
    assert url in listed.description and "this server" in listed.description
    assert "private or local address" in listed.description
    again = await editor.slash(channel, "feeds add", url=url)
    assert "already polled" in reply_of(again).content
    [feed] = simcord_env.bot.services.feeds.listed(guild.id)
    removed = await editor.slash(channel, "feeds remove", feed=feed.id)
    assert "No longer polling" in reply_of(removed).content
    assert simcord_env.bot.services.feeds.listed(guild.id) == []


async def test_an_article_address_on_the_local_network_is_refused_privately(
    simcord_env, server, bot_settings, news_site
) -> None:
    _, channel, _, editor = server
    before = sorted(p.name for p in bot_settings.corpus_dir.rglob("*"))
    result = await editor.slash(channel, "add", url=news_site.url("/news/floods-monday"))
    assert result.ephemeral and "private or local address" in reply_of(result).content
    neither = await editor.slash(channel, "add")
    assert "one of the two" in neither.response.content
    assert sorted(p.name for p in bot_settings.corpus_dir.rglob("*")) == before
    assert news_site.requests == []
