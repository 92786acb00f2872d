"""One bot process for many checks: what needs a real process and the fake Discord but not a
process of its own (a start costs about 8 s of the suite's time on 2 cores). The tests run in
file order on one bot, each asking its own questions; what changes the bot's state for good
(a gateway drop, an added article) is undone or harmless to the tests after it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from fakediscord import MANAGE_GUILD, FakeDiscord, Interaction, Recorded

from .botprocess import (
    ARTICLE,
    BotProcess,
    answered,
    assert_safe,
    free_port,
    in_thread,
    logged,
    running_bot,
)
from .conftest import SEEDS, lead
from .stories import TOLLS, TOLLS_ARTICLE

pytestmark = [pytest.mark.process, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bot-session")


@pytest.fixture(scope="module")
def corpus(folder: Path) -> Path:
    shutil.copytree(SEEDS, folder / "corpus")
    return folder / "corpus"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(
    fake: FakeDiscord, seed_index: Path, corpus: Path, folder: Path
) -> AsyncIterator[BotProcess]:
    index_dir = folder / "index"
    shutil.copytree(seed_index, index_dir, symlinks=True)
    # Mentions answered in place, as replies (test_bot_process.py covers the thread modes);
    # forum posts answered, which only the forum test makes.
    settings = {
        "NEWSDESK_THREAD_MODE": "off",
        "NEWSDESK_FORUM_ANSWERS": "true",
        "NEWSDESK_METRICS_PORT": str(METRICS_PORT),
    }
    async with running_bot(fake, folder, index_dir, corpus, **settings) as running:
        yield running


METRICS_PORT = free_port()


async def test_metrics_and_health_are_served_for_operators(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """/metrics in Prometheus's format (read back with prometheus-client's own parser) and
    /healthz, on 127.0.0.1 only."""
    ask = await fake.slash(fake.user("reader"), "ask", {"question": "How many people have died?"})
    await fake.wait_for(lambda f: answered(f, ask.token))
    await logged(bot, "ready as")  # discord.py's READY comes once the servers are in
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{METRICS_PORT}/healthz") as health:
            assert health.status == 200 and await health.text() == "ok\n"
        async with http.get(f"http://127.0.0.1:{METRICS_PORT}/metrics") as response:
            assert response.status == 200
            text = await response.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    answered_now = {
        s.labels["outcome"]: s.value
        for s in families["newsdesk_questions"].samples
        if s.name == "newsdesk_questions_total"
    }
    assert sum(answered_now.values()) >= 1
    assert set(answered_now) <= {"sure", "unsure", "not covered"}
    latency = families["newsdesk_answer_seconds"].samples
    assert any(s.name == "newsdesk_answer_seconds_count" and s.value >= 1 for s in latency)
    stages = {s.labels.get("stage") for s in families["newsdesk_answer_stage_seconds"].samples}
    assert {"search", "reading"} <= stages
    [shards] = families["newsdesk_shards_connected"].samples
    assert shards.value == 1


async def test_ask_mentions_and_admin_checks_end_to_end(fake: FakeDiscord, bot: BotProcess) -> None:
    reader = fake.user("reader")

    ask = await fake.slash(reader, "ask", {"question": "Who walked out of the meeting?"})
    await fake.wait_for(lambda f: answered(f, ask.token))
    first = next(r for r in fake.requests if ask.token in r.path)
    assert first.path.endswith("/callback") and first.json["type"] == 5  # deferred: "thinking"
    assert not ask.late
    embed = answered(fake, ask.token)[-1].json["embeds"][0]
    assert lead(embed["description"]) == "Delcy Rodriguez"
    assert "stormed out of the meeting" in embed["description"]

    deaths = await fake.slash(reader, "ask", {"question": "How many people have died?"})
    await fake.wait_for(lambda f: answered(f, deaths.token))
    embed = answered(fake, deaths.token)[-1].json["embeds"][0]
    assert lead(embed["description"]) == "74"
    assert "74 people dead since April" in embed["description"]

    me = fake.bot_user
    question = await fake.send_message(
        reader, f"<@{me['id']}> who walked out of the meeting?", mentions=[me]
    )

    def reply(f: FakeDiscord, to: dict = question) -> list[Recorded]:
        return [
            r
            for r in f.sent()
            if r.path.startswith("/channels/")
            and str((r.json.get("message_reference") or {}).get("message_id")) == to["id"]
        ]

    await fake.wait_for(reply)
    sent = reply(fake)[-1].json
    assert str(sent["message_reference"]["message_id"]) == question["id"]
    assert lead(sent["embeds"][0]["description"]) == "Delcy Rodriguez"

    robot = fake.user("robot", bot=True)
    other_bot = await fake.send_message(
        robot, f"<@{me['id']}> who walked out of the meeting?", mentions=[me]
    )
    refused = await fake.slash(reader, "reindex", {})
    await fake.wait_for(lambda f: f.sent(refused.token))
    refusal = fake.sent(refused.token)[0].json
    assert "Only the bot's operators" in refusal["content"] and refusal["flags"] & 64
    assert not reply(fake, other_bot), "the other bot's mention got nothing"
    [sync] = [r for r in fake.requests if r.method == "PUT" and "/commands" in r.path]
    assert sync.path == f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"

    for request in fake.sent():
        assert_safe(request.json)


async def test_a_question_asked_while_the_gateway_was_down_is_answered_after_a_resume(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    me, identifies = fake.bot_user, fake.identifies
    await fake.drop_connections()
    question = await fake.send_message(
        fake.user("reader"), f"<@{me['id']}> who walked out of the meeting?", mentions=[me]
    )
    fake.come_back()
    await fake.wait_for(lambda f: f.resumes == 1, timeout=60)

    def reply(f: FakeDiscord) -> list[Recorded]:
        return [
            r
            for r in f.sent()
            if str((r.json.get("message_reference") or {}).get("message_id")) == question["id"]
        ]

    await fake.wait_for(reply)
    assert lead(reply(fake)[0].json["embeds"][0]["description"]) == "Delcy Rodriguez"
    assert fake.identifies == identifies, "resumed, not a new session"


async def test_the_bot_identifies_again_when_its_session_cannot_be_resumed(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    fake.accept_resume, identifies = False, fake.identifies
    await fake.drop_connections()
    fake.come_back()
    await fake.wait_for(lambda f: f.identifies > identifies, timeout=60)
    fake.accept_resume = True
    await asyncio.sleep(0.5)  # let discord.py take in the new GUILD_CREATE
    ask = await fake.slash(
        fake.user("reader"), "ask", {"question": "Who walked out of the meeting?"}
    )
    await fake.wait_for(lambda f: answered(f, ask.token))
    said = answered(fake, ask.token)[-1].json["embeds"][0]["description"]
    assert lead(said).startswith("Delcy")
    assert not ask.late


@pytest.mark.parametrize("status", [429, 500])
async def test_a_reply_is_delivered_through_429_and_500(
    fake: FakeDiscord, bot: BotProcess, status: int
) -> None:
    fake.failures = [(status, 0.5)]
    ask = await fake.slash(
        fake.user("reader"), "ask", {"question": "How many people have died in the protests?"}
    )
    await fake.wait_for(lambda f: len(answered(f, ask.token)) >= 2, timeout=60)
    attempts = answered(fake, ask.token)
    assert attempts[0].json == attempts[-1].json  # the same reply, retried by discord.py
    assert lead(attempts[-1].json["embeds"][0]["description"]) == "74"
    assert "Traceback" not in bot.output()


async def test_an_article_added_by_attachment_is_downloaded_and_answers_at_once(
    fake: FakeDiscord, bot: BotProcess, corpus: Path
) -> None:
    """The attachment is downloaded over HTTP from the CDN and indexed at once; who may add
    and which files are refused is tested in simcord (test_bot_experience.py)."""
    editor, reader = fake.user("editor"), fake.user("reader")
    added = await fake.slash(
        editor, "add", {"article": ("../../etc/x.md", ARTICLE.encode())}, permissions=MANAGE_GUILD
    )
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)), 60)
    embed = answered(fake, added.token)[-1].json["embeds"][0]
    assert embed["title"] == "Article added" and "Quillborough" in embed["description"]
    assert (corpus / "quillborough-harbour-reopens.md").read_text() == ARTICLE

    ask = await fake.slash(reader, "ask", {"question": "When did the harbour reopen?"})
    await fake.wait_for(lambda f: answered(f, ask.token))
    assert lead(answered(fake, ask.token)[-1].json["embeds"][0]["description"]) == "Monday"


async def test_admin_interactions_replayed_without_rights_are_refused(
    fake: FakeDiscord, bot: BotProcess, corpus: Path
) -> None:
    editor, reader = fake.user("editor"), fake.user("reader")
    seed = "venezuela-dares-us-to-send-in-the-marines.txt"

    def refusal(f: FakeDiscord, interaction: Interaction) -> str:
        sent = f.sent(interaction.token)
        return sent[0].json["content"] if sent and sent[0].json["flags"] & 64 else ""

    # An admin's /remove asks to confirm; others press its Remove button.
    asked = await fake.slash(editor, "remove", {"article": seed}, permissions=MANAGE_GUILD)
    await fake.wait_for(lambda f: f.sent(asked.token))
    confirm = fake.messages[fake.interactions[asked.token].message_id]
    [remove] = [
        c["custom_id"]
        for row in confirm["components"]
        for c in row["components"]
        if c["label"] == "Remove"
    ]
    by_reader = await fake.click(reader, confirm, remove)
    await fake.wait_for(lambda f: refusal(f, by_reader))
    assert "Only the admin who asked" in refusal(fake, by_reader)
    # The admin who asked, after losing Manage Server: the rights are checked on the click.
    demoted = await fake.click(editor, confirm, remove)
    await fake.wait_for(lambda f: refusal(f, demoted))
    assert (corpus / seed).exists(), "nothing removed"

    # The admin's /reindex, replayed exactly by a member without rights.
    reindex = await fake.slash(editor, "reindex", {}, permissions=MANAGE_GUILD)
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, reindex.token)))
    replayed = await fake.replay(reindex, reader)
    await fake.wait_for(lambda f: refusal(f, replayed))
    assert "Only the bot's operators" in refusal(fake, replayed)
    assert not answered(fake, replayed.token), "no reindex was started"


async def test_a_new_forum_post_is_answered_in_its_thread_when_set_to(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    reader = fake.user("reader")

    def answers(f: FakeDiscord, thread_id: str) -> list[str]:
        return [m["embeds"][0]["description"] for m in in_thread(f, thread_id)]

    post = await fake.forum_post(reader, "The walkout", "Who walked out of the meeting?")
    await fake.wait_for(lambda f: answers(f, post["id"]))
    assert lead(answers(fake, post["id"])[0]) == "Delcy Rodriguez"
    await fake.send_message(reader, "Who did she call the boss?", [], channel_id=post["id"])
    await fake.wait_for(lambda f: len(answers(f, post["id"])) == 2)
    assert lead(answers(fake, post["id"])[1]) == "Sullivan"


async def test_gaps_counts_what_members_asked_and_sees_new_coverage_answer_it(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """Three members ask what the coverage does not say; /gaps groups them; an article that
    answers it is added; the next /gaps says so."""

    async def ask(question: str) -> None:
        asked = await fake.slash(fake.user("member"), "ask", {"question": question})
        await fake.wait_for(lambda f: answered(f, asked.token))

    async def gaps() -> str:
        shown = await fake.slash(fake.user("editor"), "gaps", {"days": 1}, MANAGE_GUILD)
        await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, shown.token)))
        report = answered(fake, shown.token)[-1].json["embeds"][0]["description"]
        [block] = [b for b in report.split("\n\n") if TOLLS[2] in b]
        return block

    for question in TOLLS:
        await ask(question)
    block = await gaps()
    assert block.startswith("**Asked 3 times by 3 members**") and "3 not covered" in block
    added = await fake.slash(
        fake.user("editor"), "add", {"article": ("tolls.md", TOLLS_ARTICLE.encode())}, MANAGE_GUILD
    )
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)), 60)
    assert "✅ Answered now, from Kellbridge bridge tolls from March" in await gaps()


HOSTILE = "Council @everyone <@&42> notice\n\n" + " ".join(
    f"@everyone the council of <@123> voted {n} times on the **budget** motion." for n in range(60)
)


async def test_quoted_mentions_ping_nobody_and_long_passages_fit(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """Last here: the article it adds would answer the council questions of any test after."""
    added = await fake.slash(
        fake.user("editor"), "add", {"article": ("hostile.txt", HOSTILE.encode())}, MANAGE_GUILD
    )
    await fake.wait_for(lambda f: any(r.json.get("embeds") for r in answered(f, added.token)))
    ask = await fake.slash(
        fake.user("reader"), "ask", {"question": "@everyone how many times did the council vote?"}
    )
    await fake.wait_for(lambda f: answered(f, ask.token))
    payload = answered(fake, ask.token)[-1].json
    embed = payload["embeds"][0]
    text = "\n".join(
        [embed["title"], embed["description"]] + [f["name"] + f["value"] for f in embed["fields"]]
    )
    assert "council" in text and "@everyone" not in text.replace("@\u200beveryone", "")
    assert "\\*\\*budget\\*\\*" in text  # quoted markdown stays literal
    for request in fake.sent():  # the /add report with the article's title too
        assert_safe(request.json)
