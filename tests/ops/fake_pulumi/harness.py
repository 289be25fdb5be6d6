"""The rollback tests' world: a real git repository with two commits (the target's program, then HEAD's), a stack
history in the stand-in `pulumi`, `python -m ops` run as a real process (to completion, or started and signalled),
and a verdict that sorts what went wrong into the fault suite's three counts: tracebacks, wrong results and data
lost (a config file that is neither as it was nor what was deployed)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.fake_pulumi import FakePulumi, git, read_stack_config, write_stack_config

STACK = "prod"
OLD_SECRET = "old-s3cret-Alpha"
NEW_SECRET = "new-s3cret-Bravo"
TARGET_CONFIG = {
    "aws:region": "us-east-1",
    "delivery:fleetSize": "2",
    "delivery:dbPassword": (OLD_SECRET, True),
    "delivery:oldFlag": "on",
}
CURRENT_CONFIG = {
    "aws:region": "us-east-1",
    "delivery:fleetSize": "4",
    "delivery:dbPassword": (NEW_SECRET, True),
    "delivery:newFlag": "x",
}
TRACEBACK = "Traceback (most recent call last)"
# Stack names Pulumi refuses, or that would be a path (sdk/go/common/tokens/stack_name.go: 1-100 of A-Za-z0-9_.-).
BAD_STACK_NAMES = {
    "empty": "",
    "blank": " ",
    "over-long": "a" * 101,
    "parent": "../prod",
    "traversal": "prod/../../etc",
    "absolute": "/etc/passwd",
    "four-parts": "a/b/c/prod",
    "dot": ".",
    "dot-dot": "..",
    "option-like": "-rf",
    "space": "pro d",
    "newline": "prod\n",
    "non-ascii": "prød",
    "empty-part": "acme//prod",
    "trailing-slash": "prod/",
    "shell": "$(touch pwned)",
    "escape": "prod\x1b[2J",
}


def plain(config: dict) -> dict:
    return {key: (value[0] if isinstance(value, tuple) else value) for key, value in config.items()}


@dataclass
class Result:
    returncode: int | None
    stdout: str
    stderr: str
    hung: bool = False


class Running:
    """`python -m ops ...` started as a real child process in its own session (so a hung run is killed with every
    process it started), its output collected as it comes; signal it, then finish it."""

    def __init__(self, argv: list[str], stdin=subprocess.DEVNULL):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops", *argv],
            cwd=ROOT,
            env=os.environ.copy(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.out, self.err = bytearray(), bytearray()
        self.readers = [self._reader(self.process.stdout, self.out), self._reader(self.process.stderr, self.err)]

    @staticmethod
    def _reader(stream, into: bytearray) -> threading.Thread:
        def read() -> None:
            for chunk in iter(lambda: stream.read1(65536), b""):
                into.extend(chunk)

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.02)
        if text.encode() not in self.out:
            raise AssertionError(f"ops never printed {text!r}; stderr: {self.err.decode(errors='replace')}")

    def finish(self, timeout: float = 90.0) -> Result:
        hung = False
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for reader in self.readers:
            reader.join(timeout=10)
        code = None if hung else self.process.returncode
        return Result(code, self.out.decode(errors="replace"), self.err.decode(errors="replace"), hung=hung)


class Project:
    def __init__(self, path: Path, fake: FakePulumi, target_commit: str, head: str):
        self.path, self.fake, self.target_commit, self.head = path, fake, target_commit, head

    def ops(self, *args: str, timeout: float = 120) -> Result:
        """`python -m ops ARGS --cwd PROJECT`, non-interactive (stdin is not a terminal), run to its end."""
        return self.start(*args).finish(timeout=timeout)

    def start(self, *args: str, stdin=subprocess.DEVNULL) -> Running:
        return Running([*args, "--cwd", str(self.path)], stdin=stdin)

    @property
    def stack_file(self) -> Path:
        return self.path / f"Pulumi.{STACK}.yaml"

    def config(self) -> dict:
        """This checkout's Pulumi.prod.yaml as plaintext values."""
        return read_stack_config(self.path, STACK)

    def deployed(self) -> dict | None:
        """The config the last finished `pulumi up` ran with (what it deployed), or None when none finished."""
        ups = [call for call in self.fake.calls() if "up" in call]
        return ups[-1]["up"]["config"] if ups else None

    def worktrees(self) -> list[str]:
        listing = git(self.path, "worktree", "list", "--porcelain").splitlines()
        return [line for line in listing if line.startswith("worktree ")]

    def run_at_head(self) -> None:
        """Versions 6 (good, the target's config) and 7 (the current config), both at HEAD: the rollback then runs
        in this checkout and rewrites its Pulumi.prod.yaml."""
        self.fake.add_entry(STACK, config=TARGET_CONFIG, commit=self.head, message="good at head")
        self.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=self.head, message="bad at head")


