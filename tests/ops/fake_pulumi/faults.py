"""Fault injection and signal behaviour for the stand-in `pulumi` (cli.py).

Signals, as the real CLI (a Go program) handles them:
- Outside an update (`config set`, `stack history`, `install`, ...) Pulumi installs no handler, and Go's default for
  SIGHUP, SIGINT and SIGTERM is to exit at once (https://pkg.go.dev/os/signal, "Default behavior of signals in Go
  programs").
- During `preview` and `up` the engine's cancellation scope handles SIGINT and SIGTERM: the first asks the engine
  to cancel ("^C received; cancelling. If you would like to terminate immediately, press ^C again."), the second
  terminates (pkg/backend/cancellation_scope.go in github.com/pulumi/pulumi, `signal.Notify(c.sigint,
  os.Interrupt, syscall.SIGTERM)`). SIGHUP is not in that list, so it still kills the process.
- A Go program whose write to a broken stdout/stderr pipe fails dies of SIGPIPE (https://pkg.go.dev/os/signal,
  "SIGPIPE"): so Pulumi can only finish a cancellation, release its lock and record the update while whoever reads
  its output keeps the pipe open. The stand-in resets SIGPIPE to its default and writes unbuffered to match.

Each signal received is appended to the call log at once (`{"event": "signal", ...}`), before the stand-in acts on
it, so a test can check that ops forwarded it even when it kills the stand-in.

Faults: the state's behaviour `faults` maps a command ("stack history", "config", "config set", "config rm",
"install", "preview", "up", "cancel") to what goes wrong there:
    fail: {"stderr": str, "stdout": str, "code": int}   exit with this output instead of answering
    lock_lines: N        fail with the DIY backend's lock message followed by N lock lines (pkg/backend/diy/lock.go)
    binary: "stdout" | "stderr"   non-UTF-8 bytes in that stream (inside the JSON of a --json answer)
    kill_after: N        write N lines of the answer, then die of SIGKILL (an OOM kill mid-output)
    block: seconds       stop at the step (after its effect, for config set/rm; mid-engine for preview/up) until
                         released, signalled or timed out; the marker file at/<command> holds the pid
    silent: seconds      wait without a word before answering (a slow backend)
    echo_stdin: true     the error message repeats the value read on stdin (a careless CLI)
    after_up: true       the fault applies only once an `up` has run in this state
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

ENGINE_SIGNALS = (signal.SIGINT, signal.SIGTERM)
ALL_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
BINARY = b"\xff\xfe caf\xe9 \x80\x81"
DIY_LOCK_HEAD = (
    "error: the stack is currently locked by {count} lock(s). Either wait for the other process(es) to end or "
    "delete the lock file with `pulumi cancel`."
)
DIY_LOCK_LINE = "  file:///state/.pulumi/locks/organization/delivery/{stack}/{n:08d}.json: created by ci@runner-{n} (pid {pid}) at 2026-11-01T09:00:00Z"  # noqa: E501


class Failure(Exception):
    """The command fails: `message` on stderr, exit `code` (255 is what the CLI exits with on an error)."""

    def __init__(self, message: str, code: int = 255):
        super().__init__(message)
        self.code = code


def say(data: str | bytes, fd: int = 1) -> None:
    """Unbuffered, like Go's writes: a broken pipe kills the process right here (SIGPIPE at its default)."""
    os.write(fd, data.encode() if isinstance(data, str) else data)


def command_key(words: list[str]) -> str:
    if words[:1] in (["stack"], ["config"]) and len(words) > 1 and words[1] in ("history", "output", "set", "rm"):
        return " ".join(words[:2])
    return words[0] if words else ""


def active(state: dict, key: str) -> dict:
    fault = dict(state["behaviour"].get("faults", {}).get(key) or {})
    if fault.get("after_up") and not state.get("ups"):
        return {}
    return fault


def lock_message(stack: str, count: int) -> str:
    lines = [DIY_LOCK_HEAD.format(count=count)]
    lines += [DIY_LOCK_LINE.format(stack=stack, n=n, pid=40000 + n) for n in range(1, count + 1)]
    return "\n".join(lines)


