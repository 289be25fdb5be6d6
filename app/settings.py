"""The service's settings, read and validated in one place from the environment the deployment sets."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

UNKNOWN = "unknown"


class SettingsError(ValueError):
    """A setting has a value the service cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"  # inside the container; the hook maps the port on the instance
    port: int = 8080
    git_sha: str = UNKNOWN
    image_digest: str = UNKNOWN
    build_time: str = UNKNOWN
    drill_failure_rate: float = 0.0
    drain_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            host=env.get("APP_HOST", cls.host),
            port=parse_port(env.get("APP_PORT", str(cls.port))),
            git_sha=env.get("APP_GIT_SHA") or UNKNOWN,
            image_digest=env.get("APP_IMAGE_DIGEST") or UNKNOWN,
            build_time=env.get("APP_BUILD_TIME") or UNKNOWN,
            drill_failure_rate=parse_drill_rate(env.get("DRILL_FAILURE_RATE", "0")),
            drain_seconds=_parse_seconds("APP_DRAIN_SECONDS", env.get("APP_DRAIN_SECONDS", str(cls.drain_seconds))),
        )


def parse_port(raw: str) -> int:
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"APP_PORT must be a TCP port number from 1 to 65535, got {raw!r}.")
    return int(raw)


def parse_drill_rate(raw: str) -> float:
    try:
        rate = float(raw) if raw.strip() else 0.0
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:  # also rejects nan
        raise SettingsError(
            "DRILL_FAILURE_RATE must be a fraction from 0 to 1 (0 = off, 0.25 = a quarter of API requests fail), "
            f"got {raw!r}."
        )
    return rate


def _parse_seconds(name: str, raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0.0 <= seconds <= 300.0:
        raise SettingsError(f"{name} must be a number of seconds from 0 to 300, got {raw!r}.")
    return seconds


def from_env_or_exit() -> Settings:
    """The settings, or one line on stderr and exit code 2: a bad setting is an operator's mistake, not a crash."""
    try:
        return Settings.from_env()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def main() -> int:
    """`python -m app.settings`: validate the environment, as the service would at start, without starting it."""
    settings = from_env_or_exit()
    print(f"settings ok: port {settings.port}, drill failure rate {settings.drill_failure_rate:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
