"""The drill switch: make a set fraction of API requests fail with 500, to rehearse alarm-driven rollbacks.

Set only through the deployment environment (DRILL_FAILURE_RATE, from stack config). Failures are spread evenly
and deterministically: after n API requests exactly floor(rate * n) have failed, so a drill at 0.2 produces a
steady 20% fault rate for the alarms to see instead of random bursts.
"""

from __future__ import annotations

import math

from fastapi import HTTPException, status


class FailureDrill:
    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"drill failure rate must be within 0..1, got {rate}")
        self.rate = rate
        self.requests = 0
        self.failures = 0

    def should_fail(self) -> bool:
        """Count one request and say whether it is one of the injected failures."""
        if self.rate == 0.0:
            return False
        self.requests += 1
        if math.floor(self.rate * self.requests + 1e-9) > self.failures:
            self.failures += 1
            return True
        return False

    async def __call__(self) -> None:
        """A FastAPI dependency for the API routes (never health or version: the drill must trip the fault
        alarms, not the load balancer's health check). Async, so it runs on the event loop and never
        concurrently with itself: the counters need no lock."""
        if self.should_fail():
            raise HTTPException(
                status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
                detail=f"injected failure: the drill switch DRILL_FAILURE_RATE={self.rate:g} is on",
            )
