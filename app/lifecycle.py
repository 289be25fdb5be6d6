"""Readiness of the process: starting until the app's startup has run, ready, then draining after SIGTERM."""

from __future__ import annotations

import enum
import logging

log = logging.getLogger("app.lifecycle")


class State(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


class Lifecycle:
    """What /healthz reports. Only READY answers 200, so load balancers send traffic to ready processes only."""

    def __init__(self) -> None:
        self.state = State.STARTING

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    def mark_ready(self) -> None:
        if self.state is State.STARTING:
            self.state = State.READY
            log.info("ready")

    def start_draining(self) -> None:
        if self.state is not State.DRAINING:
            self.state = State.DRAINING
            log.info("draining: /healthz now answers 503")