class Signals:
    """What the stand-in does on SIGINT/SIGTERM/SIGHUP, recording each in the log first."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.cancelled: str | None = None

    def record(self, signum: int) -> None:
        event = {"event": "signal", "signal": signal.Signals(signum).name, "argv": self.argv, "pid": os.getpid()}
        with open(os.environ["FAKE_PULUMI_LOG"], "a") as handle:
            handle.write(json.dumps(event) + "\n")

    def outside_engine(self) -> None:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for signum in ALL_SIGNALS:
            signal.signal(signum, self._die)

    def inside_engine(self) -> None:
        for signum in ENGINE_SIGNALS:
            signal.signal(signum, self._cancel)

    def _die(self, signum: int, _frame) -> None:
        self.record(signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _cancel(self, signum: int, _frame) -> None:
        self.record(signum)
        shown = "^C" if signum == signal.SIGINT else "SIGTERM"
        if self.cancelled is None:
            self.cancelled = shown
            again = "press ^C again" if signum == signal.SIGINT else "send SIGTERM again"
            say(f"{shown} received; cancelling. If you would like to terminate immediately, {again}.\n")
            return
        say(f"{shown} received; terminating\n")
        os._exit(255)  # terminated: no history entry recorded, and the lock stays


def block(key: str, seconds: float, signals: Signals) -> None:
    """Waits at this step until the test releases it, a signal cancels the engine, or `seconds` pass."""
    state_dir = Path(os.environ["FAKE_PULUMI_STATE"]).parent
    name = key.replace(" ", "-")
    (state_dir / "at").mkdir(exist_ok=True)
    (state_dir / "at" / name).write_text(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and signals.cancelled is None:
        if (state_dir / "release" / name).exists():
            return
        time.sleep(0.02)


def before(fault: dict, key: str, stack: str) -> None:
    """The faults that strike before the command does anything."""
    if fault.get("silent"):
        time.sleep(float(fault["silent"]))
    if fault.get("lock_lines"):
        raise Failure(lock_message(stack, int(fault["lock_lines"])))
    failing = fault.get("fail")
    if failing:
        if failing.get("stdout"):
            say(failing["stdout"] + "\n")
        stderr = failing.get("stderr", "")
        if fault.get("binary") == "stderr":
            say(stderr.encode() + b" " + BINARY + b"\n", fd=2)
            stderr = ""
        raise Failure(stderr, int(failing.get("code", 255)))


def shape_output(fault: dict, output: str) -> bytes:
    """The answer as bytes, with non-UTF-8 bytes inside it when asked (inside the first JSON string)."""
    data = output.encode()
    if fault.get("binary") == "stdout" and data:
        quote = data.find(b'"')
        data = data[: quote + 1] + BINARY + data[quote + 1 :] if quote >= 0 else BINARY + data
    return data


def write_answer(fault: dict, data: bytes) -> None:
    """Writes the answer; with `kill_after`, only its first N lines, then dies of SIGKILL mid-output."""
    kill_after = fault.get("kill_after")
    if kill_after is None:
        if data:
            say(data if data.endswith(b"\n") else data + b"\n")
        return
    lines = data.split(b"\n")
    say(b"\n".join(lines[: int(kill_after)]))  # no final newline: cut mid-output
    os.kill(os.getpid(), signal.SIGKILL)


def run_engine(key: str, lines: list[str], fault: dict, signals: Signals, step_seconds: float) -> bool:
    """Streams `lines` as the engine's progress; returns False when a signal cancelled it. Pulumi keeps writing after
    a cancel (the summary and the error), which is where a closed pipe would kill it."""
    signals.inside_engine()
    middle = len(lines) // 2
    for index, line in enumerate(lines):
        if signals.cancelled:
            break
        say(line + "\n")
        if fault.get("binary") == "stdout" and index == 1:
            say(BINARY + b"\n")
        if fault.get("kill_after") is not None and index + 1 >= int(fault["kill_after"]):
            os.kill(os.getpid(), signal.SIGKILL)
        if fault.get("block") and index == middle:
            block(key, float(fault["block"]), signals)
        if step_seconds:
            time.sleep(step_seconds)
    if signals.cancelled:
        say("\nResources:\n    ~ 1 to update (cancelled)\n\n")
        say("Duration: 2s\n")
    return signals.cancelled is None
