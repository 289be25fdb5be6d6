"""`rollback stack`'s plan: the target chosen from the stack history and checked against what a malformed history
must never turn into, where the rollback runs (this checkout or a worktree at the target's commit), the config
changes, and the plan as printed before anything is changed."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError, printable
from ops.history import print_notes
from ops.rollback import config as stack_config
from ops.rollback.worktree import Checkout, find_checkout
from ops.stack_history import UPDATE, Entry, History, choose_target, read_history, update_in_progress

ROLLBACK_MESSAGE = re.compile(r"^Rollback to version (\d+) \(ops rollback stack\)$")


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


def make_plan(stack: str, project_dir: Path, to_version: int | None) -> Plan:
    history = read_history(stack, cwd=project_dir, show_secrets=True)
    try:
        target, undoing = _choose(history.entries, to_version)
    finally:
        print_notes(history)  # every entry's version, kind and result, and what was read of the target and newest
    _check_target(history, target, explicit=to_version is not None)
    if undoing:
        print(f"warning: {undoing}", file=sys.stderr)
    checkout = find_checkout(project_dir)
    use_worktree = _needs_worktree(target, checkout, stack_config.stack_file(project_dir, stack))
    current = stack_config.read_config(stack, project_dir)
    changes = stack_config.diff(current, target.config)
    stack_config.check_restorable(target.config, changes)
    return Plan(stack, target, project_dir, checkout, use_worktree, changes, history.entries[0].version)


def _choose(entries: list[Entry], to_version: int | None) -> tuple[Entry, str | None]:
    """The target, read in full (the only entry whose config a rollback reads), and whether going to it undoes a
    rollback: after one, the newest update is the rollback itself, and going back from it re-applies the bad
    version."""
    running = update_in_progress(entries)
    if running:
        raise OpsError(
            f"the stack has an update in progress (version {running.version}, {printable(running.kind)}); "
            f"wait for it to finish (or, if nothing runs it any more, `pulumi cancel` it) and retry"
        )
    target = choose_target(entries, to_version).read()
    newest = next((entry for entry in entries if entry.kind == UPDATE), None)
    rolled_back = ROLLBACK_MESSAGE.match(newest.message) if newest else None
    if rolled_back and int(rolled_back.group(1)) != target.version:
        return target, (f"the newest update (version {newest.version}) is a rollback to version "
                        f"{rolled_back.group(1)}; going to version {target.version} undoes it")
    return target, None


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
