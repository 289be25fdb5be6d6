"""Running the Pulumi CLI found on PATH, and reading stack outputs (the handles other commands need).

Pulumi runs in its own session, so a Ctrl-C typed at the terminal, or a terminal that closes, reaches ops only, and
ops passes each signal on exactly once (a second copy from the terminal would make Pulumi terminate instead of
cancel). SIGINT and SIGTERM go as they are: the engine's cancellation scope cancels on the first and terminates on
the second (pkg/backend/cancellation_scope.go in github.com/pulumi/pulumi: `signal.Notify(c.sigint, os.Interrupt,
syscall.SIGTERM)`). SIGHUP goes as SIGINT, because Pulumi does not handle it and Go's default for an unhandled
SIGHUP is to exit at once (https://pkg.go.dev/os/signal, "Default behavior of signals in Go programs"), leaving a
self-managed backend's lock behind. ops keeps reading Pulumi's output until Pulumi exits: a Go program whose write to
a broken stdout pipe fails dies of SIGPIPE (same page, "SIGPIPE"), which would cut the cancellation short."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ops import interrupts
from ops.errors import OpsError, printable

FORWARD = {signal.SIGINT: signal.SIGINT, signal.SIGTERM: signal.SIGTERM, signal.SIGHUP: signal.SIGINT}
# What the Pulumi CLI prints when another operation holds the stack: Pulumi Cloud's 409, and a self-managed
# backend's lock (pkg/backend/diy/lock.go), which lists one line per lock after it. The Automation API checks the
# same two texts (sdk/go/auto/errors.go, IsConcurrentUpdateError).
LOCKED_TEXTS = ("[409] Conflict: Another update is currently in progress.", "the stack is currently locked by")
QUIET_SECONDS = 30.0  # a note after this long without a word from Pulumi
LONGEST_LINE = 1 << 20  # bytes; a longer "line" is handled in pieces
TAIL_LINES = 20


class StackLocked(OpsError):
    """Another operation holds the stack: Pulumi refused before changing anything."""


@dataclass
class Run:
    """One finished Pulumi process: its exit code (negative: killed by that signal), its output, and the signals ops
    received (and passed on) while it ran."""

    args: list[str]
    code: int
    stdout: bytes = b""
    stderr: bytes = b""
    tail: list[str] = field(default_factory=list)
    locked: bool = False
    signals: list[int] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"`pulumi {' '.join(self.args)}`"

    @property
    def step(self) -> str:
        return step_title(self.args)

    def exit_text(self) -> str:
        if self.code < 0:
            return f"pulumi was killed by {signal.Signals(-self.code).name}"
        return f"exit code {self.code}"

    @property
    def ended_cleanly(self) -> bool:
        """Pulumi exited by itself after at most one cancellation request (so it released what it held)."""
        return self.code >= 0 and len(self.signals) < 2


class PulumiInterrupted(interrupts.Interrupted):
    """A signal arrived while Pulumi ran; it was passed on and Pulumi has exited. `run` is what it did."""

    def __init__(self, run: Run):
        super().__init__(run.signals[0], during=run.step)
        self.run = run


def step_title(args: Sequence[str]) -> str:
    """The command's words before its first flag: `pulumi config set KEY`, `pulumi preview`."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return f"`pulumi {' '.join(words)}`"


def mentions_lock(text: str) -> bool:
    return any(locked in text for locked in LOCKED_TEXTS)


def pulumi_executable() -> str:
    found = shutil.which("pulumi")
    if not found:
        raise OpsError("the Pulumi CLI was not found on PATH; install it (https://www.pulumi.com/docs/install/)")
    return found


