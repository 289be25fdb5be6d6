"""What each ending of `rollback stack` says once `pulumi up` has started: the new version read back from the
history (or, when it cannot be, what was applied and how to check), what an interrupted `up` left, and the commands
to run next (`pulumi cancel` for a lock left behind, the rollback again to finish it). Exit codes are here too."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ops import interrupts
from ops.errors import OpsError, printable
from ops.pulumi_cli import PulumiInterrupted, Run
from ops.rollback.stack_plan import Plan
from ops.stack_history import IN_PROGRESS, SUCCEEDED, Entry, read_history

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNCONFIRMED = 4  # `pulumi up` succeeded, but the result could not be read back from the history


def after_interrupted_up(plan: Plan, run_dir: Path, run: Run) -> str:
    """One line on what an interrupted `pulumi up` left: the update's recorded result, what the stack file holds,
    the command that releases a lock that may be left, and the one that finishes the rollback."""
    ours = _our_update(plan, run_dir)
    if ours is not None and ours.result == SUCCEEDED:
        parts = [f"`pulumi up` finished first: the stack is at version {ours.version}, which succeeded"]
    elif ours is not None and ours.result == IN_PROGRESS:
        parts = [f"the update (version {ours.version}) is still recorded as in progress, so the stack is locked"]
    elif ours is not None:
        parts = [f"Pulumi stopped the update: version {ours.version} ended {printable(ours.result)}, so the stack "
                 "may be partly rolled back"]
    else:
        parts = ["the stack may be partly rolled back (the history shows no result for the update)"]
    parts.append(stack_file_state(plan))
    if not run.ended_cleanly or (ours is not None and ours.result == IN_PROGRESS):
        parts.append(f"if the stack stays locked, release it with: {cancel_command(plan)}")
    if ours is None or ours.result != SUCCEEDED:
        parts.append(f"to finish the rollback, run: {retry_command(plan)}")
    return "; ".join(parts)


def _our_update(plan: Plan, run_dir: Path) -> Entry | None:
    """The history entry of the rollback's own `up`, if it can be read (best effort: the operator is waiting)."""
    try:
        entries = read_history(plan.stack, cwd=run_dir).entries
    except (OpsError, KeyboardInterrupt):
        return None
    newest = entries[0] if entries else None
    return newest if newest is not None and newest.version > plan.newest_version else None


def stack_file_state(plan: Plan) -> str:
    if plan.use_worktree:
        return f"this checkout's {plan.stack_file_name} was not changed"
    return f"{plan.stack_file_name} holds version {plan.target.version}'s config (what `pulumi up` ran with)"


def cancel_command(plan: Plan) -> str:
    """`pulumi cancel` for this stack, runnable from anywhere (pkg/cmd/pulumi/cancel/cancel.go; -C/--cwd is the
    CLI's global flag for the project directory)."""
    return shlex.join(["pulumi", "cancel", "--stack", plan.stack, "--yes", "--cwd", str(plan.project_dir)])


def retry_command(plan: Plan) -> str:
    words = ["python", "-m", "ops", "rollback", "stack", "-s", plan.stack, "--to", str(plan.target.version)]
    words += ["--cwd", str(plan.project_dir), "--yes"]
    return shlex.join(words)


def report_result(plan: Plan, run_dir: Path) -> int:
    """After `pulumi up` succeeded: the new version read back from the stack history and said, and the exit code."""
    applied = f"`pulumi up` succeeded: stack {plan.stack} now runs version {plan.target.version}'s program and config"
    try:
        entries = read_history(plan.stack, cwd=run_dir).entries
    except PulumiInterrupted as stop:
        stop.detail = f"{applied}; {stack_file_state(plan)}; the new version was not read back"
        raise
    except OpsError as error:
        raise _unconfirmed(plan, applied, f"the stack history could not be read to confirm it ({error})") from None
    newest = entries[0] if entries else None
    if newest is None or newest.version <= plan.newest_version:
        raise _unconfirmed(plan, applied, "the stack history shows no new version to confirm it")
    with interrupts.deferred(absorb=True):  # the rollback is done: a late Ctrl-C does not turn it into an error
        return _print_result(plan, newest)


def _unconfirmed(plan: Plan, applied: str, reason: str) -> OpsError:
    check = shlex.join(["python", "-m", "ops", "history", "-s", plan.stack, "--cwd", str(plan.project_dir)])
    return OpsError(f"{applied}, but {reason}; {stack_file_state(plan)}; check with: {check}", EXIT_UNCONFIRMED)


def _print_result(plan: Plan, newest: Entry) -> int:
    print(f"\n==> stack {plan.stack} is now at version {newest.version}: {newest.kind} {newest.result}")
    if plan.use_worktree or plan.changes:
        print(
            "note: the stack now runs version "
            f"{plan.target.version}'s program and config; revert the bad change in git "
            "(program and Pulumi.<stack>.yaml) so the next `pulumi up` does not roll it forward again"
        )
    if newest.result != SUCCEEDED:
        print(f"error: the rollback update ended `{printable(newest.result)}`; retry with: {retry_command(plan)}",
              file=sys.stderr)
        return EXIT_FAILED
    return 0
