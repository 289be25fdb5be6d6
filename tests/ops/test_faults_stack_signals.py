"""Fault class 2, signals: `python -m ops rollback stack` run as a real process with the stand-in `pulumi` on PATH,
and sent SIGINT (Ctrl-C), SIGTERM or SIGHUP while the stand-in is held at each step.

What must hold every time: the signal reaches Pulumi (SIGINT and SIGTERM as they are, SIGHUP as SIGINT: Pulumi
cancels on SIGINT and SIGTERM only, and Go's default for SIGHUP would kill it without releasing its lock), Pulumi
finishes cleanly because ops keeps reading its output, Pulumi.prod.yaml is put back when nothing was applied (or
holds what `up` ran with when it was), no worktree is left, stderr says in one line what state the stack is in, and
the exit code is 128 + the signal number."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.fake_pulumi.harness import STACK, TARGET_CONFIG, Project, Result, Verdict, build_project, plain

pytestmark = pytest.mark.slow
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
FORWARDED = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGINT"}
BEFORE_UP = [
    ("stack history", "head"),
    ("install", "worktree"),
    ("config set", "head"),
    ("config set", "worktree"),
    ("config rm", "head"),
    ("preview", "head"),
    ("preview", "worktree"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return build_project(tmp_path, monkeypatch)


def at(project: Project, where: str) -> None:
    if where == "head":
        project.run_at_head()


def received(project: Project, step: str) -> list[str]:
    words = step.split()
    return [event["signal"] for event in project.fake.signals() if event["argv"][: len(words)] == words]


def wait_until_received(project: Project, step: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not received(project, step) and time.monotonic() < deadline:
        time.sleep(0.02)


def interrupted(project: Project, step: str, signum: int, where: str):
    """Starts a rollback, waits for the stand-in at `step`, sends `signum` to ops, and returns (result, bytes of
    Pulumi.prod.yaml before)."""
    at(project, where)
    before = project.stack_file.read_bytes()
    project.fake.fault(step, block=15)
    run = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at(step)
    run.send(signum)
    return run.finish(), before


def common(verdict: Verdict, project: Project, step: str, signum: int) -> Verdict:
    name = signal.Signals(signum).name
    verdict.exit_code(128 + signum).one_line(f"interrupted ({name})")
    verdict.expect(received(project, step)[:1] == [FORWARDED[signum]],
                   f"pulumi {step} received {received(project, step)}, not {FORWARDED[signum]}")
    verdict.expect(len(project.worktrees()) == 1, "a worktree was left behind")
    verdict.expect(project.fake.lock(STACK) is None, "the stack was left locked")
    return verdict.no_secret()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize(("step", "where"), BEFORE_UP, ids=lambda v: v.replace(" ", "-"))
def test_a_signal_before_up_forwards_it_puts_the_config_back_and_says_nothing_was_applied(
    project, step, where, signum
):
    result, before = interrupted(project, step, signum, where)
    verdict = common(Verdict(result), project, step, signum).one_line("nothing was applied")
    verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml was not put back")
    verdict.expect("up" not in project.fake.commands(), "`pulumi up` ran")
    verdict.done()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("where", ["head", "worktree"])
def test_a_signal_during_up_lets_pulumi_cancel_cleanly_and_says_what_state_the_stack_is_in(project, where, signum):
    result, before = interrupted(project, "up", signum, where)
    verdict = common(Verdict(result), project, "up", signum).one_line("pulumi up", "may be partly rolled back")
    up = [call for call in project.fake.calls() if call["argv"][:1] == ["up"]]
    verdict.expect(bool(up) and up[-1]["exitCode"] == 8, "pulumi up did not end cleanly (cancelled, exit 8)")
    verdict.expect(project.fake.history(STACK)[-1]["result"] == "failed", "the cancelled update was not recorded")
    if where == "head":
        verdict.keep(project.config() == project.deployed(), "Pulumi.prod.yaml differs from what `up` ran with")
        verdict.one_line("Pulumi.prod.yaml holds version 6's config")
    else:
        verdict.keep(project.stack_file.read_bytes() == before, "this checkout's Pulumi.prod.yaml changed")
    verdict.done()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_after_up_succeeded_says_the_rollback_was_applied(project, signum):
    project.run_at_head()
    project.fake.fault("stack history", block=15, after_up=True)
    run = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("stack history")
    run.send(signum)
    verdict = common(Verdict(run.finish()), project, "stack history", signum)
    verdict.one_line("`pulumi up` succeeded", "version 6's program and config")
    verdict.keep(project.config() == project.deployed() == plain(TARGET_CONFIG), "Pulumi.prod.yaml is not as deployed")
    verdict.done()


def test_a_second_ctrl_c_terminates_pulumi_and_prints_the_command_that_releases_the_lock(project):
    project.run_at_head()
    project.fake.fault("up", block=15)
    project.fake.behave(step_seconds=0.5)  # the cancellation takes a while, as a real one does
    run = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("up")
    run.send(signal.SIGINT)
    wait_until_received(project, "up")
    run.send(signal.SIGINT)
    result = run.finish()
    command = f"pulumi cancel --stack {STACK} --yes --cwd {project.path}"
    verdict = Verdict(result).exit_code(130).one_line("interrupted (SIGINT)", command)
    verdict.expect(received(project, "up") == ["SIGINT", "SIGINT"], f"pulumi received {received(project, 'up')}")
    verdict.expect(project.fake.lock(STACK) is not None, "the stand-in should have left its lock (terminated)")
    verdict.keep(project.config() == plain(TARGET_CONFIG), "Pulumi.prod.yaml is not what `up` ran with")
    released = subprocess.run(command.split(), capture_output=True, text=True, check=False)
    verdict.expect(released.returncode == 0 and project.fake.lock(STACK) is None, "the printed command did not work")
    verdict.done()


def test_a_second_ctrl_c_during_preview_still_puts_the_config_back(project):
    project.run_at_head()
    before = project.stack_file.read_bytes()
    project.fake.fault("preview", block=15)
    project.fake.behave(step_seconds=0.5)
    run = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("preview")
    run.send(signal.SIGINT)
    wait_until_received(project, "preview")
    run.send(signal.SIGINT)
    verdict = Verdict(run.finish()).exit_code(130).one_line("nothing was applied", "pulumi cancel --stack prod")
    verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml was not put back")
    verdict.done()


def test_a_closed_terminal_still_cleans_up(project):
    """The terminal went away: SIGHUP, and every write to it fails (here stdout and stderr are a pipe no one reads,
    closed from the start). ops must still forward the signal, read Pulumi's output to its end and put back."""
    project.run_at_head()
    before = project.stack_file.read_bytes()
    project.fake.fault("preview", block=15)
    reader, writer = os.pipe()
    os.close(reader)
    process = subprocess.Popen(
        [sys.executable, "-m", "ops", "rollback", "stack", "-s", STACK, "--yes", "--cwd", str(project.path)],
        cwd=ROOT, env=os.environ.copy(), stdin=subprocess.DEVNULL, stdout=writer, stderr=writer,
        start_new_session=True,
    )
    os.close(writer)
    try:
        project.fake.wait_at("preview")
        process.send_signal(signal.SIGHUP)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    verdict = Verdict(Result(code, "", "")).exit_code(129)
    verdict.expect(received(project, "preview") == ["SIGINT"], f"pulumi received {received(project, 'preview')}")
    verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml was not put back")
    preview = [call for call in project.fake.calls() if call["argv"][:1] == ["preview"]]
    verdict.expect(bool(preview), "pulumi preview died (its output pipe was closed) instead of cancelling cleanly")
    verdict.expect(len(project.worktrees()) == 1, "a worktree was left behind")
    verdict.done()


