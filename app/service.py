"""The FastAPI application: health, version, and the versioned business API."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response, status
from pydantic import BaseModel

from app import api
from app.access_log import AccessLogMiddleware
from app.drill import FailureDrill
from app.lifecycle import Lifecycle
from app.settings import Settings

TITLE = "quotes"
VERSION = "1.0.0"  # the API's version (the contract), not the build's: that is /version


class HealthStatus(enum.StrEnum):
    OK = "ok"
    STARTING = "starting"
    DRAINING = "draining"


class Health(BaseModel):
    status: HealthStatus


class VersionInfo(BaseModel):
    git_sha: str
    image_digest: str
    build_time: str


def create_app(settings: Settings) -> FastAPI:
    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        lifecycle.mark_ready()
        yield

    app = FastAPI(title=TITLE, version=VERSION, lifespan=lifespan)
    app.state.lifecycle = lifecycle
    app.add_middleware(AccessLogMiddleware)

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}}, tags=["operations"])
    async def healthz(response: Response) -> Health:
        """200 when ready for traffic; 503 while starting or draining."""
        if lifecycle.ready:
            return Health(status=HealthStatus.OK)
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status=HealthStatus(lifecycle.state.value))

    @app.get("/version", response_model=VersionInfo, tags=["operations"])
    async def version() -> VersionInfo:
        """The build this process runs: git commit, image digest and build time, from its environment."""
        return VersionInfo(git_sha=settings.git_sha, image_digest=settings.image_digest,
                           build_time=settings.build_time)

    app.include_router(api.router, dependencies=[Depends(FailureDrill(settings.drill_failure_rate))])
    return app
