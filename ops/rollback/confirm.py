"""The one confirmation both rollback layers ask for before they change anything."""

from __future__ import annotations

import sys

from ops.errors import OpsError

EXIT_DECLINED = 1


def confirm(confirmed: bool, question: str, action: str, declined: str) -> None:
    """Returns when `--yes` was given or the operator answers yes at a terminal. Otherwise refuses, before anything
    changed: exit 2 when no one could be asked (`action` says what --yes would allow), exit 1 when they said no. The
    end of input (Ctrl-D) is no answer, and no answer is no."""
    if confirmed:
        return
    if not _interactive():
        raise OpsError(f"not confirmed: pass --yes to {action} from a non-interactive session")
    try:
        answer = input(f"\n{question} [y/N] ")
    except EOFError:
        print()  # the terminal shows no newline for Ctrl-D
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise OpsError(f"cancelled: {declined}", exit_code=EXIT_DECLINED)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # stdin closed
        return False
