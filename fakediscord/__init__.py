"""A small fake Discord on 127.0.0.1 for end-to-end tests of the real ``python -m bot`` process.

It speaks just enough of Discord's v10 protocol for discord.py 2.x:

* a websocket gateway at ``/gateway``: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeat ->
  ACK, RESUME -> the events the bot missed then RESUMED (or, with ``accept_resume`` off,
  INVALID_SESSION, after which the bot identifies again), and dispatches that tests push
  (MESSAGE_CREATE, INTERACTION_CREATE); shards as Discord routes them (a connection that
  identifies as shard [i, n] gets the guilds, and their events, with (guild_id >> 22) % n == i;
  the first two servers fall on different shards of two);
* REST under ``/api/v10``: the login calls, command sync, channel messages and typing, threads
  opened from a message (announced with THREAD_CREATE), the interaction callback (with
  Discord's 3-second deadline, and UPDATE_MESSAGE for button clicks), follow-ups and the
  original response;
* attachments of slash command options, served from ``/cdn``.

Every REST request is recorded (``requests``), so tests assert on the exact payloads the bot
sent. ``servers`` guilds (the first with a text channel and a forum, the others a text channel
each) and a few users are enough for the bot; extend ``_guild`` and ``route`` when a test
needs more. Nothing here listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

TOKEN = "fake-bot-token-" + "x" * 40
DEADLINE_SECONDS = 3.0  # Discord's limit for an interaction's first response
EVERYONE_PERMISSIONS = 1 << 10 | 1 << 11 | 1 << 31  # view, send messages, use app commands
MANAGE_GUILD = 1 << 5
JSON = "application/json"  # exactly: discord.py reads "application/json; charset=..." as text


def _snowflakes() -> itertools.count:
    return itertools.count(1_200_000_000_000_000_000)


@dataclass
class Recorded:
    method: str
    path: str
    json: Any
    at: float


@dataclass
class Interaction:
    id: str
    token: str
    created: float
    responded: bool = False
    message_id: str | None = None
    late: bool = False


@dataclass
class FakeDiscord:
    token: str = TOKEN
    servers: int = 2  # the first with a text channel and a forum, the others one text channel
    requests: list[Recorded] = field(default_factory=list)
    dispatched: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = _snowflakes()
        self._ids = ids
        self.app_id = str(next(ids))
        self.bot_user = self.user("Newsdesk", bot=True, id=self.app_id)
        self.guild_id = str(next(ids))
        self.channel_id = str(next(ids))
        self.forum_id = str(next(ids))
        # More servers of one channel each, for what must stay within its own server; their ids
        # spread them over shards (the second is on the other shard of two).
        self.server_ids = [self.guild_id] + [
            str(int(self.guild_id) + (number << 22)) for number in range(1, self.servers)
        ]
        self.server_channels = [self.channel_id] + [str(next(ids)) for _ in self.server_ids[1:]]
        self.other_guild_id, self.other_channel_id = self.server_ids[1], self.server_channels[1]
        self.interactions: dict[str, Interaction] = {}
        self.identified = asyncio.Event()
        self.commands_synced = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []  # every open connection
        # Those identified or resumed, with the shard each runs: (id, count).
        self._sessions: dict[web.WebSocketResponse, tuple[int, int]] = {}
        self._reachable = asyncio.Event()  # cleared while Discord is "away"
        self._reachable.set()
        self.accept_resume = True
        self._sequence = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.shards_identified: list[tuple[int, int]] = []  # each IDENTIFY's shard, in order
        self.resumes = 0
        self.heartbeat_interval_ms = 41250
        self.heartbeats: list[float] = []  # when each heartbeat arrived
        # (status, retry_after) answers for the next message-carrying requests, in order:
        # lets a test make Discord answer 429 or 500 to a reply.
        self.failures: list[tuple[int, float]] = []
        self.messages: dict[str, dict] = {}  # every message the bot posted, by id
        self.threads: dict[str, dict] = {}  # threads the bot opened, by id
        self.files: dict[str, bytes] = {}  # attachments, by id
        self._pending: set[asyncio.Task] = set()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_get("/cdn/{id}/{name}", self._cdn)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def identifies(self) -> int:
        return len(self.shards_identified)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- what tests do ---------------------------------------------------------------------
    def user(self, name: str, bot: bool = False, id: str | None = None) -> dict:
        return {
            "id": id or str(next(self._ids)),
            "username": name,
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "bot": bot,
        }

    async def send_message(
        self, author: dict, content: str, mentions: list[dict], channel_id: str | None = None
    ) -> dict:
        channel_id = channel_id or self.channel_id
        message = self._message(channel_id, author, content, mentions=mentions)
        message["guild_id"] = self._channel(channel_id)["guild_id"]
        message["member"] = self._member(author, roles=[])
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def forum_post(self, author: dict, title: str, content: str) -> dict:
        """A member's new forum post: a thread, then its first message, which has its id."""
        thread = self._thread(self.forum_id, str(next(self._ids)), author["id"], title)
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        message = self._message(thread["id"], author, content, id=thread["id"])
        message["guild_id"] = self.guild_id
        message["member"] = self._member(author, roles=[])
        await self.dispatch("MESSAGE_CREATE", message)
        return thread

    async def slash(
        self,
        user: dict,
        name: str,
        options: dict[str, Any],
        permissions: int = EVERYONE_PERMISSIONS,
        server: int = 0,
    ) -> Interaction:
        """Run a slash command (in ``server``, by number: 0 is the first); an option given as
        ``(filename, bytes)`` is an attachment."""
        types = {str: 3, int: 4, bool: 5, float: 10}
        resolved: dict[str, dict] = {}
        values = []
        for key, value in options.items():
            if isinstance(value, tuple):
                resolved[key] = self._attachment(*value)
                values.append({"name": key, "type": 11, "value": resolved[key]["id"]})
            else:
                values.append({"name": key, "type": types[type(value)], "value": value})
        data = {"id": str(next(self._ids)), "name": name, "type": 1, "options": values}
        if resolved:
            data["resolved"] = {"attachments": {a["id"]: a for a in resolved.values()}}
        return await self._interact(
            user, 2, data, permissions, channel_id=self.server_channels[server]
        )

    async def click(
        self,
        user: dict,
        message: dict,
        custom_id: str,
        values: list[str] | None = None,
        permissions: int = EVERYONE_PERMISSIONS,
    ) -> Interaction:
        """Press a button (or, with ``values``, choose in a select menu) on a bot message."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if values is not None:
            data |= {"component_type": 3, "values": values}
        return await self._interact(user, 3, data, permissions, message["channel_id"], message)

    async def replay(
        self, original: Interaction, user: dict, permissions: int = EVERYONE_PERMISSIONS
    ) -> Interaction:
        """Send an earlier interaction's exact command or click again, as ``user``."""
        event = next(
            e["d"]
            for e in self.dispatched
            if e["t"] == "INTERACTION_CREATE" and e["d"]["token"] == original.token
        )
        return await self._interact(
            user,
            event["type"],
            event["data"],
            permissions,
            event["channel_id"],
            event.get("message"),
        )

    async def _interact(
        self,
        user: dict,
        kind: int,
        data: dict,
        permissions: int,
        channel_id: str,
        message: dict | None = None,
    ) -> Interaction:
        interaction = Interaction(
            str(next(self._ids)), f"itoken-{next(self._ids)}", time.monotonic()
        )
        self.interactions[interaction.token] = interaction
        if message:
            interaction.message_id = message["id"]
        guild_id = self._channel(channel_id)["guild_id"]
        extra = {"message": message} if message else {}
        await self.dispatch(
            "INTERACTION_CREATE",
            {
                "id": interaction.id,
                "application_id": self.app_id,
                "type": kind,
                "token": interaction.token,
                "version": 1,
                "guild_id": guild_id,
                "channel_id": channel_id,
                "channel": self._channel(channel_id),
                "member": self._member(user, roles=[], permissions=permissions),
                "data": data,
                **extra,
                "app_permissions": str((1 << 50) - 1),
                "locale": "en-US",
                "guild_locale": "en-US",
                "entitlements": [],
                "authorizing_integration_owners": {"0": guild_id},
                "context": 0,
                "attachment_size_limit": 8 * 1024 * 1024,
            },
        )
        return interaction

    async def dispatch(self, event: str, data: dict) -> None:
        self._sequence += 1
        payload = {"op": 0, "t": event, "s": self._sequence, "d": data}
        self.dispatched.append(payload)
        # With no session (the bot is reconnecting) the event waits in ``dispatched`` for a
        # RESUME, as on Discord.
        for socket, shard in list(self._sessions.items()):
            if _on_shard(payload, shard):
                await socket.send_str(json.dumps(payload))

    async def drop_connections(self) -> None:
        """Close every gateway connection, as Discord does now and then, and stay away (new
        connections wait) until ``come_back``: events dispatched meanwhile are missed."""
        self._reachable.clear()
        self._sessions.clear()
        for socket in list(self._sockets):
            await socket.close(code=4000)

    def come_back(self) -> None:
        self._reachable.set()

    async def wait_for(self, predicate: Callable[[FakeDiscord], Any], timeout: float = 30.0) -> Any:
        """Wait until ``predicate(self)`` is truthy (re-checked on every request and identify)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)
        return predicate(self)

    def sent(self, token: str | None = None) -> list[Recorded]:
        """Requests that carried a message (content or embeds), optionally for one interaction."""
        found = []
        for request in self.requests:
            body = request.json if isinstance(request.json, dict) else {}
            body = body.get("data", body) if isinstance(body.get("data"), dict) else body
            if ("content" in body or "embeds" in body) and (token is None or token in request.path):
                found.append(Recorded(request.method, request.path, body, request.at))
        return found

    # -- gateway ---------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        await self._reachable.wait()
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        await socket.send_str(json.dumps(hello))
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    break
                payload = json.loads(frame.data)
                op = payload.get("op")
                if op == 1:
                    self.heartbeats.append(time.monotonic())
                    # A little network latency, as on the real gateway: with none, discord.py's
                    # heartbeat thread records the send after the ACK and warns it is behind.
                    asyncio.get_running_loop().call_later(
                        0.05, lambda: asyncio.ensure_future(_ack(socket))
                    )
                elif op == 2:
                    if payload["d"].get("token") != self.token:
                        await socket.close(code=4004, message=b"Authentication failed.")
                        break
                    await self._identify(socket, tuple(payload["d"].get("shard") or (0, 1)))
                elif op == 6:
                    await self._resume(socket, payload["d"])
        finally:
            self._sockets.remove(socket)
            self._sessions.pop(socket, None)
        return socket

    async def _identify(self, socket: web.WebSocketResponse, shard: tuple[int, int]) -> None:
        guilds = [
            guild
            for guild in [self._guild(), *map(self._other_guild, range(1, self.servers))]
            if shard_of(guild["id"], shard[1]) == shard[0]
        ]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": guild["id"], "unavailable": True} for guild in guilds],
            "shard": list(shard),
            "session_id": _session_id(shard),
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 1 << 19},
            "private_channels": [],
            "relationships": [],
        }
        for event, data in [("READY", ready)] + [("GUILD_CREATE", guild) for guild in guilds]:
            self._sequence += 1
            await socket.send_str(json.dumps({"op": 0, "t": event, "s": self._sequence, "d": data}))
        self._sessions[socket] = shard
        self.shards_identified.append(shard)
        self.identified.set()
        await self._notify()

    async def _resume(self, socket: web.WebSocketResponse, resume: dict) -> None:
        """Replay what the bot missed since its last sequence number, then RESUMED."""
        shard = next(
            (s for s in self.shards_identified if _session_id(s) == resume.get("session_id")), None
        )
        if not (resume.get("token") == self.token and shard and self.accept_resume):
            await socket.send_str(json.dumps({"op": 9, "d": False}))  # the bot identifies again
            return
        for payload in self.dispatched:
            if payload["s"] > (resume.get("seq") or 0) and _on_shard(payload, shard):
                await socket.send_str(json.dumps(payload))
        self._sequence += 1
        resumed = {"op": 0, "t": "RESUMED", "s": self._sequence, "d": {}}
        await socket.send_str(json.dumps(resumed))
        self._sessions[socket] = shard
        self.resumes += 1
        await self._notify()

    def _guild(self) -> dict:
        everyone = {
            "id": self.guild_id,
            "name": "@everyone",
            "permissions": str(EVERYONE_PERMISSIONS),
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        return {
            "id": self.guild_id,
            "name": "Newsroom",
            "owner_id": str(next(self._ids)),
            "unavailable": False,
            "member_count": 1,
            "members": [self._member(self.bot_user, roles=[])],
            "channels": [
                {
                    "id": self.channel_id,
                    "type": 0,
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "guild_id": self.guild_id,
                },
                {
                    "id": self.forum_id,
                    "type": 15,
                    "name": "questions",
                    "position": 1,
                    "permission_overwrites": [],
                    "guild_id": self.guild_id,
                    "available_tags": [],
                },
            ],
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            # Its active threads, as Discord sends them: a bot that starts (or takes over the
            # shard) knows the threads opened before.
            "threads": [t for t in self.threads.values() if t["guild_id"] == self.guild_id],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "voice_states": [],
            "presences": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "large": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
        }

    def _other_guild(self, number: int) -> dict:
        """Server ``number`` (1 and up): the first's shape, with one text channel."""
        guild_id, channel_id = self.server_ids[number], self.server_channels[number]
        guild = self._guild()
        guild |= {"id": guild_id, "name": "Elsewhere" if number == 1 else f"Server {number}"}
        guild["roles"] = [{**guild["roles"][0], "id": guild_id}]
        guild["threads"] = [t for t in self.threads.values() if t["guild_id"] == guild_id]
        guild["channels"] = [{**guild["channels"][0], "id": channel_id, "guild_id": guild_id}]
        return guild

    def _channel(self, channel_id: str) -> dict:
        if channel_id in self.threads:
            return self.threads[channel_id]
        number = self.server_channels.index(channel_id) if channel_id in self.server_channels else 0
        return {"id": channel_id, "type": 0, "guild_id": self.server_ids[number]}

    def _attachment(self, filename: str, content: bytes) -> dict:
        attachment_id = str(next(self._ids))
        self.files[attachment_id] = content
        url = f"http://127.0.0.1:{self.port}/cdn/{attachment_id}/{filename.rsplit('/', 1)[-1]}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "content_type": "application/octet-stream",
        }

    async def _cdn(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["id"])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    def _open_thread(self, channel_id: str, message_id: str, payload: dict) -> web.Response:
        """A public thread started from a message: it takes the message's id, as on Discord."""
        thread = self._thread(channel_id, message_id, self.app_id, payload["name"])
        task = asyncio.ensure_future(
            self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return _json(thread)

    def _thread(self, parent_id: str, thread_id: str, owner_id: str, name: str) -> dict:
        thread = {
            "id": thread_id,
            "type": 11,
            "guild_id": self._channel(parent_id)["guild_id"],
            "parent_id": parent_id,
            "owner_id": owner_id,
            "name": name,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
        }
        self.threads[thread_id] = thread
        return thread

    def _member(self, user: dict, roles: list[str], permissions: int | None = None) -> dict:
        member = {
            "user": user,
            "roles": roles,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _message(self, channel_id: str, author: dict, content: str, **extra: Any) -> dict:
        return {
            "id": extra.pop("id", None) or str(next(self._ids)),
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": extra.pop("mentions", []),
            "mention_roles": [],
            "attachments": [],
            "embeds": extra.pop("embeds", []),
            "pinned": False,
            "type": 0,
            "flags": extra.pop("flags", 0),
            "components": extra.pop("components", []),
            **extra,
        }

    # -- REST ------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        body = await request.read()
        payload = json.loads(body) if body and request.content_type == "application/json" else None
        if payload is None and body and request.content_type.startswith("multipart/"):
            payload = _json_part(body)
        path = "/" + request.match_info["tail"]
        self.requests.append(Recorded(request.method, path, payload, time.monotonic()))
        try:
            if request.headers.get("Authorization") not in (f"Bot {self.token}", None):
                return _json({"message": "401: Unauthorized", "code": 0}, 401)
            carries_message = isinstance(payload, dict) and (
                "content" in payload or "embeds" in payload
            )
            if self.failures and carries_message and "/webhooks/" in path:
                return _failure(*self.failures.pop(0))
            return self.route(request.method, path.rstrip("/"), payload or {})
        finally:
            await self._notify()

    async def _notify(self) -> None:
        """Wake ``wait_for`` callers: something they may be waiting on has happened."""
        async with self._changed:
            self._changed.notify_all()

    def route(self, method: str, path: str, payload: dict) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return _json(self.bot_user)
        if path == "/gateway/bot":
            limits = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limits})
        if path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": self.app_id,
                    "name": "Newsdesk",
                    "description": "",
                    "icon": None,
                    "bot_public": False,
                    "bot_require_code_grant": False,
                    "owner": self.user("owner"),
                    "verify_key": "0" * 64,
                    "flags": 1 << 19,
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            commands = [
                {
                    **command,
                    "id": str(next(self._ids)),
                    "application_id": self.app_id,
                    "version": "1",
                    "default_member_permissions": command.get("default_member_permissions"),
                }
                for command in payload
            ]
            self.commands_synced.set()
            return _json(commands)
        if parts[0] == "interactions" and parts[-1] == "callback":
            return self._callback(parts[2], payload)
        if parts[0] == "webhooks":
            return self._webhook(method, parts, payload)
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "threads" and len(parts) == 5:
            return self._open_thread(parts[1], parts[3], payload)
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            message = self._message(
                parts[1],
                self.bot_user,
                payload.get("content") or "",
                embeds=payload.get("embeds", []),
                components=payload.get("components", []),
            )
            if payload.get("message_reference"):
                message["message_reference"] = payload["message_reference"]
            self.messages[message["id"]] = message
            return _json(message)
        return _json({"message": f"fake Discord has no route {method} {path}", "code": 0}, 404)

    def _callback(self, token: str, payload: dict) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None or interaction.responded:
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        if time.monotonic() - interaction.created > DEADLINE_SECONDS:
            interaction.late = True
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        interaction.responded = True
        data = payload.get("data") or {}
        flags = data.get("flags", 0)
        if payload["type"] == 7:  # UPDATE_MESSAGE: a click edits the message it was on
            message = self.messages[interaction.message_id]
            message.update(
                {k: v for k, v in data.items() if k in ("content", "embeds", "components")}
            )
            return _json(
                {
                    "interaction": {"id": interaction.id, "type": 3},
                    "resource": {"type": 7, "message": message},
                }
            )
        message = self._message(
            self.channel_id,
            self.bot_user,
            data.get("content") or "",
            embeds=data.get("embeds", []),
            flags=flags | (128 if payload["type"] == 5 else 0),
            interaction_metadata={"id": interaction.id, "type": 2, "user": self.user("asker")},
        )
        message["components"] = data.get("components", [])
        self.messages[message["id"]] = message
        interaction.message_id = message["id"]
        return _json(
            {
                "interaction": {
                    "id": interaction.id,
                    "type": 2,
                    "response_message_id": message["id"],
                    "response_message_loading": payload["type"] == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": payload["type"], "message": message},
            }
        )

    def _webhook(self, method: str, parts: list[str], payload: dict) -> web.Response:
        interaction = self.interactions.get(parts[2])
        if interaction is None or not interaction.responded:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        message = self._message(
            self.channel_id,
            self.bot_user,
            payload.get("content") or "",
            embeds=payload.get("embeds", []),
            flags=payload.get("flags", 0),
        )
        if method == "PATCH" and parts[-1] == "@original":
            message["id"] = interaction.message_id
        message["components"] = payload.get("components", [])
        self.messages[message["id"]] = message
        return _json(message)


def _failure(status: int, retry_after: float) -> web.Response:
    if status == 429:
        # discord.py retries a 429 only when it carries retry_after and a Via header; without
        # Via it takes the answer for a Cloudflare ban.
        response = _json(
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            429,
        )
        response.headers.update({"Via": "1.1 google", "Retry-After": str(retry_after)})
        return response
    return _json({"message": "500: Internal Server Error", "code": 0}, status)


async def _ack(socket: web.WebSocketResponse) -> None:
    # Sent 50 ms after the heartbeat: the bot may have gone meanwhile.
    with contextlib.suppress(ConnectionResetError):
        if not socket.closed:
            await socket.send_str(json.dumps({"op": 11}))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": JSON}
    )


def _json_part(body: bytes) -> Any:
    """The ``payload_json`` part of a multipart request (messages with files)."""
    start = body.find(b"{")
    end = body.rfind(b"}")
    return json.loads(body[start : end + 1]) if start >= 0 else None


def shard_of(guild_id: str, count: int) -> int:
    """The shard that carries a guild, as Discord computes it."""
    return (int(guild_id) >> 22) % count


def _on_shard(payload: dict, shard: tuple[int, int]) -> bool:
    """Whether an event goes to this shard: its guild's, or shard 0 for events of no guild."""
    guild_id = (payload.get("d") or {}).get("guild_id")
    if guild_id is None:
        return shard[0] == 0
    return shard_of(guild_id, shard[1]) == shard[0]


def _session_id(shard: tuple[int, int]) -> str:
    return f"fake-session-{shard[0]}-{shard[1]}"
