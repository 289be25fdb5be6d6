"""Argument parsing and dispatch. Each command lives in its own module, which exposes `register(subparsers)`:
it adds its parser and sets `handler=fn(args) -> int` as the parser default."""

from __future__ import annotations

import argparse
import importlib
import sys

from ops.errors import OpsError

# One module per command, in the order `--help` lists them.
COMMAND_MODULES: list[str] = ["ops.diagnose", "ops.history", "ops.rollback", "ops.check"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="Operate the delivery pipeline: explain a failing deployment, roll back the app or the stack.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
