"""A news site on 127.0.0.1 for the fetching tests: an aiohttp server in its own thread,
serving pages in the shapes real news sites use (metadata in ``article:published_time`` and
JSON-LD, navigation, a cookie banner and a footer around the story, an AMP copy pointing at
its canonical page), an RSS and an Atom feed with ETags, and the awkward cases: a redirect, a
story that changes after its first fetch, a 404, a 50 MB body, a PDF, a slow answer and a
robots.txt that closes a folder. Every request is logged with its headers."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web

FILLER = (
    "Emergency crews worked through the night, and the regional government said it would "
    "publish a fuller account of the damage once the water had receded from the low-lying "
    "districts along the river."
)


@dataclass
class Story:
    slug: str
    title: str
    paragraphs: list[str]
    published: datetime
    site: str = "Riverside Gazette"

    def html(self, base: str, amp: bool = False) -> str:
        when = self.published.isoformat()
        body = "".join(f"<p>{p}</p>" for p in [*self.paragraphs, FILLER])
        return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{self.title} | {self.site}</title>
<link rel="canonical" href="{base}/news/{self.slug}?utm_source=rss&amp;utm_medium=feed">
<meta property="og:site_name" content="{self.site}">
<meta property="article:published_time" content="{when}">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "{self.title}", "datePublished": "{when}",
"publisher": {{"@type": "Organization", "name": "{self.site}"}}}}</script>
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a>
Subscribe today</nav>
<div class="cookie-banner">We use cookies to personalise content. Accept all cookies or manage
your preferences in our cookie policy.</div>
{"<div class='amp-note'>AMP</div>" if amp else ""}
<article><h1>{self.title}</h1>{body}</article>
<aside class="related"><h3>Most read</h3><ul><li>Celebrity chef opens new bistro</li></ul></aside>
<footer>Copyright 2026 {self.site}. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class NewsSite:
    stories: dict[str, Story] = field(default_factory=dict)
    in_feed: list[str] = field(default_factory=list)  # slugs, newest first
    requests: list[Request] = field(default_factory=list)
    no_page: set[str] = field(default_factory=set)  # in the feeds, but their pages are 404
    changing_fetches: int = 0
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def publish(self, story: Story, with_page: bool = True) -> None:
        """Put ``story`` at the top of both feeds and (``with_page``) its page on the site."""
        self.stories[story.slug] = story
        self.in_feed.insert(0, story.slug)
        if not with_page:
            self.no_page.add(story.slug)

    def asked(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # The server.

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the news site did not start"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._run(ready))

    async def _run(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._log])
        app.add_routes(
            [
                web.get("/robots.txt", self._robots),
                web.get("/rss.xml", self._rss),
                web.get("/atom.xml", self._atom),
                web.get("/news/{slug}", self._story),
                web.get("/amp/news/{slug}", self._amp),
                web.get("/go/{slug}", self._redirect),
                web.get("/redirect", self._redirect_anywhere),
                web.get("/changing", self._changing),
                web.get("/huge", self._huge),
                web.get("/report.pdf", self._pdf),
                web.get("/slow", self._slow),
                web.get("/private/{slug}", self._story),
            ]
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    @web.middleware
    async def _log(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        self.requests.append(Request(request.path, dict(request.headers)))
        return await handler(request)

    async def _robots(self, request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    def _feed_response(self, request: web.Request, body: str, kind: str) -> web.Response:
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body.encode(), content_type=kind, headers={"ETag": etag})

    async def _rss(self, request: web.Request) -> web.Response:
        items = "".join(
            f"<item><title>{s.title}</title><link>{self.base}/news/{s.slug}?utm_source=rss</link>"
            f"<guid>{self.base}/news/{s.slug}</guid>"
            f"<pubDate>{format_datetime(s.published)}</pubDate></item>"
            for s in (self.stories[slug] for slug in self.in_feed)
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Riverside Gazette</title>'
            f"<link>{self.base}/</link>{items}</channel></rss>"
        )
        return self._feed_response(request, body, "application/rss+xml")

    async def _atom(self, request: web.Request) -> web.Response:
        entries = "".join(
            f"<entry><title>{s.title}</title><link href='{self.base}/amp/news/{s.slug}'/>"
            f"<id>tag:riverside,2026:{s.slug}</id><updated>{s.published.isoformat()}</updated>"
            "</entry>"
            for s in (self.stories[slug] for slug in self.in_feed)
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Riverside Gazette</title><id>tag:riverside,2026:feed</id>"
            f"<updated>2026-11-27T00:00:00Z</updated>{entries}</feed>"
        )
        return self._feed_response(request, body, "application/atom+xml")

    async def _story(self, request: web.Request) -> web.Response:
        story = self.stories.get(request.match_info["slug"])
        if story is None or story.slug in self.no_page:
            raise web.HTTPNotFound(text="<html><body>Page not found</body></html>")
        return web.Response(text=story.html(self.base), content_type="text/html")

    async def _amp(self, request: web.Request) -> web.Response:
        story = self.stories[request.match_info["slug"]]
        return web.Response(text=story.html(self.base, amp=True), content_type="text/html")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/news/{request.match_info['slug']}")

    async def _redirect_anywhere(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def _changing(self, request: web.Request) -> web.Response:
        self.changing_fetches += 1
        toll = 74 if self.changing_fetches == 1 else 81
        story = Story(
            "changing",
            "Flood death toll climbs",
            [
                f"The death toll from the river floods has risen to {toll}, the regional "
                "civil protection agency said in its evening update."
            ],
            datetime(2026, 11, 20 + self.changing_fetches, 9, tzinfo=UTC),
        )
        return web.Response(
            text=story.html(self.base).replace("/news/changing", "/changing"),
            content_type="text/html",
        )

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)  # chunked: no Content-Length to refuse it early
        chunk = b"<p>" + b"word " * 20_000 + b"</p>"
        try:
            for _ in range(50_000_000 // len(chunk)):
                await response.write(chunk)
        except (ConnectionResetError, RuntimeError):
            pass  # the client stopped reading, as it should
        return response

    async def _pdf(self, request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7\n\x00\x01binary", content_type="application/pdf")

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(
            text="<html><body><p>Too late.</p></body></html>", content_type="text/html"
        )


FLOODS_MONDAY = Story(
    "floods-monday",
    "Floods kill 74 in the river valley",
    [
        "Floods in the Arden river valley have killed 74 people since the rains began, the "
        "regional civil protection agency said on Monday.",
        "The governor, Maria Lopez, declared a state of emergency in four districts.",
    ],
    datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
)
FLOODS_THURSDAY = Story(
    "floods-thursday",
    "Flood toll rises to 81 as rescuers reach cut-off villages",
    [
        "The death toll from the Arden valley floods rose to 81 on Thursday, the regional "
        "civil protection agency said, as rescue teams reached villages cut off since Monday.",
        "More than 12,000 people have been moved to shelters in schools and sports halls.",
    ],
    datetime(2026, 11, 26, 18, 0, tzinfo=UTC),
)
BRIDGE = Story(
    "bridge",
    "Old stone bridge to reopen in spring",
    [
        "The old stone bridge at Wendover will reopen to pedestrians in April after a two-year "
        "restoration that cost 3.2 million euros, the town council announced.",
    ],
    datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
)
