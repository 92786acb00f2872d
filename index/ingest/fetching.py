"""Fetching from the web, safely: the URLs come from members and from feeds.

Every request goes through one ``Fetcher``, which
- takes http and https only, and refuses loopback, private, link-local, carrier-grade NAT,
  multicast and reserved addresses (cloud metadata at 169.254.169.254 among them) *after* DNS
  resolution, by a resolver the connection itself uses (so a name cannot resolve to a public
  address for the check and a private one for the connection), and again on every redirect,
  which it follows itself; ``FetchPolicy.allow_private`` or ``allow_hosts`` lift this;
- honours robots.txt, waits ``delay`` seconds between requests to one site, names the bot in
  its User-Agent, stops at ``timeout`` seconds and ``max_bytes`` bytes, and checks the
  content type before reading the body.
Each refusal raises ``FetchRefused`` with one line saying why, fit to show a member.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from index.settings import Settings

USER_AGENT = "NewsdeskBot/0.1 (a bot answering questions about news; python-aiohttp)"
PAGE_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
MAX_REDIRECTS = 5
MAX_CRAWL_DELAY = 30.0  # a robots.txt asking for more is obeyed only this far
CHUNK = 65_536


class FetchRefused(Exception):
    """A URL was not fetched; the message says why in one line, for the person who gave it."""


class FetchUnavailable(FetchRefused):
    """The site did not answer as it should (a timeout, a lost connection, a 5xx): worth
    trying again later, unlike a refusal."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False  # the SSRF guard off: for a newsroom's own network, and tests
    allow_hosts: frozenset[str] = frozenset()  # host names exempt from the guard
    max_bytes: int = 20_000_000
    timeout: float = 20.0  # seconds for a whole request, body included
    delay: float = 1.0  # seconds between two requests to one site
    user_agent: str = USER_AGENT

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        return cls(
            allow_private=settings.fetch_allow_private,
            allow_hosts=settings.fetch_allow_hosts,
            max_bytes=settings.max_article_bytes,
            timeout=settings.fetch_timeout_seconds,
            delay=settings.fetch_delay_seconds,
        )


@dataclass(frozen=True)
class Page:
    url: str  # where the body came from, after redirects
    status: int  # 200, or 304 when a conditional request found nothing new
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, policy: FetchPolicy) -> str:
    """``url`` if it may be requested as written (scheme, host, a literal address); the host's
    resolved addresses are checked when connecting."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https addresses are fetched, not {parts.scheme or url}")
    if not parts.hostname:
        raise FetchRefused(f"{url} has no host name")
    if _guarded(parts.hostname, policy):
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return url  # a name: its addresses are checked by the resolver
        if not is_public(str(literal)):
            raise FetchRefused(f"{parts.hostname} is a private or local address")
    return url


def _guarded(host: str, policy: FetchPolicy) -> bool:
    return not policy.allow_private and host.lower().rstrip(".") not in policy.allow_hosts


class GuardedResolver(AbstractResolver):
    """The system resolver, refusing any name that resolves to a non-public address: the
    connection uses exactly the addresses returned here."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if _guarded(host, self._policy):
            private = [r["host"] for r in found if not is_public(r["host"])]
            if private:
                raise FetchRefused(f"{host} resolves to a private or local address ({private[0]})")
        return found

    async def close(self) -> None:
        await self._inner.close()


class Fetcher:
    """One per batch of work (a poll, an article added): it remembers robots.txt and when it
    last asked each site. Use as ``async with Fetcher(policy) as fetcher``."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._robots: dict[str, RobotFileParser] = {}
        self._last_request: dict[str, float] = {}

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy), limit=4)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            headers={"User-Agent": self.policy.user_agent},
            trust_env=False,  # no proxy from the environment: it would do its own resolving
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(
        self,
        url: str,
        accept: Sequence[str] = PAGE_TYPES,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Page:
        """The body at ``url`` if its type is one of ``accept``; with ``etag`` or
        ``last_modified``, a 304 (empty body) when it has not changed."""
        headers = {"Accept": ", ".join(accept) + ", */*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await self._follow(url, accept, headers)
        except TimeoutError:
            raise FetchUnavailable(f"{url} took longer than {self.policy.timeout:g} s") from None
        except aiohttp.ClientError as error:
            raise FetchUnavailable(f"{url} could not be fetched ({error})") from None

    async def _follow(self, url: str, accept: Sequence[str], headers: dict[str, str]) -> Page:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, self.policy)
            await self._obey_robots(url)
            await self._wait_turn(url)
            async with self._open(url, headers) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    continue
                return await self._read(url, response, accept)
        raise FetchRefused(f"{url} redirects more than {MAX_REDIRECTS} times")

    def _open(self, url: str, headers: dict[str, str]) -> aiohttp.client._RequestContextManager:
        assert self._session is not None, "use the Fetcher in an `async with` block"
        return self._session.get(url, headers=headers, allow_redirects=False)

    async def _read(
        self, url: str, response: aiohttp.ClientResponse, accept: Sequence[str]
    ) -> Page:
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        if response.status == 304:
            return Page(url, 304, b"", "", etag, modified)
        if response.status >= 500:
            raise FetchUnavailable(f"{url} answered {response.status} {response.reason or ''}")
        if response.status != 200:
            raise FetchRefused(f"{url} answered {response.status} {response.reason or ''}".strip())
        kind = response.content_type.lower()
        if kind not in accept:
            raise FetchRefused(f"{url} is {kind or 'of no stated type'}, not {accept[0]}")
        limit = self.policy.max_bytes
        if (response.content_length or 0) > limit:
            raise FetchRefused(
                f"{url} is {response.content_length:,} bytes; the limit is {limit:,}"
            )
        body = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > limit:
                raise FetchRefused(f"{url} is over the {limit:,}-byte limit")
        return Page(url, 200, bytes(body), kind, etag, modified)

    async def _wait_turn(self, url: str) -> None:
        site = _origin(url)
        delay = self.policy.delay
        robots = self._robots.get(site)
        if robots is not None:
            delay = max(
                delay, min(float(robots.crawl_delay(self.policy.user_agent) or 0), MAX_CRAWL_DELAY)
            )
        wait = self._last_request.get(site, -delay) + delay - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_request[site] = time.monotonic()

    async def _obey_robots(self, url: str) -> None:
        site = _origin(url)
        if site not in self._robots:
            self._robots[site] = await self._read_robots(site)
        if not self._robots[site].can_fetch(self.policy.user_agent, url):
            raise FetchRefused(f"{site}/robots.txt does not allow fetching {url}")

    async def _read_robots(self, site: str) -> RobotFileParser:
        """The site's rules; as Python's own reader does, 401/403 forbid everything and a
        missing file allows everything. One that cannot be read allows: the page itself is
        still fetched with every other check."""
        robots = RobotFileParser(site + "/robots.txt")
        await self._wait_turn(site)
        try:
            async with self._open(site + "/robots.txt", {}) as response:
                if response.status in (401, 403):
                    robots.parse(["User-agent: *", "Disallow: /"])
                elif response.status == 200:
                    text = await response.content.read(500_000)
                    robots.parse(text.decode("utf-8", "replace").splitlines())
                else:
                    robots.parse([])  # no robots.txt: everything allowed
        except (aiohttp.ClientError, TimeoutError):
            robots.parse([])
        return robots


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
