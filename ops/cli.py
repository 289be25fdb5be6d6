"""Argument parsing and dispatch. The commands are listed in COMMANDS (name, one-line help, module); a command's
module is imported only when the command runs or its own --help is asked, so `python -m ops --help` loads neither
boto3 nor the Pulumi SDK. Each module exposes `register(subparsers)`: it calls `subparsers.add_parser(name, ...)`,
adds its arguments to the parser it gets back, and sets `handler=fn(args) -> int` as the parser default.
(`benchmarks/cli_start.py` times `--help` against the interpreter's own start; tests/ops/test_cli.py checks what it
loads.)

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


class Command:
    """A command of a table: the one line `--help` shows for it, and the module whose `register(subparsers)` adds
    its parser (imported only when the command is chosen)."""

    __slots__ = ("help", "module")

    def __init__(self, help: str, module: str):
        self.help, self.module = help, module


# In the order `--help` lists them.
COMMANDS: dict[str, Command] = {
    "diagnose": Command("explain why the latest deployment is failing, and what to do next", "ops.diagnose"),
    "history": Command("list the stack's updates, newest first", "ops.history"),
    "releases": Command("list the releases, newest first: where each is live, what it did here", "ops.releases"),
    "rollback": Command("roll back the app (CodeDeploy) or the stack (Pulumi)", "ops.rollback"),
    "check": Command("run the policy packs offline against the planned stack", "ops.check"),
}
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (subcommands inherit the class). A command's parser starts
    empty, knowing its module: the module fills it in when the parser is first used (the command was chosen, or its
    --help asked), or at once when `eager` (for tools that walk every command's arguments)."""

    def __init__(self, *args, module: str | None = None, eager: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._module, self._eager = module, eager

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        self.load()
        return super().parse_known_args(args, namespace)

    def load(self) -> None:
        """Has the command's module register its arguments on this parser (once)."""
        if self._module is not None:
            module, self._module = self._module, None
            importlib.import_module(module).register(_Registrar(self))


class _Registrar:
    """What a command module's `register(subparsers)` is given: `add_parser` hands back the parser the table made
    for the command (whose help is the table's), with the module's description."""

    def __init__(self, parser: _Parser):
        self._parser = parser

    def add_parser(self, name: str, *, help: str | None = None, **settings) -> _Parser:
        if name != self._parser.prog.split()[-1]:
            raise ValueError(f"the module registers command `{name}` for `{self._parser.prog}`")
        for setting, value in settings.items():  # description, epilog, formatter_class, ...
            if not hasattr(self._parser, setting):
                raise TypeError(f"add_parser() got an unexpected setting {setting!r}")
            setattr(self._parser, setting, value)
        return self._parser


def add_commands(parser: argparse.ArgumentParser, commands: dict[str, Command], **subparsers_settings) -> None:
    """A subcommand of `parser` for each of `commands`, listed with its help; its module is loaded when it is used."""
    eager = isinstance(parser, _Parser) and parser._eager
    subparsers = parser.add_subparsers(parser_class=_Parser, **subparsers_settings)
    for name, command in commands.items():
        sub = subparsers.add_parser(name, help=command.help, module=command.module, eager=eager)
        if eager:
            sub.load()


def build_parser(every_command: bool = True) -> argparse.ArgumentParser:
    """The CLI's parser. `main` builds it with `every_command=False`: a command's arguments are added only when that
    command is chosen. By default every command's module is loaded now, for tools that walk the whole tree."""
    parser = _Parser(
        prog="python -m ops",
        description="Operate the delivery pipeline: explain a failing deployment, roll back the app or the stack.",
        eager=every_command,
    )
    add_commands(parser, COMMANDS, dest="command", metavar="COMMAND", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    with interrupts.raising(), _tolerant(sys, "stdout"), _tolerant(sys, "stderr"):
        try:
            args = build_parser(every_command=False).parse_args(argv)
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
