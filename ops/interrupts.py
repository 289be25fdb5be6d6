"""The signals that end a command: Ctrl-C (SIGINT), SIGTERM (a supervisor, `kill`, a CI runner's cancel) and SIGHUP
(the terminal went away).

By default each raises `Interrupted` where the program is, as Ctrl-C raises KeyboardInterrupt, so `finally` blocks
and context managers clean up. Inside `deferred()` a signal is recorded instead, for work that must not be cut in
half: a child process that has to hear of the signal itself and end cleanly (the block then raises `Interrupted`
once the child is done), or a cleanup that must finish (with `absorb`, the command is ending anyway). The exit code
is the shell's 128 + the signal number: 130, 143, 129."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal ended the command. `during` names what was running, `detail` says (in one line) what state it left;
    both are filled in by whoever knows."""

    def __init__(self, signum: int, during: str = "", detail: str = ""):
        super().__init__(signum)
        self.signum, self.during, self.detail = signum, during, detail

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        during = f" during {self.during}" if self.during else ""
        return f"interrupted ({self.name}){during}" + (f": {self.detail}" if self.detail else "")


class _Frame:
    """How signals are handled inside one `raising()` or `deferred()` block, and what it received. (A plain class:
    this module loads with every command, `--help` included, and importing dataclasses would add a fifth to it.)"""

    __slots__ = ("absorb", "on_signal", "raising", "received")

    def __init__(self, raising: bool, on_signal: Callable[[int], None] | None = None, absorb: bool = False):
        self.raising, self.on_signal, self.absorb = raising, on_signal, absorb
        self.received: list[int] = []


_frames: list[_Frame] = []


def _handle(signum: int, _stack) -> None:
    top = _frames[-1] if _frames else None
    if top is None or top.raising:
        raise Interrupted(signum)
    top.received.append(signum)
    if top.on_signal is not None:
        top.on_signal(signum)


@contextmanager
def _pushed(frame: _Frame) -> Iterator[_Frame]:
    """Makes `frame` the one that decides, with our handler installed (the main thread only: Python delivers signals
    there), and puts the previous handlers back afterwards."""
    previous: dict[int, object] = {}
    _frames.append(frame)
    try:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                previous[signum] = signal.signal(signum, _handle)
        yield frame
    finally:
        _frames.pop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def raising() -> Iterator[None]:
    """The command's default: SIGINT, SIGTERM and SIGHUP raise `Interrupted` (instead of Python's default for the
    last two, which ends the process on the spot with no cleanup at all)."""
    with _pushed(_Frame(raising=True)):
        yield


@contextmanager
def deferred(on_signal: Callable[[int], None] | None = None, absorb: bool = False) -> Iterator[list[int]]:
    """Signals are recorded in the yielded list (and passed to `on_signal`) rather than raised. When the block ends
    normally, the first one is raised as `Interrupted`, unless `absorb`, or unless an enclosing block absorbs (work
    done inside a cleanup must not cut the cleanup short)."""
    absorb = absorb or any(frame.absorb and not frame.raising for frame in _frames)
    with _pushed(_Frame(raising=False, on_signal=on_signal, absorb=absorb)) as frame:
        yield frame.received
    if frame.received and not absorb:
        raise Interrupted(frame.received[0])
