"""The text view shows as many log lines as its evidence says it read (`--log-lines`, default 50)."""

from __future__ import annotations

import pytest

from tests.ops.diagnose.account import PIPELINE
from tests.ops.diagnose.builders import (
    BUILD_ID,
    bad_run,
    build,
    build_failed,
    command_failed,
    good_run,
    queue_run,
    run_cli,
    source_ok,
)

STREAM = "5b1f6c0e-0000-4000-8000-000000000001"


def _failed_build(account, log_lines: list[str]) -> None:
    good, good_actions = good_run(account)
    started = account.ago(20)
    queue_run(account, bad_run(account), [source_ok(started), build_failed(started)], last_success=good,
              last_success_actions=good_actions)
    account.stub["codebuild"].add_response("batch_get_builds", {"builds": [
        build("FAILED", "PRE_BUILD", "FAILED", command_failed("python -m pytest tests/app -q"), started)]},
        {"ids": [BUILD_ID]})
    account.write_build_log(STREAM, log_lines)


def _shown_tail(out: str) -> tuple[str, list[str]]:
    lines = out.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("  - [log_tail] "))
    shown = []
    for line in lines[start + 1:]:
        if not line.startswith("      "):
            break
        shown.append(line.strip())
    return lines[start], shown


@pytest.mark.parametrize(("flags", "expected"), [([], 50), (["--log-lines", "30"], 30), (["--log-lines", "80"], 80)])
def test_the_text_shows_every_line_it_says_it_read(account, capsys, flags, expected):
    log = [f"line {n}" for n in range(100)] + ["FAILED tests/app/test_api.py::test_x - boom", "1 failed"]
    _failed_build(account, log)

    code, out, _ = run_cli(capsys, "diagnose", "--pipeline", PIPELINE, *flags)

    assert code == 1
    summary, shown = _shown_tail(out)
    assert summary == f"  - [log_tail] last {expected} log lines of build {BUILD_ID}"
    assert shown == log[-expected:]
