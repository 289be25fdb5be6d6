"""`python -m ops rollback stack`: roll forward to the program and config that stack history recorded for the last
good version (Pulumi has no rollback command; this is its maintainers' recommended way, made safe).

Steps: (1) a temporary git worktree at the target's commit when it differs from HEAD, (2) the stack config restored
to the target's, (3) `pulumi preview`, then after confirmation `pulumi up`, (4) the new version read back from the
history, (5) the worktree removed in every case. Arguments and files are checked first, then the stack's rollback
lock is taken and held to the end (one run per stack and checkout). Until `up` starts, a refusal, failure or signal
leaves the stack's config file as it was; once it started, every ending says in one line what was applied.

One module per concern: this one (the command: arguments, checks, lock), stack_plan.py (the target chosen and
checked, the plan printed), stack_steps.py (the steps run, the config file put back when nothing was applied),
stack_report.py (what each ending says: the result read back, an interrupted `up`, the commands to run next),
stack_lock.py, config.py and worktree.py."""

from __future__ import annotations

import argparse

from ops import interrupts
from ops.argtypes import existing_directory, stack_name, whole_number
from ops.pulumi_cli import pulumi_executable
from ops.rollback import config as stack_config
from ops.rollback import stack_lock
from ops.rollback.stack_plan import make_plan, print_plan
from ops.rollback.stack_steps import execute


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stack",
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
