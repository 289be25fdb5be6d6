"""`ops rollback stack`, run as the operator runs it, against the stand-in Pulumi CLI and a real temporary git
repository whose two commits are the target's program and HEAD's."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.fake_pulumi import FakePulumi, read_stack_config, write_stack_config
from tests.ops.fake_pulumi.harness import (
    CURRENT_CONFIG,
    NEW_SECRET,
    OLD_SECRET,
    STACK,
    TARGET_CONFIG,
    Project,
    build_project,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return build_project(tmp_path, monkeypatch)


def assert_no_secret_printed(result: subprocess.CompletedProcess) -> None:
    for secret in (OLD_SECRET, NEW_SECRET):
        assert secret not in result.stdout
        assert secret not in result.stderr


def worktrees(project: Project) -> list[str]:
    return project.worktrees()


def test_dry_run_prints_the_plan_and_changes_nothing(project):
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "version 1, update succeeded" in result.stdout
    assert project.target_commit in result.stdout and "a worktree will be used" in result.stdout
    assert "~ delivery:fleetSize: 4 -> 2" in result.stdout
    assert "~ delivery:dbPassword: [secret] -> [secret]" in result.stdout
    assert "- delivery:newFlag (was x)" in result.stdout
    assert "+ delivery:oldFlag = on" in result.stdout
    assert "pulumi preview" in result.stdout and "dry run: nothing was changed" in result.stdout
    assert_no_secret_printed(result)
    assert project.fake.commands() == ["stack history", "config"]
    assert project.stack_file.read_bytes() == before
    assert len(worktrees(project)) == 1


def test_rollback_runs_history_restore_preview_up_from_a_worktree_at_the_target_commit(project):
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 0, result.stderr
    commands = project.fake.commands()
    assert commands[:4] == ["stack history", "config", "install", "config"]
    assert commands[4:] == [
        "config set delivery:dbPassword",
        "config set delivery:fleetSize",
        "config rm delivery:newFlag",
        "config set delivery:oldFlag",
        "config",  # read back and compared with the target
        "preview",
        "up",
        "stack history",
    ]

    calls = project.fake.calls()
    assert "--show-secrets" in calls[0]["argv"] and "--page-size" in calls[0]["argv"]
    assert all(call["env"]["PULUMI_CONFIG_PASSPHRASE"] == "<set>" for call in calls)
    up = next(call for call in calls if call["argv"][0] == "up")
    assert up["up"]["gitHead"] == project.target_commit
    assert up["up"]["config"] == {k: (v[0] if isinstance(v, tuple) else v) for k, v in TARGET_CONFIG.items()}
    assert "--message" in up["argv"] and "Rollback to version 1 (ops rollback stack)" in up["argv"]
    assert Path(up["cwd"]) != project.path
    # every call after the plan ran in the worktree; the secret went through stdin, never argv
    assert all(Path(call["cwd"]) == Path(up["cwd"]) for call in calls[2:-1])
    secret_set = next(call for call in calls if call["argv"][:3] == ["config", "set", "delivery:dbPassword"])
    assert "--secret" in secret_set["argv"] and secret_set["stdin"] == OLD_SECRET + "\n"
    assert all(OLD_SECRET not in " ".join(call["argv"]) for call in calls)

    assert "now at version 6: update succeeded" in result.stdout
    assert project.fake.history(STACK)[-1]["message"] == "Rollback to version 1 (ops rollback stack)"
    assert_no_secret_printed(result)
    assert project.stack_file.read_bytes() == before  # the checkout is left alone
    assert len(worktrees(project)) == 1 and not Path(up["cwd"]).exists()


def test_rollback_to_a_version_of_head_runs_in_the_checkout_and_restores_its_config(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head, message="good at head")  # version 6
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)  # version 7
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 0, result.stderr
    assert "version 6, update succeeded" in result.stdout and "(HEAD)" in result.stdout
    assert "install" not in project.fake.commands()
    up = next(call for call in project.fake.calls() if call["argv"][0] == "up")
    assert Path(up["cwd"]) == project.path and up["up"]["gitHead"] == project.head
    assert read_stack_config(project.path, STACK) == {
        k: (v[0] if isinstance(v, tuple) else v) for k, v in TARGET_CONFIG.items()
    }
    assert OLD_SECRET.encode() not in project.stack_file.read_bytes()  # stored encrypted, as `--secret` does
    assert_no_secret_printed(result)


def test_uncommitted_program_edits_at_head_are_left_out_by_a_worktree_at_head(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)  # version 6
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    (project.path / "__main__.py").write_text("PROGRAM = 'local edit, never committed'\n")
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 0, result.stderr
    assert "(HEAD, but this checkout has uncommitted changes: a worktree will be used)" in result.stdout
    up = next(call for call in project.fake.calls() if call["argv"][0] == "up")
    assert Path(up["cwd"]) != project.path and up["up"]["gitHead"] == project.head
    assert (project.path / "__main__.py").read_text() == "PROGRAM = 'local edit, never committed'\n"


def test_a_failed_up_names_the_step_and_the_retry_command_and_a_retry_succeeds(project):
    project.fake.behave(up_fails=True)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 1
    assert "step `pulumi up` failed: error: update failed" in result.stderr
    assert f"retry with: python -m ops rollback stack -s {STACK} --to 1 --cwd {project.path} --yes" in result.stderr
    assert_no_secret_printed(result)
    assert len(worktrees(project)) == 1

    project.fake.behave(up_fails=False)
    retry = project.ops("rollback", "stack", "-s", STACK, "--to", "1", "--yes")
    assert retry.returncode == 0, retry.stderr
    assert "now at version 7: update succeeded" in retry.stdout


def test_a_dirty_target_tree_is_warned_about(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.target_commit, dirty=True)  # version 6
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    result = project.ops("rollback", "stack", "-s", STACK, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "version 6 was deployed from a tree with uncommitted changes" in result.stderr


def refused_without_change(project: Project, result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    commands = project.fake.commands()
    assert not any(c.startswith(("config set", "config rm")) or c in ("preview", "up") for c in commands)
    assert len(worktrees(project)) == 1


def test_refuses_a_version_that_does_not_exist(project):
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK, "--to", "42")
    refused_without_change(project, result, "version 42 is not in the stack's history")
    assert project.stack_file.read_bytes() == before


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (2, "version 2 is a refresh that succeeded"),
        (3, "version 3 is a preview"),
        (4, "version 4 is an update that failed"),
    ],
)
def test_refuses_a_version_that_is_not_a_succeeded_update(project, version, message):
    refused_without_change(project, project.ops("rollback", "stack", "-s", STACK, "--to", str(version)), message)


def test_refuses_when_no_earlier_good_version_exists(tmp_path, monkeypatch):
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack(STACK)
    fake.add_entry(STACK, config=CURRENT_CONFIG)
    (tmp_path / "Pulumi.yaml").write_text("name: delivery\nruntime: python\n")
    write_stack_config(tmp_path, STACK, CURRENT_CONFIG)
    project = Project(tmp_path, fake, "", "")
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 2
    assert "no succeeded update is older than the newest update (version 1)" in result.stderr
    assert fake.commands() == ["stack history"]


def test_refuses_while_an_update_is_in_progress(project):
    project.fake.add_entry(STACK, result="in-progress", config=CURRENT_CONFIG, commit=project.head)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    refused_without_change(project, result, "the stack has an update in progress (version 6, update)")


def test_a_stack_locked_at_preview_is_refused_and_the_config_file_put_back(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)  # version 6, runs in the checkout
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    before = project.stack_file.read_bytes()
    project.fake.behave(locked=True)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 2
    assert "the stack has an update in progress" in result.stderr
    assert "up" not in project.fake.commands()
    assert project.stack_file.read_bytes() == before
    assert_no_secret_printed(result)


def test_a_stack_locked_when_up_starts_is_refused_and_the_config_file_put_back(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)  # version 6, runs in the checkout
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    before = project.stack_file.read_bytes()
    project.fake.behave(locked_at_up=True)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    assert result.returncode == 2
    assert "step `pulumi up` refused: the stack has an update in progress" in result.stderr
    assert project.stack_file.read_bytes() == before
    assert len(project.fake.history(STACK)) == 7


def test_refuses_a_target_commit_missing_from_the_local_repository(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit="0123456789abcdef0123456789abcdef01234567")
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    refused_without_change(project, result, "commit 0123456789ab, which is not in the local repository")


def test_refuses_when_a_target_secret_cannot_be_decrypted(project):
    undecryptable = dict(TARGET_CONFIG, **{"delivery:dbPassword": ("ERROR_UNABLE_TO_DECRYPT", True)})
    project.fake.add_entry(STACK, config=undecryptable, commit=project.head)
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    refused_without_change(project, result, "secret config (delivery:dbPassword) could not be decrypted")


def test_refuses_when_the_pulumi_cli_is_missing(project, monkeypatch):
    monkeypatch.setenv("PATH", str(project.path / "no-such-bin"))
    result = subprocess.run(
        [sys.executable, "-m", "ops", "rollback", "stack", "-s", STACK, "--cwd", str(project.path)],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "the Pulumi CLI was not found on PATH" in result.stderr and "Traceback" not in result.stderr
    assert project.fake.calls() == []


def test_without_yes_a_non_interactive_run_stops_before_up_and_puts_the_config_back(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)
    project.fake.add_entry(STACK, config=CURRENT_CONFIG, commit=project.head)
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK)
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert "preview" in project.fake.commands() and "up" not in project.fake.commands()
    assert project.stack_file.read_bytes() == before


def test_a_second_default_rollback_warns_that_it_undoes_the_first(project):
    assert project.ops("rollback", "stack", "-s", STACK, "--yes").returncode == 0
    again = project.ops("rollback", "stack", "-s", STACK, "--dry-run")
    assert again.returncode == 0
    assert "the newest update (version 6) is a rollback to version 1; going to version 5 undoes it" in again.stderr


def run_in_terminal(project: Project, answer: str, *args: str) -> subprocess.CompletedProcess:
    """Runs the command with a pseudo-terminal as stdin (an operator at a prompt) and types `answer`."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "ops", *args, "--cwd", str(project.path)],
            cwd=ROOT, env=os.environ.copy(), stdin=terminal, capture_output=True, text=True, timeout=120,
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_an_operator_answering_no_at_the_prompt_cancels_before_up(project):
    before = project.stack_file.read_bytes()
    result = run_in_terminal(project, "n", "rollback", "stack", "-s", STACK)
    assert result.returncode == 1
    assert "Run `pulumi up` to apply this rollback? [y/N]" in result.stdout
    assert "cancelled: `pulumi up` was not run" in result.stderr
    assert "up" not in project.fake.commands()
    assert project.stack_file.read_bytes() == before


def test_an_operator_answering_yes_at_the_prompt_applies_the_rollback(project):
    result = run_in_terminal(project, "y", "rollback", "stack", "-s", STACK)
    assert result.returncode == 0, result.stderr
    assert project.fake.commands()[-2:] == ["up", "stack history"]
