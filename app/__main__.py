"""`python -m app`: run the service with settings from the environment (see app/README.md)."""

from __future__ import annotations

import sys

from app.server import serve
from app.settings import Settings, SettingsError


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
