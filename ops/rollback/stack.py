"""`python -m ops rollback stack`: roll forward to the program and config that stack history recorded for the last
good version (Pulumi has no rollback command; this is its maintainers' recommended way, made safe).

Steps: (1) a temporary git worktree at the target's commit when it differs from HEAD, (2) the stack config restored
to the target's, (3) `pulumi preview`, then after confirmation `pulumi up`, (4) the new version read back from the
history, (5) the worktree removed in every case. Until `up` starts, a refusal or failure leaves the stack's config
file as it was."""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError
from ops.pulumi_cli import pulumi_executable, run_pulumi_streaming
from ops.rollback import config as stack_config
from ops.rollback.confirm import confirm
from ops.rollback.worktree import Checkout, find_checkout, worktree_at
from ops.stack_history import Entry, choose_target, read_history, update_in_progress

# What the Pulumi CLI prints when another operation holds the stack (Pulumi Cloud; DIY backends).
LOCKED_TEXTS = ("[409] Conflict: Another update is currently in progress.", "the stack is currently locked by")
ROLLBACK_MESSAGE = re.compile(r"^Rollback to version (\d+) \(ops rollback stack\)$")


class StackLocked(OpsError):
    """Another operation holds the stack: nothing was applied."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="re-apply the program and config of the stack's last good version",
        description="Roll the stack forward to the program (git commit) and config recorded in stack history for "
        "a succeeded update: by default the newest one older than the newest update.",
    )
    parser.add_argument("-s", "--stack", required=True, help="the stack, e.g. dev or prod")
    parser.add_argument("--to", type=int, metavar="VERSION", help="the stack history version to roll back to")
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
    pulumi_executable()  # refuse early, with a clear message, when the CLI is missing
    project_dir = Path(args.cwd).resolve()
    if not project_dir.is_dir():
        raise OpsError(f"--cwd {args.cwd}: no such directory")
    plan = make_plan(args.stack, project_dir, args.to)
    print_plan(plan)
    if args.dry_run:
        print("\ndry run: nothing was changed")
        return 0
    return execute(plan, confirmed=args.yes)


def make_plan(stack: str, project_dir: Path, to_version: int | None) -> Plan:
    entries = read_history(stack, cwd=project_dir, show_secrets=True)
    running = update_in_progress(entries)
    if running:
        raise OpsError(
            f"the stack has an update in progress (version {running.version}, {running.kind}); "
            "wait for it to finish (or `pulumi cancel` it) and retry"
        )
    target = choose_target(entries, to_version)
    _warn_if_undoing_a_rollback(entries, target)
    checkout = find_checkout(project_dir)
    use_worktree = _needs_worktree(target, checkout, stack_config.stack_file(project_dir, stack))
    current = stack_config.read_config(stack, project_dir)
    changes = stack_config.diff(current, target.config)
    stack_config.check_restorable(target.config, changes)
    return Plan(stack, target, project_dir, checkout, use_worktree, changes)


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
    print(f"  message: {target.message or '-'}")
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


def execute(plan: Plan, confirmed: bool) -> int:
    with ExitStack() as cleanup:
        run_dir = plan.project_dir
        if plan.use_worktree:
            run_dir = cleanup.enter_context(worktree_at(plan.checkout, plan.target.git_commit))
            print(f"\n==> worktree at {plan.target.git_commit[:12]}: {run_dir}")
            _prepare_worktree(plan, run_dir)
        config_path = stack_config.stack_file(run_dir, plan.stack)
        saved = stack_config.snapshot(config_path)
        try:
            _restore_and_preview(plan, run_dir)
            confirm(confirmed, "Run `pulumi up` to apply this rollback?", "run `pulumi up`", "`pulumi up` was not run")
        except BaseException:
            stack_config.put_back(config_path, saved)
            print("nothing was applied: the stack config file is as it was", file=sys.stderr)
            raise
        try:
            _up(plan, run_dir)
        except StackLocked:
            stack_config.put_back(config_path, saved)
            raise
        return _report(plan, run_dir)


def _prepare_worktree(plan: Plan, run_dir: Path) -> None:
    """The current stack file carries the secrets provider the stack uses now; the target's commit may not."""
    current_file = stack_config.stack_file(plan.project_dir, plan.stack)
    if current_file.exists():
        shutil.copyfile(current_file, stack_config.stack_file(run_dir, plan.stack))
    _stream_step("pulumi install", ["install"], run_dir, plan)


def _restore_and_preview(plan: Plan, run_dir: Path) -> None:
    print(f"\n==> restoring the stack config to version {plan.target.version}'s")
    changes = stack_config.restore(plan.stack, run_dir, plan.target.config)
    print(f"    {len(changes)} key(s) written or removed")
    print("\n==> pulumi preview")
    _stream_step("pulumi preview", ["preview", "--stack", plan.stack], run_dir, plan)


def _up(plan: Plan, run_dir: Path) -> None:
    print("\n==> pulumi up")
    args = ["up", "--yes", "--stack", plan.stack, "--message", up_message(plan.target)]
    _stream_step("pulumi up", args, run_dir, plan, exit_code=1)


def _stream_step(name: str, args: list[str], run_dir: Path, plan: Plan, exit_code: int = 2) -> None:
    code, tail = run_pulumi_streaming(args, cwd=run_dir)
    if code == 0:
        return
    if any(text in tail for text in LOCKED_TEXTS):
        raise StackLocked(f"step `{name}` refused: the stack has an update in progress; wait for it and retry")
    last = tail.splitlines()[-1] if tail else f"exit code {code}"
    raise OpsError(f"step `{name}` failed: {last}\nretry with: {retry_command(plan)}", exit_code)


def retry_command(plan: Plan) -> str:
    words = ["python", "-m", "ops", "rollback", "stack", "-s", plan.stack, "--to", str(plan.target.version)]
    words += ["--cwd", str(plan.project_dir), "--yes"]
    return shlex.join(words)


def _report(plan: Plan, run_dir: Path) -> int:
    newest = read_history(plan.stack, cwd=run_dir)[0]
    print(f"\n==> stack {plan.stack} is now at version {newest.version}: {newest.kind} {newest.result}")
    if plan.use_worktree or plan.changes:
        print(
            "note: the stack now runs version "
            f"{plan.target.version}'s program and config; revert the bad change in git "
            "(program and Pulumi.<stack>.yaml) so the next `pulumi up` does not roll it forward again"
        )
    if newest.result != "succeeded":
        print(f"error: the rollback update ended `{newest.result}`; retry with: {retry_command(plan)}", file=sys.stderr)
        return 1
    return 0
