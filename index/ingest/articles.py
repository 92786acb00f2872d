"""Ingest: read the articles of a corpus folder into clean ``Article`` records.

Supported files: ``.txt``, ``.md`` (optional YAML front matter: title, url, date, source),
``.html``/``.htm``, ``.json`` (one object or a list of them) and ``.jsonl`` (one object a line),
the JSON ones with the fields title, text, url, date. A file that cannot be read (empty,
binary, not UTF-8, too large, malformed) is skipped with a warning naming it; it never stops
the others from loading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path

import yaml
from bs4 import BeautifulSoup

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}

# Lines that carry no content: an empty tag list ("Tags: ; ; ;"), share prompts and the like.
BOILERPLATE = re.compile(
    r"^\s*(?:(?:tags|filed under|categories)\s*:[\s;,|]*"
    r"|advertisement|share this(?: article)?|share on \w+|read more|click here to \w+.*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Article:
    id: str  # the file's path inside the corpus, plus "#N" for files holding several articles
    title: str
    text: str  # the cleaned text; passage offsets point into it
    source: str  # who published it (front matter "source"), else its URL, else its path
    url: str | None = None
    date: str | None = None

    @property
    def content_hash(self) -> str:
        """Changes whenever anything a passage or citation shows changes."""
        parts = [self.title, self.text, self.source, self.url or "", self.date or ""]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class Corpus:
    articles: list[Article] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


class SkipFile(Exception):
    """This file holds no article we can read; the message says why."""


def article_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of each file under ``folder`` the loader reads, in a stable
    order: the known suffixes, outside dot folders (staging, ``.removed``)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = path.relative_to(folder).parts
        if path.suffix.lower() in SUFFIXES and not any(p.startswith(".") for p in parts):
            yield path.relative_to(folder).as_posix(), path


def load_corpus(folder: Path, max_bytes: int = 20_000_000) -> Corpus:
    """Every article under ``folder`` (recursively), in a stable order."""
    corpus = Corpus()
    seen: set[str] = set()
    for relative, path in article_files(folder):
        try:
            articles = list(read_file(path, relative, max_bytes))
        except SkipFile as reason:
            log.warning("skipped %s: %s", relative, reason)
            corpus.skipped.append((relative, str(reason)))
            continue
        for article in articles:
            if article.id not in seen:
                seen.add(article.id)
                corpus.articles.append(article)
    return corpus


# The longest text one article may have, after its markup is gone: 300,000 characters is
# about 50,000 words, five times a long-form feature; it embeds in about a minute on 2 cores
# (a 10 MB text file took many minutes, with nothing said). Longer is not an article (a book,
# a log, a dump) and is skipped, saying its size and this limit; the rest is indexed.
MAX_ARTICLE_CHARS = 300_000


def read_file(path: Path, relative: str, max_bytes: int = 20_000_000) -> Iterator[Article]:
    """The articles in one file; raises ``SkipFile`` when there are none to read."""
    size = path.stat().st_size
    if size > max_bytes:
        raise SkipFile(f"{size:,} bytes is over the {max_bytes:,}-byte limit")
    raw = path.read_bytes()
    if not raw.strip():
        raise SkipFile("empty file")
    if b"\x00" in raw[:8192]:
        raise SkipFile("binary file")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SkipFile(f"not UTF-8 text ({error.reason} at byte {error.start})") from None

    suffix = path.suffix.lower()
    if suffix in {".json", ".jsonl"}:
        records = _json_records(content, jsonl=suffix == ".jsonl")
        found = False
        for number, record in enumerate(records):
            # Numbered by position, unreadable records included, so ids stay put when one
            # is fixed.
            record_id = f"{relative}#{number}" if len(records) > 1 else relative
            article = _from_record(record, record_id)
            if article is not None and len(article.text) > MAX_ARTICLE_CHARS:
                if len(records) == 1:
                    raise SkipFile(_too_long(article))
                log.warning("skipped %s: %s", record_id, _too_long(article))
            elif article is not None:
                found = True
                yield article
            elif len(records) > 1:
                log.warning("skipped %s: %s", record_id, _unreadable(record))
        if not found:
            raise SkipFile("no readable record with a non-empty 'text' field")
        return

    if suffix in {".html", ".htm"}:
        title, text, meta = _parse_html(content)
    elif suffix in {".md", ".markdown"}:
        title, text, meta = _parse_markdown(content)
    else:
        title, text, meta = _parse_text(content)
    article = make_article(relative, text, title=title or _title_from_name(path), **meta)
    if article is None:
        raise SkipFile("no text after cleaning")
    if len(article.text) > MAX_ARTICLE_CHARS:
        raise SkipFile(_too_long(article))
    yield article


def _too_long(article: Article) -> str:
    return (
        f"its text is {len(article.text):,} characters, over the {MAX_ARTICLE_CHARS:,}-character "
        "limit of one article"
    )


def make_article(
    article_id: str,
    text: str,
    title: str | None = None,
    url: str | None = None,
    date: str | None = None,
    source: str | None = None,
) -> Article | None:
    """Clean ``text`` and wrap it as an Article; None when nothing readable is left."""
    cleaned = clean_text(text)
    if not cleaned:
        return None
    title = clean_text(title or "").replace("\n", " ") or _title_from_text(cleaned)
    return Article(
        id=article_id,
        title=title,
        text=cleaned,
        source=source or url or article_id,
        url=url,
        date=iso_date(date) if date else None,
    )


def iso_date(date: str) -> str:
    """A publication date as YYYY-MM-DD, so dates sort and compare ("2024-05-01T10:00:00Z",
    "Wed, 01 May 2024 10:00:00 GMT" -> "2024-05-01"); one it cannot read is kept as written."""
    text = date.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return text


def parse_date(text: str, today: date | None = None) -> str | None:
    """An ISO date from "2026-09-03", "3 September", "Monday", "yesterday" (the most recent
    such day, for a weekday; dateparser reads them), or None."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        pass
    import dateparser  # about a second to load: only for a date in words

    base = datetime.combine(today or date.today(), time(12))
    when = dateparser.parse(
        text,
        languages=["en"],
        settings={"PREFER_DATES_FROM": "past", "RELATIVE_BASE": base},
    )
    return when.date().isoformat() if when else None


