"""Fixtures for the diagnose tests: `account`, a moto account with Stubbers for what moto lacks."""

from __future__ import annotations

import pytest

import ops.diagnose
from tests.ops.diagnose.account import Account


@pytest.fixture
def account(aws, monkeypatch) -> Account:
    """A moto account plus stubbers; `python -m ops diagnose` (ops.cli.main) uses its clients."""
    created = Account()
    monkeypatch.setattr(ops.diagnose, "Aws", lambda: created.aws)
    yield created
    created.assert_all_stubs_used()
