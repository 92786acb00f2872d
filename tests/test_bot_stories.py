"""Following a story in Discord (simcord): /timeline and its pages, "what's new since",
/follow with the posts new coverage brings, /following and /unfollow."""

from __future__ import annotations

import pytest

from bot.client import NewsdeskBot
from bot.services import Services
from index.ops.desk import Desk
from index.stories.follows import FollowBook

from .conftest import embed_of, reply_of
from .stories import FLOODS, STRIKE, markdown, write_corpus

pytestmark = pytest.mark.simcord


@pytest.fixture
def stories(bot_settings):
    """The seed corpus plus the flood and strike stories, as the bot's articles folder."""
    write_corpus(bot_settings.corpus_dir, [*FLOODS, *STRIKE])
    return bot_settings


async def test_a_timeline_is_paged_with_buttons_that_outlive_a_restart(
    simcord_env, server, stories, embedder
) -> None:
    _, channel, reader, editor = server
    assert embed_of(await editor.slash(channel, "reindex")).title == "Reindex complete"
    await reader.slash(channel, "timeline", topic="Kellbridge floods")
    first = channel.last_message
    embed = first.embeds[0]
    assert embed.title == "Timeline: Kellbridge floods"
    assert embed.description.startswith("**1 Sep** · “Forecasters issued an amber warning")
    assert "— The Meridian Courier" in embed.description
    assert embed.footer.text.startswith("Page 1 of 2 · 11 entries from 6 articles")
    labels = [c.label for row in first.components for c in row.children]
    assert labels == ["◀ Older", "Newer ▶"]
    newer = next(c for row in first.components for c in row.children if c.label == "Newer ▶")

    restarted = NewsdeskBot(Services.build(stories, Desk(stories, embedder)))
    await simcord_env.restart_bot(restarted)
    await reader.click(channel.last_message, custom_id=newer.custom_id)
    page = channel.last_message.embeds[0]
    assert page.footer.text.startswith("Page 2 of 2")
    assert "also The Northern Ledger" in page.description, "the 23 of both outlets, once"
    assert "Insurers put the damage" in page.description


async def test_what_is_new_since_a_date_is_asked_in_words(simcord_env, server, stories) -> None:
    _, channel, reader, editor = server
    await editor.slash(channel, "reindex")
    simcord_env.bot.services.state.change(server[0].id, 1, thread_mode="off")
    asked = "What's new about the Kellbridge floods since 4 September 2026?"
    embed = embed_of(await reader.slash(channel, "ask", question=asked))
    assert embed.title == "What is new: Kellbridge floods after 4 Sep 2026"
    assert "**4 Sep**" not in embed.description and "**5 Sep**" in embed.description
    since = embed_of(
        await reader.slash(channel, "timeline", topic="Port Ellis strike", since="2026-09-05")
    )
    assert since.description.startswith("**6 Sep** · “The Port Ellis strike ended")
    nothing = embed_of(await reader.slash(channel, "timeline", topic="volcano in Iceland"))
    assert nothing.description == "Nothing in the coverage about “volcano in Iceland”."
    unread = await reader.slash(channel, "timeline", topic="floods", since="the day after never")
    assert unread.ephemeral and "cannot read" in unread.response.content


async def test_a_followed_story_is_posted_once_per_new_article(
    simcord_env, server, bot_settings
) -> None:
    simcord_env.bot.services.follows.interval = 0.0  # a post per article, not one a minute
    guild, channel, reader, editor = server
    assert "follow" not in reader.available_commands(channel)  # hidden by Discord by default
    for command in await simcord_env.bot.tree.fetch_commands():
        if command.name in ("follow", "unfollow"):  # shown to everyone: the bot still refuses
            guild.set_command_permissions(command, {guild.default_role: True})
    refused = await reader.slash(channel, "follow", topic="Kellbridge floods")
    assert refused.ephemeral and "Only members who may manage channels" in refused.response.content
    followed = await editor.slash(channel, "follow", topic="Kellbridge floods")
    assert "Following “Kellbridge floods” here" in reply_of(followed).content
    before = len(channel.history())

    for story in FLOODS[1:3]:
        await editor.slash(channel, "add", article=(f"{story.slug}.md", markdown(story).encode()))
        await simcord_env.settle()
    posts = [
        m for m in channel.history()[before:] if m.embeds and m.embeds[0].title.startswith("New in")
    ]
    assert [p.embeds[0].title for p in posts] == ["New in “Kellbridge floods”"] * 2
    assert "At least nine people have died" in posts[0].embeds[0].description
    assert "risen to 11" in posts[1].embeds[0].description
    assert "nine people" not in posts[1].embeds[0].description, "only what is new"
    [button] = [c for row in posts[1].components for c in row.children]
    opened = await reader.click(posts[1], custom_id=button.custom_id)
    assert (
        reply_of(opened).ephemeral
        and "Timeline: Kellbridge floods" in reply_of(opened).embeds[0].title
    )

    # Coverage of another story, and a check with nothing new: no post.
    story = STRIKE[0]
    await editor.slash(channel, "add", article=(f"{story.slug}.md", markdown(story).encode()))
    await simcord_env.bot.get_cog("Stories").post_news()
    await simcord_env.settle()
    assert (
        len(
            [
                m
                for m in channel.history()[before:]
                if m.embeds and m.embeds[0].title.startswith("New in")
            ]
        )
        == 2
    )

    listed = embed_of(await reader.slash(channel, "following"))
    assert "**Kellbridge floods**" in listed.description
    [followed] = FollowBook(simcord_env.bot.services.state_db).following(guild.id)
    done = await editor.slash(channel, "unfollow", story=followed.id)
    assert "No longer following “Kellbridge floods”" in reply_of(done).content


def posted(channel, since: int) -> list:
    """The followed stories' posts among the channel's messages after the first ``since``."""
    return [
        m for m in channel.history()[since:] if m.embeds and m.embeds[0].title.startswith("New in")
    ]