def clean_text(text: str) -> str:
    """Normalise unicode and whitespace, drop boilerplate lines, keep paragraph breaks."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", _visible(line)).strip() for line in text.split("\n")]
    lines = [line for line in lines if not BOILERPLATE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _visible(line: str) -> str:
    """``line`` without zero-width and other format characters: they carry nothing a reader
    sees. Checked per character only when the line has any (isprintable runs in C: cleaning
    every article is most of an incremental reindex)."""
    if line.isprintable():
        return line
    return "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch)[0] != "C")


def _parse_text(content: str) -> tuple[str | None, str, dict[str, str]]:
    # A short first line standing alone above the body is the title (as in "Title\n\nBody").
    first, sep, rest = content.strip().partition("\n")
    if sep and rest.startswith("\n") and _looks_like_title(first):
        return first.strip(), rest, {}
    return None, content, {}


FRONT_MATTER = {"title", "url", "date", "source"}


def _parse_markdown(content: str) -> tuple[str | None, str, dict[str, str]]:
    meta: dict[str, str] = {}
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", content, re.DOTALL)
    if match:
        try:
            front = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            # Not YAML as written ("title: Flood: 23 dead" needs quotes in YAML): read it the
            # way people write it, one "key: value" a line, rather than keep it as text.
            front = dict(line.split(":", 1) for line in match.group(1).splitlines() if ":" in line)
            front = {k.strip().lower(): v.strip() for k, v in front.items()}
        if isinstance(front, dict):
            meta = {k: str(v) for k, v in front.items() if k in FRONT_MATTER and v is not None}
            content = content[match.end() :]
    title = meta.pop("title", None)
    heading = re.match(r"\A\s*#\s+(.+)\n", content)
    if heading:
        title = title or heading.group(1).strip()
        content = content[heading.end() :]
    # Keep the words, drop the markup a reader would not see.
    content = re.sub(r"^#{1,6}\s+", "", content, flags=re.MULTILINE)
    content = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", content)
    content = re.sub(r"(\*\*|__|`)", "", content)
    return title, content, meta


def _parse_html(content: str) -> tuple[str | None, str, dict[str, str]]:
    soup = BeautifulSoup(content, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    title = None
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    elif soup.h1:
        title = soup.h1.get_text(" ", strip=True)
    meta: dict[str, str] = {}
    canonical = soup.find("link", rel="canonical")
    if canonical and canonical.get("href"):
        meta["url"] = str(canonical["href"])
    body = soup.find("article") or soup.body or soup
    blocks = body.find_all(["p", "h2", "h3", "h4", "li", "blockquote"])
    if blocks:
        text = "\n\n".join(block.get_text(" ", strip=True) for block in blocks)
    else:
        text = body.get_text("\n\n", strip=True)
    return title, text, meta


def _json_records(content: str, jsonl: bool) -> list[object]:
    """The records of a JSON file, or of a JSON Lines file one per line: there a line that
    does not parse stands as its ``JSONDecodeError``, so the lines around it are still read."""
    if jsonl:
        return [_json_line(line) for line in content.splitlines() if line.strip()]
    try:
        data = json.loads(content)
    except json.JSONDecodeError as error:
        raise SkipFile(f"invalid JSON (line {error.lineno}: {error.msg})") from None
    return data if isinstance(data, list) else [data]


def _json_line(line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        return error


def _unreadable(record: object) -> str:
    """Why a JSON record is not an article."""
    if isinstance(record, json.JSONDecodeError):
        return f"invalid JSON ({record.msg})"
    return "no non-empty 'text' field"


def _from_record(record: object, article_id: str) -> Article | None:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return None

    def field_of(name: str) -> str | None:
        value = record.get(name)
        return str(value) if isinstance(value, str | int | float) and str(value).strip() else None

    return make_article(
        article_id,
        record["text"],
        title=field_of("title"),
        url=field_of("url"),
        date=field_of("date"),
        source=field_of("source"),
    )


def _looks_like_title(line: str) -> bool:
    line = line.strip()
    return 0 < len(line) <= 120 and not line.endswith((".", "!", "?", ":", ";", ","))


def _title_from_name(path: Path) -> str | None:
    # "venezuela-dares-us.txt" -> "Venezuela dares us"; names like "000_3d01433c" say nothing.
    words = [w for w in re.split(r"[-_\s]+", path.stem) if w]
    if sum(w.isalpha() for w in words) < 2:
        return None
    phrase = " ".join(words)
    return phrase[0].upper() + phrase[1:]


def _title_from_text(text: str, limit: int = 80) -> str:
    first = re.split(r"(?<=[.!?])\s", text.split("\n", 1)[0], maxsplit=1)[0]
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"
