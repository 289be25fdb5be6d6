"""`rollback stack`'s steps, in order: where to run (this checkout or a worktree at the target's commit), `pulumi
install` in a worktree, the config restored, `pulumi preview`, the confirmation, `pulumi up`, and the result read
back. Until `up` starts, whatever stops the rollback (a refusal, a failure, a signal) puts the stack's config file
back as it was and says that nothing was applied; from then on, stack_report.py says what was."""

from __future__ import annotations

import shutil
import signal
from contextlib import ExitStack
from pathlib import Path

from ops import interrupts
from ops.errors import OpsError, printable
from ops.pulumi_cli import PulumiInterrupted, StackLocked, run_pulumi_streaming
from ops.rollback import config as stack_config
from ops.rollback.confirm import confirm
from ops.rollback.stack_plan import Plan, up_message
from ops.rollback.stack_report import (
    EXIT_FAILED,
    EXIT_REFUSED,
    after_interrupted_up,
    cancel_command,
    report_result,
    retry_command,
    stack_file_state,
)
from ops.rollback.worktree import worktree_at


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
            return report_result(plan, run_dir)
        except BaseException as error:
            _explain(error, plan, saved, up_done)
            raise


def _explain(error: BaseException, plan: Plan, saved: tuple[Path, bytes | None] | None, up_done: bool) -> None:
    """Decides, from how far the rollback got, what the error must say, and puts the config file back when nothing
    was applied. Returns to let `error` go on as it is, or raises its replacement."""
    if up_done:
        if isinstance(error, interrupts.Interrupted) and not error.detail:
            error.detail = f"`pulumi up` succeeded; {stack_file_state(plan)}"
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
        raise interrupts.Interrupted(signal.SIGINT, detail=state) from None
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
        stop.detail = after_interrupted_up(plan, run_dir, stop.run)
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

