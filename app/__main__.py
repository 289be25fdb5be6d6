"""`python -m app`: run the service with settings from the environment (see app/README.md)."""

from __future__ import annotations

import sys

from app.server import serve
from app.settings import from_env_or_exit


def main() -> int:
    serve(from_env_or_exit())
    return 0


if __name__ == "__main__":
    sys.exit(main())
