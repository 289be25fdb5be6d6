"""Fault class 1, concurrency: two real `python -m ops rollback stack` processes on the same stack. The second is
refused before it reads or writes anything (the per-stack lock is held from the first read to the end), and the
first finishes with a Pulumi.prod.yaml that matches what it deployed. Runs at HEAD, so the rollback rewrites this
checkout's stack file: the case where a second run could snapshot or put back the first one's half-done file."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.ops.fake_pulumi import write_stack_config
from tests.ops.fake_pulumi.harness import (
    CURRENT_CONFIG,
    STACK,
    TARGET_CONFIG,
    Project,
    Verdict,
    build_project,
    plain,
)

pytestmark = pytest.mark.slow
STEPS = ["stack history", "config set", "preview", "up"]
REFUSAL = "another `ops rollback stack` is running on stack prod"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = build_project(tmp_path, monkeypatch)
    project.run_at_head()
    return project


def calls_of(project: Project, pid: int) -> list[str]:
    return [" ".join(call["argv"][:2]) for call in project.fake.calls() if call.get("ppid") == pid]


def first_finished_as_deployed(project: Project, verdict: Verdict) -> None:
    verdict.exit_code(0)
    verdict.keep(project.config() == project.deployed(), "Pulumi.prod.yaml differs from what `pulumi up` deployed")
    verdict.keep(project.config() == plain(TARGET_CONFIG), "Pulumi.prod.yaml is not the target's config")
    verdict.expect(len(project.worktrees()) == 1, "a worktree was left behind")


@pytest.mark.parametrize("second_mode", ["--yes", "--dry-run"])
@pytest.mark.parametrize("step", STEPS)
def test_a_second_rollback_is_refused_before_it_reads_anything_and_the_first_finishes_as_deployed(
    project, step, second_mode
):
    project.fake.fault(step, block=15)
    first = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at(step)
    second = project.start("rollback", "stack", "-s", STACK, second_mode)
    refused = second.finish(timeout=60)
    project.fake.release(step)
    finished = first.finish()

    verdict = Verdict(refused).exit_code(2).one_line(REFUSAL, f"pid {first.pid}")
    made = calls_of(project, second.pid)
    verdict.expect(made == [], f"the second run called pulumi: {made}")
    verdict.done()
    first_verdict = Verdict(finished)
    first_finished_as_deployed(project, first_verdict)
    first_verdict.done()


@pytest.mark.parametrize("attempt", range(3))
def test_two_rollbacks_started_together_serialize_and_leave_the_deployed_config(project, attempt):
    project.fake.behave(step_seconds=0.05)
    runs = [project.start("rollback", "stack", "-s", STACK, "--to", "6", "--yes") for _ in range(2)]
    results = [run.finish() for run in runs]
    verdicts = [Verdict(result).exit_code((0, 2)) for result in results]
    for result, verdict in zip(results, verdicts, strict=True):
        if result.returncode == 2:
            verdict.one_line(REFUSAL)
    verdicts[0].expect(0 in [result.returncode for result in results], "neither run rolled back")
    verdicts[0].keep(project.config() == project.deployed(), "Pulumi.prod.yaml differs from the last deployed config")
    verdicts[0].expect(project.fake.lock(STACK) is None, "the stack was left locked")
    for verdict in verdicts:
        verdict.done()


def test_the_lock_of_a_killed_run_is_released_by_the_system(project):
    project.fake.fault("preview", block=15)
    first = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("preview")
    first.send(signal.SIGKILL)  # nothing can clean up after SIGKILL; the lock must not outlive the process
    first.finish()
    project.fake.release("preview")
    verdict = Verdict(project.ops("rollback", "stack", "-s", STACK, "--to", "6", "--yes"))
    first_finished_as_deployed(project, verdict)
    verdict.done()


def test_the_same_stack_named_in_full_shares_the_lock(project):
    project.fake.fault("preview", block=15)
    first = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("preview")
    second = project.start("rollback", "stack", "-s", f"acme/delivery/{STACK}", "--dry-run")
    refused = second.finish(timeout=60)
    project.fake.release("preview")
    first.finish()
    verdict = Verdict(refused).exit_code(2).one_line(f"{REFUSAL.removesuffix(' prod')} acme/delivery/prod")
    verdict.expect(calls_of(project, second.pid) == [], "the second run called pulumi")
    verdict.done()


def test_another_stack_is_not_held_up(project):
    project.fake.add_stack("dev")
    write_stack_config(project.path, "dev", CURRENT_CONFIG)
    project.fake.add_entry("dev", config=TARGET_CONFIG, commit=project.head)
    project.fake.add_entry("dev", config=CURRENT_CONFIG, commit=project.head)
    project.fake.fault("preview", block=15)
    first = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("preview")
    other = project.ops("rollback", "stack", "-s", "dev", "--dry-run")
    project.fake.release("preview")
    first.finish()
    Verdict(other).exit_code(0).expect("dry run: nothing was changed" in other.stdout, "no plan for dev").done()


def test_reading_the_history_during_a_rollback_is_allowed(project):
    project.fake.fault("preview", block=15)
    first = project.start("rollback", "stack", "-s", STACK, "--yes")
    project.fake.wait_at("preview")
    history = project.ops("history", "-s", STACK, "--limit", "2")
    project.fake.release("preview")
    first.finish()
    Verdict(history).exit_code(0).expect("version 7" in history.stdout, "history not shown").done()
