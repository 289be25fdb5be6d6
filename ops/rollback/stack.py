"""`python -m ops rollback stack`: roll forward to the program and config that stack history recorded for the last
good version (Pulumi has no rollback command; this is its maintainers' recommended way, made safe).

Steps: (1) a temporary git worktree at the target's commit when it differs from HEAD, (2) the stack config restored
to the target's, (3) `pulumi preview`, then after confirmation `pulumi up`, (4) the new version read back from the
history, (5) the worktree removed in every case. Arguments and files are checked first, then the stack's rollback
lock is taken and held to the end (one run per stack and checkout). Until `up` starts, a refusal, failure or signal
leaves the stack's config file as it was; once it started, every ending says in one line what was applied."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ops import interrupts
from ops.argtypes import existing_directory, stack_name, whole_number
from ops.errors import OpsError, printable
from ops.history import print_notes
from ops.pulumi_cli import PulumiInterrupted, Run, StackLocked, pulumi_executable, run_pulumi_streaming
from ops.rollback import config as stack_config
from ops.rollback import stack_lock
from ops.rollback.confirm import confirm
from ops.rollback.worktree import Checkout, find_checkout, worktree_at
from ops.stack_history import IN_PROGRESS, SUCCEEDED, Entry, History, choose_target, read_history, update_in_progress

ROLLBACK_MESSAGE = re.compile(r"^Rollback to version (\d+) \(ops rollback stack\)$")
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNCONFIRMED = 4  # `pulumi up` succeeded, but the result could not be read back from the history


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="re-apply the program and config of the stack's last good version",
        description="Roll the stack forward to the program (git commit) and config recorded in stack history for "
        "a succeeded update: by default the newest one older than the newest update.",
    )
    parser.add_argument("-s", "--stack", required=True, type=stack_name, help="the stack, e.g. dev or prod")
    parser.add_argument(
        "--to", type=whole_number(1), metavar="VERSION", help="the stack history version to roll back to"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--yes", action="store_true", help="run `pulumi up` without asking for confirmation")
    parser.add_argument("--cwd", default=".", help="the Pulumi project directory (default: the current one)")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Plan:
    stack: str
    target: Entry
    project_dir: Path
    checkout: Checkout | None
    use_worktree: bool
    changes: list[stack_config.Change]
    newest_version: int

    @property
    def stack_file_name(self) -> str:
        return stack_config.stack_file(Path(), self.stack).name

    def steps(self) -> list[str]:
        where = f"a temporary git worktree at {self.target.git_commit[:12]}" if self.use_worktree else "this checkout"
        message = up_message(self.target)
        steps = [f"run from {where}"]
        if self.use_worktree:
            steps.append("copy this checkout's Pulumi.<stack>.yaml into it (secrets provider) and `pulumi install`")
        steps += [
            f"restore the stack config to version {self.target.version}'s ({len(self.changes)} change(s))",
            "pulumi preview",
            f'pulumi up --yes --message "{message}" (after confirmation unless --yes)',
            "read the stack history and report the new version",
        ]
        if self.use_worktree:
            steps.append("remove the worktree")
        return steps


def up_message(target: Entry) -> str:
    return f"Rollback to version {target.version} (ops rollback stack)"


def run(args: argparse.Namespace) -> int:
    project_dir = existing_directory(args.cwd, "--cwd")
    stack_config.check_project_files(project_dir, args.stack)
    pulumi_executable()  # refuse early, with a clear message, when the CLI is missing
    with stack_lock.held(project_dir, args.stack):
        try:
            plan = make_plan(args.stack, project_dir, args.to)
        except interrupts.Interrupted as stop:
            stop.detail = "nothing was applied; the plan was not finished and no file was changed"
            raise
        print_plan(plan)
        if args.dry_run:
            print("\ndry run: nothing was changed")
            return 0
        return execute(plan, confirmed=args.yes)


def make_plan(stack: str, project_dir: Path, to_version: int | None) -> Plan:
    history = read_history(stack, cwd=project_dir, show_secrets=True)
    print_notes(history)
    entries = history.entries
    running = update_in_progress(entries)
    if running:
        raise OpsError(
            f"the stack has an update in progress (version {running.version}, {printable(running.kind)}); "
            f"wait for it to finish (or, if nothing runs it any more, `pulumi cancel` it) and retry"
        )
    target = choose_target(entries, to_version)
    _check_target(history, target, explicit=to_version is not None)
    _warn_if_undoing_a_rollback(entries, target)
    checkout = find_checkout(project_dir)
    use_worktree = _needs_worktree(target, checkout, stack_config.stack_file(project_dir, stack))
    current = stack_config.read_config(stack, project_dir)
    changes = stack_config.diff(current, target.config)
    stack_config.check_restorable(target.config, changes)
    return Plan(stack, target, project_dir, checkout, use_worktree, changes, entries[0].version)


def _check_target(history: History, target: Entry, explicit: bool) -> None:
    """What a malformed history must never turn into: restoring a config or program that was not recorded (a
    missing config is not "no keys"), or a default target chosen past an entry that could not be read."""
    problems = "; ".join(target.problems)
    if target.config is None:
        raise OpsError(
            f"version {target.version} has no config that can be read in the stack history ({printable(problems)}), "
            "so its config cannot be restored; nothing was changed"
        )
    if not target.environment_readable:
        raise OpsError(
            f"the git commit version {target.version} was deployed from cannot be read from the stack history "
            f"({printable(problems)}); nothing was changed"
        )
    unreadable = [entry.version for entry in history.entries if entry.version > target.version
                  and not entry.outcome_readable]
    if not explicit and (history.skipped or unreadable):
        raise OpsError(
            "the stack history has entries that cannot be read (see the notes above), so the newest update, and the "
            "last good one before it, cannot be told; name the version to roll back to with --to VERSION"
        )


def _warn_if_undoing_a_rollback(entries: list[Entry], target: Entry) -> None:
    """After a rollback, the newest update is the rollback itself; going back from it re-applies the bad version."""
    newest = next((entry for entry in entries if entry.kind == "update"), None)
    rolled_back = ROLLBACK_MESSAGE.match(newest.message) if newest else None
    if rolled_back and int(rolled_back.group(1)) != target.version:
        print(
            f"warning: the newest update (version {newest.version}) is a rollback to version {rolled_back.group(1)}; "
            f"going to version {target.version} undoes it",
            file=sys.stderr,
        )


def _needs_worktree(target: Entry, checkout: Checkout | None, own_stack_file: Path) -> bool:
    """A worktree when the target's commit is not HEAD, or when uncommitted edits would change HEAD's program
    (the stack's own config file does not count: the rollback rewrites it anyway)."""
    commit = target.git_commit
    if commit is None:
        return False
    if checkout is None:
        raise OpsError(
            f"version {target.version} was deployed from git commit {commit[:12]}, but the project directory is "
            "not in a git repository; run from a clone of the project"
        )
    if checkout.is_head(commit):
        return bool(checkout.uncommitted(ignore=own_stack_file))
    if not checkout.has_commit(commit):
        raise OpsError(
            f"version {target.version} was deployed from commit {commit[:12]}, which is not in the local "
            "repository; `git fetch` it (or check out the branch it was on) and retry"
        )
    return True


def print_plan(plan: Plan) -> None:
    target = plan.target
    started = target.start_time.isoformat() if target.start_time else "unknown time"
    print(f"Rollback plan for stack {plan.stack}")
    print(f"  target:  version {target.version}, {target.kind} {target.result}, started {started}")
    print(f"  message: {printable(target.message)[:200] or '-'}")
    print(f"  commit:  {_commit_line(plan)}")
    if target.git_dirty:
        print(f"warning: version {target.version} was deployed from a tree with uncommitted changes; "
              "only its committed files can be re-applied", file=sys.stderr)
    if target.git_commit is None:
        print(f"warning: version {target.version} recorded no git commit; this checkout's program will be used",
              file=sys.stderr)
    print("  config (current -> target):")
    for line in [change.describe() for change in plan.changes] or ["no change"]:
        print(f"    {line}")
    print("  steps:")
    for number, step in enumerate(plan.steps(), start=1):
        print(f"    {number}. {step}")


def _commit_line(plan: Plan) -> str:
    commit = plan.target.git_commit
    if commit is None:
        return "not recorded"
    if plan.use_worktree and plan.checkout.is_head(commit):
        return f"{commit} (HEAD, but this checkout has uncommitted changes: a worktree will be used)"
    if plan.use_worktree:
        return f"{commit} (HEAD is {plan.checkout.head[:12]}: a worktree will be used)"
    return f"{commit} (HEAD)"


class UpFailed(OpsError):
    """`pulumi up` ran and failed: something may have been applied, so the config file is left as it ran."""


def execute(plan: Plan, confirmed: bool) -> int:
    with ExitStack() as cleanup:
        saved: tuple[Path, bytes | None] | None = None
        up_done = False
        try:
            run_dir = _enter_run_dir(plan, cleanup)
            config_path = stack_config.stack_file(run_dir, plan.stack)
            saved = (config_path, stack_config.snapshot(config_path))
            if plan.use_worktree:
                _stream_step("pulumi install", ["install"], run_dir, plan)
            _restore_and_preview(plan, run_dir)
            confirm(confirmed, "Run `pulumi up` to apply this rollback?", "run `pulumi up`", "`pulumi up` was not run")
            with interrupts.deferred():  # `up_done` is set before a signal arriving now is raised
                _up(plan, run_dir)
                up_done = True
            return _report(plan, run_dir)
        except BaseException as error:
            _explain(error, plan, saved, up_done)
            raise


def _explain(error: BaseException, plan: Plan, saved: tuple[Path, bytes | None] | None, up_done: bool) -> None:
    """Decides, from how far the rollback got, what the error must say, and puts the config file back when nothing
    was applied. Returns to let `error` go on as it is, or raises its replacement."""
    if up_done:
        if isinstance(error, interrupts.Interrupted) and not error.detail:
            error.detail = f"`pulumi up` succeeded; {_stack_file_state(plan)}"
        return
    if isinstance(error, UpFailed) or (isinstance(error, PulumiInterrupted) and error.run.args[:1] == ["up"]):
        return  # `pulumi up` ran: the error already says what it left
    if saved is not None:
        stack_config.put_back(*saved)
    _raise_nothing_applied(error, plan)


def _enter_run_dir(plan: Plan, cleanup: ExitStack) -> Path:
    """This checkout, or a worktree at the target's commit (removed when `cleanup` closes) holding a copy of this
    checkout's stack file: it carries the secrets provider the stack uses now, which the old commit's may not."""
    if not plan.use_worktree:
        return plan.project_dir
    with interrupts.deferred():  # the worktree's removal is registered before a signal can be raised
        run_dir = cleanup.enter_context(worktree_at(plan.checkout, plan.target.git_commit))
    print(f"\n==> worktree at {plan.target.git_commit[:12]}: {run_dir}")
    shutil.copyfile(stack_config.stack_file(plan.project_dir, plan.stack), stack_config.stack_file(run_dir, plan.stack))
    return run_dir


def _raise_nothing_applied(error: BaseException, plan: Plan):
    """Raises the error that stopped the rollback before anything was applied, saying so (and, when Pulumi did not
    end cleanly, how to release a lock it may have left)."""
    state = f"nothing was applied; {plan.stack_file_name} is as it was"
    if plan.use_worktree:
        state += " and the worktree was removed"
    if isinstance(error, PulumiInterrupted) and not error.run.ended_cleanly and error.run.args[:1] == ["preview"]:
        state += f"; if the stack stays locked, release it with: {cancel_command(plan)}"
    if isinstance(error, interrupts.Interrupted):
        error.detail = state
        raise error
    if isinstance(error, KeyboardInterrupt):
        raise interrupts.Interrupted(2, detail=state) from None
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        raise OpsError(f"{printable(error.strerror or str(error))}{where}; {state}", EXIT_REFUSED) from None
    if isinstance(error, OpsError):
        error.args = (f"{error}; {state}",)
    raise error


def _restore_and_preview(plan: Plan, run_dir: Path) -> None:
    print(f"\n==> restoring the stack config to version {plan.target.version}'s")
    changes = stack_config.restore(plan.stack, run_dir, plan.target.config)
    print(f"    {len(changes)} key(s) written or removed")
    print("\n==> pulumi preview")
    _stream_step("pulumi preview", ["preview", "--stack", plan.stack], run_dir, plan)


def _up(plan: Plan, run_dir: Path) -> None:
    print("\n==> pulumi up")
    args = ["up", "--yes", "--stack", plan.stack, "--message", up_message(plan.target)]
    try:
        _stream_step("pulumi up", args, run_dir, plan, applies=True)
    except PulumiInterrupted as stop:
        stop.detail = _after_interrupted_up(plan, run_dir, stop.run)
        raise


def _stream_step(name: str, args: list[str], run_dir: Path, plan: Plan, applies: bool = False) -> None:
    """Runs one Pulumi step, streaming its output. A lock is a refusal (StackLocked: nothing was applied); any other
    failure is OpsError (exit 2), or UpFailed (exit 1, with the retry command) for the step that `applies`."""
    run = run_pulumi_streaming(args, cwd=run_dir)
    if run.code == 0:
        return
    if run.locked:
        raise StackLocked(
            f"step `{name}` refused: the stack has an update in progress (it is locked); wait for it to finish and "
            f"retry, or if nothing runs it any more, release the lock with: {cancel_command(plan)}"
        )
    last = printable(run.tail[-1].strip())[:500] if run.tail and run.tail[-1].strip() else run.exit_text()
    if run.code < 0:
        last = run.exit_text() + (f" (last output: {last})" if run.tail else "")
    message = f"step `{name}` failed: {last}"
    if not applies:
        raise OpsError(message, EXIT_REFUSED)
    if not run.ended_cleanly:
        message += f"; if the stack stays locked, release it with: {cancel_command(plan)}"
    raise UpFailed(f"{message}; retry with: {retry_command(plan)}", EXIT_FAILED)


def _after_interrupted_up(plan: Plan, run_dir: Path, run: Run) -> str:
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
    parts.append(_stack_file_state(plan))
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


def _stack_file_state(plan: Plan) -> str:
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


def _report(plan: Plan, run_dir: Path) -> int:
    applied = f"`pulumi up` succeeded: stack {plan.stack} now runs version {plan.target.version}'s program and config"
    try:
        entries = read_history(plan.stack, cwd=run_dir).entries
    except PulumiInterrupted as stop:
        stop.detail = f"{applied}; {_stack_file_state(plan)}; the new version was not read back"
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
    return OpsError(f"{applied}, but {reason}; {_stack_file_state(plan)}; check with: {check}", EXIT_UNCONFIRMED)


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
