"""Argument types shared by the commands: argparse turns their ArgumentTypeError into a usage error."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from ops.errors import OpsError, printable


def whole_number(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high] (high unbounded when None)."""
    allowed = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got '{printable(text)}'") from None
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got '{printable(text)}'")
        return number

    parse.__name__ = "whole number"
    return parse


def positive_seconds(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got '{printable(text)}'")
    return number


# Pulumi's rule for a stack name: 1-100 of A-Za-z0-9, '-', '_', '.' (sdk/go/common/tokens/stack_name.go in
# github.com/pulumi/pulumi), optionally qualified as ORG/NAME or ORG/PROJECT/NAME with parts of the same characters.
_STACK_PART = re.compile(r"[A-Za-z0-9_.-]+")
_STACK_NAME_MAX = 100


def stack_name(text: str) -> str:
    """A stack name that is also safe in a file name (Pulumi.<name>.yaml, the rollback lock): one to three parts
    split by '/', each of Pulumi's stack name characters, not '.' or '..', not starting with '-'."""
    shown = printable(text)
    if not text.strip():
        raise argparse.ArgumentTypeError("a stack name may not be empty")
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected NAME, ORG/NAME or ORG/PROJECT/NAME, got '{shown}'")
    if len(parts[-1]) > _STACK_NAME_MAX:
        raise argparse.ArgumentTypeError(f"a stack name cannot exceed {_STACK_NAME_MAX} characters")
    for part in parts:
        if not _STACK_PART.fullmatch(part) or part in (".", "..") or part.startswith("-"):
            raise argparse.ArgumentTypeError(
                f"a stack name may only contain letters, digits, '-', '_' and '.' (and not be '.', '..' or start "
                f"with '-'); got '{shown}'"
            )
    return text


def existing_directory(text: str, flag: str) -> Path:
    """A directory argument checked once parsing is done (the docs' example commands must parse anywhere): the
    resolved path, or a one-line refusal."""
    if not text:
        raise OpsError(f"{flag} is empty; name the Pulumi project directory")
    path = Path(text)
    if not path.is_dir():
        raise OpsError(f"{flag} {printable(text)}: no such directory")
    return path.resolve()
