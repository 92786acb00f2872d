"""Fetching pages through the guard (index/ingest/fetching.py) and extracting articles from them
(index/ingest/pages.py), against a real HTTP server on 127.0.0.1 (tests/newssite.py)."""

from __future__ import annotations

import time

import pytest

from index.ingest.feeds import fetch_urls
from index.ingest.fetching import Fetcher, FetchPolicy, FetchRefused, is_public
from index.ingest.pages import canonical_url, web_path

from .newssite import NewsSite

# The guard on, as in production; the test site is reached only by the name "localhost",
# which this policy exempts, so every other local address must still be refused.
GUARDED = FetchPolicy(delay=0, timeout=2, allow_hosts=frozenset({"localhost"}))
OPEN = FetchPolicy(allow_private=True, delay=0, timeout=2)


async def refusal(policy: FetchPolicy, url: str) -> str:
    async with Fetcher(policy) as fetcher:
        with pytest.raises(FetchRefused) as refused:
            await fetcher.get(url)
    return str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/news/floods-monday",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/news/floods-monday",
        "http://10.0.0.8/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
async def test_the_guard_refuses_local_addresses_before_connecting(
    news_site: NewsSite, url: str
) -> None:
    reason = await refusal(FetchPolicy(delay=0, timeout=2), url.format(port=news_site.port))
    assert "private or local address" in reason
    assert news_site.requests == []


async def test_the_guard_checks_names_after_dns_and_every_redirect(news_site: NewsSite) -> None:
    port = news_site.port
    reason = await refusal(FetchPolicy(delay=0, timeout=2), f"http://localhost:{port}/")
    assert "localhost resolves to a private or local address" in reason
    for target in [
        f"http://127.0.0.1:{port}/news/floods-monday",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::1]:{port}/",
    ]:
        reason = await refusal(GUARDED, f"http://localhost:{port}/redirect?to={target}")
        assert "private or local address" in reason
    # The exempt name itself is fetched, so the refusals above came from the redirects.
    async with Fetcher(GUARDED) as fetcher:
        page = await fetcher.get(f"http://localhost:{port}/go/floods-monday")
    assert page.url == f"http://localhost:{port}/news/floods-monday"
    assert all(r.path != "/latest/meta-data/" for r in news_site.requests)


def test_public_addresses_are_told_from_private_ones() -> None:
    assert is_public("93.184.216.34") and is_public("2606:2800:220:1:248:1893:25c8:1946")
    for address in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1%eth0", "fd00:ec2::254",
                    "::ffff:10.0.0.1", "224.0.0.1"]:  # fmt: skip
        assert not is_public(address), address


async def test_other_schemes_and_odd_numeric_hosts_are_refused(news_site: NewsSite) -> None:
    assert "only http and https" in await refusal(OPEN, "file:///etc/passwd")
    assert "only http and https" in await refusal(OPEN, "ftp://example.com/a")
    for sneaky in ["http://2130706433/", "http://127.1/", "http://0x7f000001/"]:
        await refusal(FetchPolicy(delay=0, timeout=2), sneaky)
    assert news_site.requests == []


async def test_limits_on_size_type_time_robots_and_status(news_site: NewsSite) -> None:
    urls = ["/huge", "/report.pdf", "/slow", "/private/floods-monday", "/news/gone"]
    started = time.monotonic()
    fetched = await fetch_urls(OPEN, [news_site.url(u) for u in urls])
    assert fetched.articles == []
    reasons = dict(fetched.refused)
    assert "over the 20,000,000-byte limit" in reasons[news_site.url("/huge")]
    assert "is application/pdf, not text/html" in reasons[news_site.url("/report.pdf")]
    assert "took longer than 2 s" in reasons[news_site.url("/slow")]
    assert "robots.txt does not allow" in reasons[news_site.url("/private/floods-monday")]
    assert "answered 404" in reasons[news_site.url("/news/gone")]
    assert time.monotonic() - started < 15
    assert not news_site.asked("/private/floods-monday")  # robots.txt was read first
    agents = {r.headers.get("User-Agent") for r in news_site.requests}
    assert agents == {OPEN.user_agent} and "Newsdesk" in OPEN.user_agent


async def test_an_article_lands_with_its_metadata_and_without_boilerplate(
    news_site: NewsSite,
) -> None:
    fetched = await fetch_urls(OPEN, [news_site.url("/news/floods-monday?utm_source=x")])
    [article] = fetched.articles
    assert article.title == "Floods kill 74 in the river valley"
    assert article.url == news_site.url("/news/floods-monday")  # canonical: no tracking
    assert article.source == "Riverside Gazette" and article.date == "2026-11-23"
    assert "killed 74 people" in article.text and "state of emergency" in article.text
    for boilerplate in ["Subscribe", "cookies", "Most read", "Celebrity chef", "Copyright"]:
        assert boilerplate not in article.text
    assert not article.text.startswith(article.title)  # the headline is the title, once


async def test_one_story_under_several_addresses_is_one_article(news_site: NewsSite) -> None:
    urls = [
        news_site.url("/news/floods-monday?utm_source=rss&utm_medium=feed"),
        news_site.url("/amp/news/floods-monday"),  # its canonical link names the story page
        news_site.url("/go/floods-monday"),  # a redirect to it
    ]
    fetched = await fetch_urls(OPEN, urls)
    assert [a.url for a in fetched.articles] == [news_site.url("/news/floods-monday")]
    assert len({web_path(u) for u in [*urls[:1], news_site.url("/news/floods-monday")]}) == 1


def test_canonical_urls_drop_tracking_fragments_and_default_ports() -> None:
    assert (
        canonical_url("https://News.Example.com:443/world/a?utm_source=x&id=3#top")
        == "https://news.example.com/world/a?id=3"
    )


async def test_requests_to_one_site_are_spaced_by_the_delay(news_site: NewsSite) -> None:
    policy = FetchPolicy(allow_private=True, delay=0.4, timeout=2)
    started = time.monotonic()
    await fetch_urls(policy, [news_site.url("/news/floods-monday"), news_site.url("/go/x")])
    # robots.txt, the story, the redirect and its target: three waits of 0.4 s.
    assert time.monotonic() - started >= 1.2
