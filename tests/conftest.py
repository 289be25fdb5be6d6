"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def installed_tool(name: str) -> str:
    """A command-line tool from requirements-dev.txt: on PATH, or beside this interpreter (an unactivated .venv)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed; ./scripts/test installs it from requirements-dev.txt")
    return found


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