def build_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A repository with two commits (the target's program, then HEAD's) and a history in which version 1 is the
    only good update before the newest: 1 update ok @c1, 2 refresh, 3 preview, 4 update failed, 5 update ok @HEAD."""
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack(STACK, outputs={"pipelineName": "delivery-prod"})
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "the-stack-passphrase")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "Pulumi.yaml").write_text("name: delivery\nruntime: python\n")
    (repo / "__main__.py").write_text("PROGRAM = 'one'\n")
    write_stack_config(repo, STACK, TARGET_CONFIG)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "program one")
    target_commit = git(repo, "rev-parse", "HEAD")
    (repo / "__main__.py").write_text("PROGRAM = 'two'\n")
    (repo / f"Pulumi.{STACK}.yaml").unlink()
    write_stack_config(repo, STACK, CURRENT_CONFIG)
    git(repo, "commit", "-q", "-am", "program two")
    head = git(repo, "rev-parse", "HEAD")
    fake.add_entry(STACK, config=TARGET_CONFIG, commit=target_commit, message="good")
    fake.add_entry(STACK, kind="refresh", config=TARGET_CONFIG, commit=target_commit)
    fake.add_entry(STACK, kind="preview", config=CURRENT_CONFIG, commit=head)
    fake.add_entry(STACK, result="failed", config=CURRENT_CONFIG, commit=head)
    fake.add_entry(STACK, config=CURRENT_CONFIG, commit=head, message="bad")
    return Project(repo, fake, target_commit, head)


def ops(*argv: str, timeout: float = 120) -> Result:
    """`python -m ops ARGV` run to its end (for commands that need no project)."""
    return Running(list(argv)).finish(timeout=timeout)


def run_main(argv: list[str]) -> Result:
    """`ops.cli.main(argv)` in this process, as the shell would see it: an exception escaping it is a traceback."""
    from ops import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:  # what the interpreter would print as a traceback
            err.write(traceback.format_exc())
            code = 1
    return Result(code, out.getvalue(), err.getvalue())


class Verdict:
    """Collects what went wrong, each tagged TRACEBACK, WRONG or DATA LOST; `done()` fails the test with all of them
    (the closing note counts the tags)."""

    def __init__(self, result: Result | subprocess.CompletedProcess):
        self.result = result
        self.problems: list[str] = []
        if getattr(result, "hung", False):
            self.problems.append("WRONG: hung (killed after the timeout)")
        if TRACEBACK in (result.stdout or "") + (result.stderr or ""):
            self.problems.append("TRACEBACK: " + _last_lines(result.stderr))

    def expect(self, ok: bool, what: str) -> Verdict:
        if not ok:
            self.problems.append(f"WRONG: {what}")
        return self

    def keep(self, ok: bool, what: str) -> Verdict:
        if not ok:
            self.problems.append(f"DATA LOST: {what}")
        return self

    def exit_code(self, expected: int | tuple[int, ...]) -> Verdict:
        allowed = expected if isinstance(expected, tuple) else (expected,)
        return self.expect(self.result.returncode in allowed, f"exit code {self.result.returncode}, not {expected}")

    def one_line(self, *fragments: str) -> Verdict:
        """stderr is one line (the message), holding each fragment."""
        lines = [line for line in (self.result.stderr or "").splitlines() if line.strip()]
        self.expect(len(lines) == 1, f"stderr is {len(lines)} lines, not one: {lines[:4]!r}")
        for fragment in fragments:
            self.expect(fragment in (self.result.stderr or ""), f"stderr lacks {fragment!r}")
        return self

    def no_secret(self, *secrets: str) -> Verdict:
        for secret in secrets or (OLD_SECRET, NEW_SECRET):
            for part in (secret, secret[:8], secret[-8:]):
                self.expect(part not in (self.result.stdout or "") + (self.result.stderr or ""), "printed a secret")
        return self

    def done(self) -> None:
        assert not self.problems, "\n".join(self.problems) + f"\n--- stderr:\n{_last_lines(self.result.stderr, 15)}"


def _last_lines(text: str | None, count: int = 3) -> str:
    return "\n".join((text or "").strip().splitlines()[-count:])
