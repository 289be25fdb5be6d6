"""Fixtures shared by every test folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The app template carries its own copies (a team's repository has only app/); the project uses the same ones.
from app.tests.conftest import free_port, installed_tool  # noqa: E402, F401


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT
