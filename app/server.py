"""Serve the app with uvicorn, draining on SIGTERM: /healthz answers 503 for APP_DRAIN_SECONDS while requests
still get served, then the server stops accepting connections, finishes in-flight requests and exits 0."""

from __future__ import annotations

import signal
import time
from types import FrameType

import uvicorn

from app.access_log import configure_logging
from app.lifecycle import Lifecycle
from app.service import create_app
from app.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 10  # for in-flight requests once draining ends; `docker stop --time` allows for it


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_seconds: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_until is None:
            # Not uvicorn's handler: it would stop at once and re-raise SIGTERM (exit 143) afterwards.
            self.lifecycle.start_draining()
            self.drain_until = time.monotonic() + self.drain_seconds
            return
        super().handle_exit(sig, frame)  # Ctrl+C, or a second signal: stop now

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            return True
        return await super().on_tick(counter)


def serve(settings: Settings) -> None:
    configure_logging()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # AccessLogMiddleware writes the JSON request lines
        log_config=None,  # keep configure_logging's JSON handler
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    DrainingServer(config, app.state.lifecycle, settings.drain_seconds).run()