@pytest.mark.parametrize(
    ("action", "code", "fragment"),
    [
        ("ctrl-d", 1, "cancelled: `pulumi up` was not run"),
        (signal.SIGINT, 130, "interrupted (SIGINT)"),
        (signal.SIGTERM, 143, "interrupted (SIGTERM)"),
        (signal.SIGHUP, 129, "interrupted (SIGHUP)"),
    ],
    ids=["ctrl-d", "SIGINT", "SIGTERM", "SIGHUP"],
)
def test_at_the_confirmation_prompt_ctrl_d_means_no_and_a_signal_stops_cleanly(project, action, code, fragment):
    controller = None
    try:
        project.run_at_head()
        before_bytes = project.stack_file.read_bytes()
        controller, terminal = pty.openpty()
        run = project.start("rollback", "stack", "-s", STACK, stdin=terminal)
        os.close(terminal)
        run.wait_for_output("[y/N]")
        if action == "ctrl-d":
            os.write(controller, b"\x04")
        else:
            run.send(action)
        result = run.finish()
    finally:
        if controller is not None:
            os.close(controller)
    verdict = Verdict(result).exit_code(code).one_line(fragment)
    verdict.keep(project.stack_file.read_bytes() == before_bytes, "Pulumi.prod.yaml was not put back")
    verdict.expect("up" not in project.fake.commands(), "`pulumi up` ran")
    verdict.done()
