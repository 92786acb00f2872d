"""Articles from web pages: extracted with trafilatura, named by canonical URL, saved into the
corpus as Markdown with front matter (the format the loader already reads).

One story reaches us under many addresses (tracking parameters, AMP pages, mobile hosts), so
an article is identified by its canonical URL: the page's own ``<link rel="canonical">`` (or
og:url) when it names the same site, else the fetched address; both normalised by courlan
(lower-case host, default port, no fragment, no tracking parameters). Its corpus file is named
from a hash of that URL, so a second copy lands on the first and a changed story replaces it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import courlan
import trafilatura
import yaml
from trafilatura.settings import Document

from index.ingest.articles import clean_text

WEB_FOLDER = "web"  # inside the corpus: web/<host>/<hash of the canonical URL>.md
MIN_WORDS = 30  # less than this after extraction is a paywall, an index page or an error page


class NotAnArticle(ValueError):
    """A page holds no article text we can use; the message says why."""


@dataclass(frozen=True)
class WebArticle:
    url: str  # canonical
    title: str
    text: str
    source: str  # the site's name ("Example News"), else its host
    date: str | None  # ISO 8601: the page's publication date, else the feed's
    author: str | None = None

    @property
    def path(self) -> str:
        """Where it lives inside the corpus, fixed by its canonical URL."""
        return web_path(self.url)

    def to_markdown(self) -> str:
        front = {"title": self.title, "url": self.url, "source": self.source}
        if self.date:
            front["date"] = self.date
        if self.author:
            front["author"] = self.author
        header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=10_000)
        return f"---\n{header}---\n\n{self.text}\n"


def canonical_url(url: str) -> str:
    """``url`` normalised: "https://News.Example.com:443/a?utm_source=x#top" ->
    "https://news.example.com/a"."""
    return courlan.normalize_url(url, strict=True)


def web_path(url: str) -> str:
    host = urlsplit(url).hostname or "unknown"
    digest = hashlib.sha256(canonical_url(url).encode()).hexdigest()[:20]
    return f"{WEB_FOLDER}/{host}/{digest}.md"


def extract(html: bytes, fetched_from: str, feed_date: str | None = None) -> WebArticle:
    """The article in a page: its text without navigation, banners or footers, and its
    metadata. ``feed_date`` is used when the page states no date."""
    document = trafilatura.bare_extraction(
        html.decode("utf-8", "replace"),
        url=fetched_from,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
    )
    if not isinstance(document, Document) or not (document.text or "").strip():
        raise NotAnArticle("no article text found on the page")
    text = _paragraphs(document.text or "", document.title)
    if len(text.split()) < MIN_WORDS:
        raise NotAnArticle(f"the page holds under {MIN_WORDS} words of article text")
    return WebArticle(
        url=_canonical(document.url, fetched_from),
        title=clean_text(document.title or "").replace("\n", " ") or text.split("\n", 1)[0][:80],
        text=text,
        source=document.sitename or urlsplit(fetched_from).hostname or "the web",
        date=document.date or feed_date,
        author=document.author or None,
    )


def _canonical(stated: str | None, fetched_from: str) -> str:
    """The page's own canonical URL when it names the same site (a page cannot claim another
    site's article and overwrite it), else the address it was fetched from."""
    if (
        stated
        and stated.startswith(("http://", "https://"))
        and _site(stated) == _site(fetched_from)
    ):
        return canonical_url(stated)
    return canonical_url(fetched_from)


def _site(url: str) -> str | None:
    """The registered domain ("m.bbc.co.uk" -> "bbc.co.uk"); an address stands for itself."""
    return courlan.extract_domain(url) or urlsplit(url).hostname


def _paragraphs(text: str, title: str | None) -> str:
    """trafilatura's lines as paragraphs, without the headline it repeats at the top."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and title and lines[0] == title.strip():
        lines = lines[1:]
    return clean_text("\n\n".join(lines))
