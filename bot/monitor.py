"""``/metrics`` and ``/healthz`` for operators, served by each bot process when
NEWSDESK_METRICS_PORT is set (on NEWSDESK_METRICS_HOST, 127.0.0.1 unless changed).

``/metrics``: the process's Prometheus metrics (``index.ops.monitoring``), its shards and the
replica's lag read at each scrape. ``/healthz``: 200 "ok" when every shard this process runs
is connected and its state database answers; 503 with the reasons, one a line, otherwise.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from index.ops.monitoring import replica_lag
from index.statedb import StateUnavailable

if TYPE_CHECKING:
    from bot.client import NewsdeskBot

log = logging.getLogger(__name__)


class Monitor:
    def __init__(self, bot: NewsdeskBot, host: str, port: int) -> None:
        self.bot, self.host, self.port = bot, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics and health on http://%s:%s/", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def shards(self) -> tuple[int, int]:
        """(connected, expected) gateway shards of this process."""
        bot = self.bot
        infos = getattr(bot, "shards", None)
        if infos:  # an AutoShardedBot
            return sum(not info.is_closed() for info in infos.values()), len(infos)
        return int(bot.is_ready() and not bot.is_closed()), 1

    async def metrics(self, request: web.Request) -> web.Response:
        monitoring = self.bot.services.monitoring
        connected, expected = self.shards()
        monitoring.shards.set(connected)
        monitoring.shards_expected.set(expected)
        replica = self.bot.settings.database_replica_url
        if replica:
            lag = await self.bot.loop.run_in_executor(None, replica_lag, replica)
            if lag is not None:
                monitoring.replica_lag.set(lag)
        for state, count in (await self.bot.job_counts()).items():
            monitoring.jobs.labels(state).set(count)
        return web.Response(
            body=monitoring.exposition(), content_type="text/plain", charset="utf-8"
        )

    async def healthz(self, request: web.Request) -> web.Response:
        reasons = []
        connected, expected = self.shards()
        if connected < expected:
            reasons.append(f"{expected - connected} of {expected} shards not connected")
        try:
            await self.bot.services.state_call(self.bot.services.state_db.rows, "SELECT 1")
        except StateUnavailable as error:
            reasons.append(f"state database: {error}")
        if reasons:
            return web.Response(status=503, text="\n".join(reasons) + "\n")
        return web.Response(text="ok\n")
