"""`ops history`: every page of the stack history, newest first, with config changes by key (values never shown)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.fake_pulumi import FakePulumi

SECRET_ONE = "hunter2-one"
SECRET_TWO = "hunter2-two"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack("dev")
    return fake


def ops(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ops", *args]
    return subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60)


def test_history_lists_entries_newest_first_with_their_details(fake):
    fake.add_entry("dev", config={"delivery:fleetSize": "2", "delivery:pw": (SECRET_ONE, True)}, commit="a" * 40)
    fake.add_entry("dev", kind="preview", config={"delivery:fleetSize": "3", "delivery:pw": (SECRET_ONE, True)})
    fake.add_entry(
        "dev",
        result="failed",
        config={"delivery:fleetSize": "3", "delivery:pw": (SECRET_TWO, True), "delivery:new": "1"},
        commit="b" * 40,
        dirty=True,
        message="grow the fleet",
    )
    result = ops("history", "-s", "dev", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["version"] for row in rows] == [3, 2, 1]
    newest = rows[0]
    assert newest["kind"] == "update" and newest["result"] == "failed"
    assert newest["gitCommit"] == "b" * 40 and newest["gitDirty"] is True
    assert newest["message"] == "grow the fleet"
    assert newest["durationSeconds"] == 62.0
    assert newest["start"] == "2026-11-01T12:00:00+00:00"
    assert newest["resourceChanges"] == {"same": 10, "update": 1}
    assert newest["configChanges"] == {"added": ["delivery:new"], "removed": [], "changed": ["delivery:pw"]}
    assert rows[1]["configChanges"] == {"added": [], "removed": [], "changed": ["delivery:fleetSize"]}
    assert rows[2]["configChanges"] is None and rows[2]["gitDirty"] is False
    for secret in (SECRET_ONE, SECRET_TWO):
        assert secret not in result.stdout + result.stderr


def test_history_text_output_and_limit(fake):
    for number in range(3):
        fake.add_entry("dev", config={"delivery:fleetSize": str(number)}, commit="c" * 40, message=f"change {number}")
    result = ops("history", "-s", "dev", "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "version 3  update  succeeded" in result.stdout
    assert "version 2  update  succeeded" in result.stdout and "version 1 " not in result.stdout
    assert "commit    cccccccccccc" in result.stdout
    assert "took 0:01:02" in result.stdout
    assert "config    changed delivery:fleetSize" in result.stdout


def test_history_reads_every_page(fake):
    state = fake.load()
    for version in range(1, 206):
        state["stacks"]["dev"]["history"].append(
            {"version": version, "kind": "update", "startTime": "2026-11-01T10:00:00.000Z", "message": "",
             "environment": {}, "config": {}, "result": "succeeded"}
        )
    fake.save(state)
    result = ops("history", "-s", "dev", "--json")
    assert result.returncode == 0, result.stderr
    assert [row["version"] for row in json.loads(result.stdout)] == list(range(205, 0, -1))
    pages = [call["argv"][call["argv"].index("--page") + 1] for call in fake.calls()]
    assert pages == ["1", "2", "3"]


def test_history_of_a_stack_without_updates(fake):
    result = ops("history", "-s", "dev")
    assert result.returncode == 0 and "stack dev has no history yet" in result.stdout


def test_history_of_an_unknown_stack_is_a_clear_error(fake):
    result = ops("history", "-s", "nope")
    assert result.returncode == 2
    assert "error: `pulumi stack history" in result.stderr and "no stack named 'nope' found" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_limit_is_refused_by_the_parser(fake):
    result = ops("history", "-s", "dev", "--limit", "0")
    assert result.returncode == 2 and "expected a whole number of at least 1" in result.stderr


def test_a_missing_project_directory_is_a_clear_error(fake, tmp_path):
    result = ops("history", "-s", "dev", "--cwd", str(tmp_path / "nope"))
    assert result.returncode == 2 and "no such directory" in result.stderr and "Traceback" not in result.stderr