def _say(text: str) -> None:
    """Progress on stdout; a terminal that is gone does not stop the work."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(text)
        sys.stdout.flush()


class _Child:
    """The running Pulumi process, which hears every signal ops receives, in order, each once."""

    def __init__(self, args: Sequence[str]):
        self.title = step_title(args)
        self.process: subprocess.Popen | None = None
        self.received: list[int] = []
        self.delivered = 0
        self._busy = False

    def on_signal(self, signum: int) -> None:
        self.received.append(signum)
        name = signal.Signals(signum).name
        if len(self.received) == 1:
            _say(f"\n==> {name}: asked {self.title} to cancel; waiting for it to stop cleanly "
                 "(send the signal again to make it stop at once)\n")
        else:
            _say(f"\n==> {name} again: {self.title} stops at once\n")
        self.deliver()

    def deliver(self) -> None:
        """Passes on what was received and not passed on yet: from the handler, and once right after the start (a
        signal that came while the process was being started). `_busy` keeps a signal that arrives during the loop
        (its handler runs inside it) from being passed on twice: Pulumi reads a second one as "terminate"."""
        if self._busy or self.process is None:
            return
        self._busy = True
        try:
            while self.delivered < len(self.received):
                signum = self.received[self.delivered]
                self.delivered += 1
                if self.process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.process.pid, FORWARD[signum])
        finally:
            self._busy = False


def _run(args: Sequence[str], cwd: Path | str | None, stdin: bytes | None, stream: bool) -> Run:
    command = [pulumi_executable(), *args, "--non-interactive"]
    child = _Child(args)
    with interrupts.deferred(on_signal=child.on_signal, absorb=True):
        if child.received:  # before it even started: do not start it
            raise interrupts.Interrupted(child.received[0], during=child.title)
        try:
            child.process = subprocess.Popen(
                command, cwd=cwd, start_new_session=True,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if stream else subprocess.PIPE,
            )
        except OSError as error:
            raise OpsError(f"could not run the Pulumi CLI ({command[0]}): {error.strerror}") from error
        child.deliver()
        with child.process as process:
            run = _stream(process, list(args)) if stream else _capture(process, list(args), stdin or b"")
    run.signals = list(child.received)
    if run.signals:
        raise PulumiInterrupted(run)
    return run


def _capture(process: subprocess.Popen, args: list[str], stdin: bytes) -> Run:
    """Collects Pulumi's output, with a note each QUIET_SECONDS it takes. Input goes with the first call only:
    communicate() refuses it once started, and keeps what it already read across its timeouts (Python docs)."""
    started, payload = time.monotonic(), stdin
    while True:
        try:
            out, err = process.communicate(payload, timeout=QUIET_SECONDS)
            return Run(args, process.returncode, out or b"", err or b"")
        except subprocess.TimeoutExpired:
            payload = None
            _say(f"    ... {step_title(args)} is still running ({_elapsed(started)})\n")


def _stream(process: subprocess.Popen, args: list[str]) -> Run:
    """Echoes Pulumi's output line by line as it comes, keeps the last lines for messages and notices a lock
    message wherever it appears, notes long silences, and reads until the pipe closes."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    locked, pending, started = False, b"", time.monotonic()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout=QUIET_SECONDS):
                _say(f"    ... {step_title(args)} is still running ({_elapsed(started)}; nothing printed for "
                     f"{QUIET_SECONDS:g}s)\n")
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()  # the line not finished yet (all of it at the end of the output)
            if not chunk or len(pending) > LONGEST_LINE:
                lines, pending = [*lines, pending] if pending else lines, b""
            for raw in lines:
                text = raw.decode("utf-8", errors="replace")
                _say(text + "\n")
                tail.append(text)
                locked = locked or mentions_lock(text)
            if not chunk:
                break
    process.wait()
    return Run(args, process.returncode, tail=list(tail), locked=locked)


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def run_pulumi(args: Sequence[str], cwd: Path | str | None = None, stdin_text: str = "", secret: bool = False) -> Run:
    """Runs `pulumi ARGS` non-interactively and returns its output; a non-zero exit raises OpsError (StackLocked
    when another operation holds the stack). `stdin_text` is its whole standard input (how `pulumi config set` takes
    a value that must not be on argv); with `secret`, Pulumi's error text is not shown when it repeats any part of
    that value. The message never uses stdout: a command run with --show-secrets prints secrets there."""
    run = _run(args, cwd, stdin_text.encode(), stream=False)
    if run.code == 0:
        return run
    errors = run.stderr.decode("utf-8", errors="replace")
    if mentions_lock(errors):
        raise StackLocked(f"{run.title} refused: the stack is locked by another update")
    lines = [line.strip() for line in errors.splitlines() if line.strip()]
    detail = printable(lines[-1])[:500] if lines else run.exit_text()
    if secret and lines and shares_secret(lines[-1], stdin_text.rstrip("\n")):
        detail = f"{run.exit_text()} (Pulumi's message is not shown: it repeats part of the secret it was given)"
    raise OpsError(f"{run.title} failed: {detail}")


SECRET_PIECE = 6  # characters: a message holding this much of a secret in a row is not printed


def shares_secret(text: str, secret: str) -> bool:
    """Whether `text` holds the secret, or any SECRET_PIECE characters of it in a row."""
    if not secret:
        return False
    if len(secret) <= SECRET_PIECE:
        return secret in text
    return any(secret[start : start + SECRET_PIECE] in text for start in range(len(secret) - SECRET_PIECE + 1))


def run_pulumi_json(args: Sequence[str], cwd: Path | str | None = None):
    """`pulumi ARGS --json`, parsed. Its stdout must be UTF-8 (the CLI's JSON always is); anything else is refused
    rather than guessed at, since it may hold config values to restore."""
    run = run_pulumi([*args, "--json"], cwd=cwd)
    title = f"`pulumi {' '.join(args)} --json`"
    try:
        text = run.stdout.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OpsError(f"{title} printed bytes that are not UTF-8 (at byte {error.start}); nothing was read") from None
    try:
        return json.loads(text or "null")
    except json.JSONDecodeError as error:
        raise OpsError(f"{title} did not print JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except (ValueError, RecursionError) as error:  # e.g. an integer too long to convert, or nesting too deep
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(":")[0]
        raise OpsError(f"{title} printed JSON that cannot be read: {reason}") from None


def run_pulumi_streaming(args: Sequence[str], cwd: Path | str | None = None) -> Run:
    """Runs `pulumi ARGS` non-interactively, echoing its output line by line as it comes (long operations show
    progress); the Run's `tail` holds the last lines for error messages and `locked` says whether a lock message
    appeared anywhere in the output."""
    return _run(args, cwd, None, stream=True)


def stack_outputs(stack: str, cwd: Path | str | None = None) -> dict:
    """`pulumi stack output --json` for STACK (secret outputs stay masked)."""
    outputs = run_pulumi_json(["stack", "output", "--stack", stack], cwd=cwd)
    return outputs if isinstance(outputs, dict) else {}


def stack_handle(outputs: dict, key: str, override: str | None, flag: str) -> str:
    """A handle such as the pipeline name: the flag wins, else the stack output, else a clear error."""
    value = override or outputs.get(key)
    if not value:
        raise OpsError(f"the stack has no output `{key}`; pass {flag} to name it")
    return str(value)
