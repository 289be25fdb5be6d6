"""Fault class 3, what Pulumi prints and how it fails: non-UTF-8 bytes, a lock message that is not in the last
lines, a failure after `up` succeeded (the history cannot be read), an error whose only text is the stdout of a
`--show-secrets` command (or repeats a secret given on stdin), a kill mid-output, a failure at each step.

Every case runs at HEAD, so the rollback rewrites this checkout's Pulumi.prod.yaml: the file must be as it was when
nothing was applied, and what `up` ran with once it ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ops.fake_pulumi.harness import (
    NEW_SECRET,
    OLD_SECRET,
    STACK,
    TARGET_CONFIG,
    Project,
    Verdict,
    build_project,
    plain,
    run_main,
)

pytestmark = pytest.mark.slow
AS_IT_WAS, AS_RUN = "as it was", "as run"
EXIT_UNCONFIRMED = 4


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = build_project(tmp_path, monkeypatch)
    project.run_at_head()
    return project


def rollback(project: Project, file_should_be: str, code: int, *fragments: str, **fault) -> Verdict:
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK, "--yes")
    verdict = Verdict(result).exit_code(code).no_secret()
    if code != 0:
        verdict.one_line(*fragments)
    verdict.expect("\x1b" not in result.stderr, "a terminal escape sequence reached stderr")
    if file_should_be == AS_IT_WAS:
        verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml is not as it was")
    else:
        verdict.keep(project.config() == plain(TARGET_CONFIG), "Pulumi.prod.yaml is not what `pulumi up` ran with")
    return verdict


# -- non-UTF-8 output ------------------------------------------------------------------------------------------------

BINARY_CASES = [
    ("preview", "stdout", AS_RUN, 0, ()),
    ("up", "stdout", AS_RUN, 0, ()),
    ("stack history", "stdout", AS_IT_WAS, 2, ("not UTF-8",)),
    ("config", "stdout", AS_IT_WAS, 2, ("not UTF-8",)),
]


@pytest.mark.parametrize(("command", "stream", "file", "code", "fragments"), BINARY_CASES)
def test_non_utf8_output(project, command, stream, file, code, fragments):
    project.fake.fault(command, binary=stream)
    rollback(project, file, code, *fragments).done()


@pytest.mark.parametrize(("command", "code"), [("preview", 2), ("config set", 2), ("install", 2), ("up", 1)])
def test_non_utf8_error_message(project, command, code):
    if command == "install":
        project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.target_commit)  # a worktree target
        project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)
    project.fake.fault(command, binary="stderr", fail={"stderr": "error: broken", "code": 255})
    rollback(project, AS_RUN if command == "up" else AS_IT_WAS, code, "error: broken").done()


# -- locks -------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["preview", "up"])
@pytest.mark.parametrize("locks", [1, 40])
def test_a_diy_lock_message_followed_by_its_lock_lines_is_a_refusal(project, command, locks):
    project.fake.fault(command, lock_lines=locks)
    rollback(project, AS_IT_WAS, 2, "locked", "pulumi cancel").done()


@pytest.mark.parametrize("command", ["preview", "up"])
def test_a_lock_message_followed_by_other_output_is_a_refusal(project, command):
    noise = "\n".join(f"warning: provider plugin note {n}" for n in range(30))
    stderr = "error: [409] Conflict: Another update is currently in progress.\n" + noise
    project.fake.fault(command, fail={"stderr": stderr, "code": 255})
    rollback(project, AS_IT_WAS, 2, "locked").done()


def test_a_lock_left_by_a_killed_update_is_named_with_the_command_that_releases_it(project):
    project.fake.behave(backend="diy")
    state = project.fake.load()
    state["stacks"][STACK]["lock"] = {"pid": 999999}
    project.fake.save(state)
    rollback(project, AS_IT_WAS, 2, "locked", f"pulumi cancel --stack {STACK} --yes --cwd {project.path}").done()


# -- after `up` succeeded ----------------------------------------------------------------------------------------------

AFTER_UP = {
    "fails": {"fail": {"stderr": "error: could not reach the backend", "code": 255}},
    "binary": {"binary": "stdout"},
    "not-json": {"fail": {"stdout": "<html>502 Bad Gateway</html>", "code": 0}},
    "killed": {"kill_after": 3},
}


@pytest.mark.parametrize("fault", AFTER_UP, ids=list(AFTER_UP))
def test_history_unreadable_after_a_successful_up_says_what_was_applied(project, fault):
    project.fake.fault("stack history", after_up=True, **AFTER_UP[fault])
    verdict = rollback(project, AS_RUN, EXIT_UNCONFIRMED, "`pulumi up` succeeded", "version 6's program and config")
    verdict.expect(project.fake.history(STACK)[-1]["result"] == "succeeded", "the rollback itself did not succeed")
    verdict.done()


# -- secrets in failing commands ---------------------------------------------------------------------------------------

def secret_stdout() -> str:
    return json.dumps([{"version": 9, "config": {"delivery:dbPassword": {"value": NEW_SECRET, "secret": True}}}])


@pytest.mark.parametrize("command", ["stack history", "config"])
def test_a_failure_with_only_show_secrets_stdout_never_prints_it(project, command):
    project.fake.fault(command, fail={"stdout": secret_stdout(), "stderr": "", "code": 255})
    rollback(project, AS_IT_WAS, 2, "exit code 255").done()


def test_a_config_set_error_that_repeats_the_secret_is_not_printed(project):
    project.fake.fault("config set", echo_stdin=True)
    verdict = rollback(project, AS_IT_WAS, 2, "config set")
    verdict.no_secret(OLD_SECRET, NEW_SECRET).done()


# -- killed mid-output -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("command", "file", "code", "fragments"),
    [
        ("stack history", AS_IT_WAS, 2, ("SIGKILL",)),
        ("config", AS_IT_WAS, 2, ("SIGKILL",)),
        ("config set", AS_IT_WAS, 2, ("SIGKILL",)),
        ("preview", AS_IT_WAS, 2, ("SIGKILL",)),
        ("up", AS_RUN, 1, ("SIGKILL", "pulumi cancel --stack prod")),
    ],
)
def test_killed_mid_output(project, command, file, code, fragments):
    project.fake.fault(command, kill_after=3)
    rollback(project, file, code, *fragments).done()


def test_install_killed_in_a_worktree(project):
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.target_commit)  # version 8, a worktree target
    project.fake.add_entry(STACK, config=TARGET_CONFIG, commit=project.head)
    project.fake.fault("install", kill_after=1)
    verdict = rollback(project, AS_IT_WAS, 2, "SIGKILL")
    verdict.expect(len(project.worktrees()) == 1, "a worktree was left behind").done()


# -- a plain failure at each step --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("command", "file", "code"),
    [("config set", AS_IT_WAS, 2), ("config rm", AS_IT_WAS, 2), ("config", AS_IT_WAS, 2),
     ("preview", AS_IT_WAS, 2), ("up", AS_RUN, 1)],
)
def test_a_failure_at_each_step(project, command, file, code):
    project.fake.fault(command, fail={"stderr": "error: the backend said no", "code": 255})
    rollback(project, file, code, "error: the backend said no").done()


def test_escape_sequences_in_an_error_are_not_passed_to_the_terminal(project):
    project.fake.fault("preview", fail={"stderr": "error: \x1b]0;pwned\x07\x1b[2J boom", "code": 255})
    rollback(project, AS_IT_WAS, 2, "boom").done()


def test_an_error_with_no_text(project):
    project.fake.fault("preview", fail={"stderr": "", "code": 255})
    rollback(project, AS_IT_WAS, 2, "exit code 255").done()


def test_a_very_long_line_without_newline(project):
    project.fake.fault("preview", fail={"stdout": "x" * 2_000_000, "stderr": "error: long", "code": 255})
    rollback(project, AS_IT_WAS, 2, "error: long").done()


@pytest.mark.parametrize("command", ["stack history", "config", "config set", "preview", "up"])
def test_a_slow_pulumi_gets_progress_notes(project, monkeypatch, command):
    from ops import pulumi_cli

    monkeypatch.setattr(pulumi_cli, "QUIET_SECONDS", 0.3, raising=False)
    project.fake.fault(command, silent=1.0)
    result = run_main(["rollback", "stack", "-s", STACK, "--yes", "--cwd", str(project.path)])
    verdict = Verdict(result).exit_code(0)
    notes = [line for line in result.stdout.splitlines() if "is still running" in line]
    verdict.expect(any(f"`pulumi {command}" in note for note in notes), f"no progress note during a long wait: {notes}")
    verdict.keep(project.config() == plain(TARGET_CONFIG), "Pulumi.prod.yaml is not what `pulumi up` ran with")
    verdict.done()
