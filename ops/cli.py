"""Argument parsing and dispatch. Each command lives in its own module, which exposes `register(subparsers)`:
it adds its parser and sets `handler=fn(args) -> int` as the parser default.

An expected fault ends the command with one line on stderr and an exit code, never a traceback: a refusal or
failure (OpsError, its own code), a usage mistake (2), a signal (`interrupted (SIGINT) ...`, 128 + the signal
number), a file that cannot be read (2). Output that cannot be written (a closed pipe, a terminal that went away) is
dropped without stopping the work, which may be halfway through a rollback."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator

from ops import interrupts
from ops.errors import OpsError, printable

# One module per command, in the order `--help` lists them.
COMMAND_MODULES: list[str] = ["ops.diagnose", "ops.history", "ops.rollback", "ops.check"]
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (subcommands inherit the class)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ops",
        description="Operate the delivery pipeline: explain a failing deployment, roll back the app or the stack.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    with interrupts.raising(), _tolerant(sys, "stdout"), _tolerant(sys, "stderr"):
        try:
            args = build_parser().parse_args(argv)
            return args.handler(args)
        except (OpsError, KeyboardInterrupt, OSError, UnicodeError) as error:
            with interrupts.deferred(absorb=True):  # a second Ctrl-C while saying so changes nothing
                return _report(error)


def _report(error: BaseException) -> int:
    if isinstance(error, OpsError):
        print(f"error: {printable(str(error), keep_newlines=True)}", file=sys.stderr)
        return error.exit_code
    if isinstance(error, interrupts.Interrupted):
        print(printable(error.message()), file=sys.stderr)
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 128 + 2
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {printable(error.strerror or str(error))}{where}", file=sys.stderr)
        return 2
    print(f"error: {printable(str(error))}", file=sys.stderr)
    return 2


class _TolerantStream:
    """Wraps sys.stdout or sys.stderr: once a write fails (the reader went away), later output is dropped instead of
    raising in the middle of the work; text the stream cannot encode is written with backslash escapes."""

    def __init__(self, stream):
        self._stream, self.broken = stream, False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self._stream, "encoding", None) or "utf-8"
                self.write(text.encode(encoding, "backslashreplace").decode(encoding))
            except (OSError, ValueError):
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@contextlib.contextmanager
def _tolerant(module, name: str) -> Iterator[None]:
    original = getattr(module, name)
    wrapper = _TolerantStream(original)
    setattr(module, name, wrapper)
    try:
        yield
    finally:
        wrapper.flush()
        setattr(module, name, original)
        if wrapper.broken:  # so the interpreter's last flush at exit does not complain about the closed pipe
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), original.fileno())
