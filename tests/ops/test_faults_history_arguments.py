"""Fault class 5, arguments for `ops history`: bad stack names, a bad project directory, a bad --limit. One line on
stderr, exit 2, and no Pulumi call. Also: a reader that goes away (`ops history | head -1`) is no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.fake_pulumi import FakePulumi
from tests.ops.fake_pulumi.cli import history_entry
from tests.ops.fake_pulumi.harness import BAD_STACK_NAMES, Verdict, ops

pytestmark = pytest.mark.slow


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack("dev")
    state = fake.load()
    state["stacks"]["dev"]["history"] = [
        history_entry(n, "update", "succeeded", {"delivery:n": {"value": str(n), "secret": False}}, {}, f"change {n}")
        for n in range(1, 501)  # more text than a pipe holds, so the reader really goes away mid-output
    ]
    fake.save(state)
    return fake


def refused(fake: FakePulumi, result, *fragments: str) -> None:
    verdict = Verdict(result).exit_code(2).one_line(*fragments)
    verdict.expect(fake.calls() == [], f"pulumi was called: {fake.commands()}")
    verdict.expect("\x1b" not in result.stderr, "an escape sequence reached stderr")
    verdict.done()


@pytest.mark.parametrize("name", BAD_STACK_NAMES, ids=list(BAD_STACK_NAMES))
def test_a_bad_stack_name(fake, name):
    refused(fake, ops("history", f"--stack={BAD_STACK_NAMES[name]}"), "stack")


@pytest.mark.parametrize("cwd", ["", "no/such/dir", "a-file"])
def test_a_bad_project_directory(fake, tmp_path, cwd):
    if cwd == "a-file":
        (tmp_path / "a-file").write_text("x")
    value = str(tmp_path / cwd) if cwd else ""
    refused(fake, ops("history", "-s", "dev", f"--cwd={value}"), "--cwd")


@pytest.mark.parametrize("limit", ["0", "-1", "x", "", "1.5"])
def test_a_bad_limit(fake, limit):
    refused(fake, ops("history", "-s", "dev", f"--limit={limit}"), "--limit")


def test_a_reader_that_goes_away_is_no_traceback(fake):
    command = f'"{sys.executable}" -m ops history -s dev | head -1'
    result = subprocess.run(["sh", "-c", command], cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True,
                            timeout=60)
    verdict = Verdict(result).expect(result.stdout.startswith("version 500"), "the first line is not the newest entry")
    verdict.expect(result.stderr == "", f"stderr: {result.stderr[-300:]!r}").done()
