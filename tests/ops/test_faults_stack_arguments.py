"""Fault class 5, arguments and files for `ops rollback stack`: empty, over-long or path-like stack names, a missing
or unreadable project or stack file, non-UTF-8 files, directories (or a FIFO) where files are expected, and bad
versions. Each is one line on stderr and exit 2 before anything is touched: no Pulumi call, no worktree, no lock
directory, the stack file's bytes unchanged. Stack names follow Pulumi's own rule (1-100 of A-Za-z0-9_.-, optionally
qualified as org/name or org/project/name: sdk/go/common/tokens/stack_name.go in github.com/pulumi/pulumi)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.ops.fake_pulumi.harness import BAD_STACK_NAMES, STACK, Project, Verdict, build_project, ops

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return build_project(tmp_path, monkeypatch)


def untouched(project: Project, result, before: bytes | None, *fragments: str) -> None:
    verdict = Verdict(result).exit_code(2).one_line(*fragments)
    verdict.expect(project.fake.calls() == [], f"pulumi was called: {project.fake.commands()}")
    verdict.expect(len(project.worktrees()) == 1, "a worktree was created")
    verdict.expect("\x1b" not in result.stderr, "an escape sequence reached stderr")
    if before is not None:
        verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml changed")
    verdict.done()


@pytest.mark.parametrize("mode", ["--yes", "--dry-run"])
@pytest.mark.parametrize("name", BAD_STACK_NAMES, ids=list(BAD_STACK_NAMES))
def test_a_bad_stack_name_is_refused_before_anything(project, name, mode):
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", f"--stack={BAD_STACK_NAMES[name]}", mode)
    untouched(project, result, before, "stack")
    assert not (project.path / ".pulumi-ops").exists() or not any((project.path / ".pulumi-ops").glob("*.lock"))


def make_fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


FILE_FAULTS = {
    "pulumi-yaml-missing": (lambda p: (p / "Pulumi.yaml").unlink(), "Pulumi.yaml"),
    "pulumi-yaml-directory": (lambda p: ((p / "Pulumi.yaml").unlink(), (p / "Pulumi.yaml").mkdir()), "Pulumi.yaml"),
    "pulumi-yaml-fifo": (lambda p: make_fifo(p / "Pulumi.yaml"), "Pulumi.yaml"),
    "pulumi-yaml-not-utf8": (lambda p: (p / "Pulumi.yaml").write_bytes(b"name: d\xe9livery\n"), "Pulumi.yaml"),
    "stack-file-missing": (lambda p: (p / "Pulumi.prod.yaml").unlink(), "Pulumi.prod.yaml"),
    "stack-file-directory": (
        lambda p: ((p / "Pulumi.prod.yaml").unlink(), (p / "Pulumi.prod.yaml").mkdir()), "Pulumi.prod.yaml"),
    "stack-file-fifo": (lambda p: make_fifo(p / "Pulumi.prod.yaml"), "Pulumi.prod.yaml"),
    "stack-file-not-utf8": (
        lambda p: (p / "Pulumi.prod.yaml").write_bytes(b"config:\n  aws:region: \xff\xfe\n"), "Pulumi.prod.yaml"),
    "stack-file-dangling-link": (
        lambda p: ((p / "Pulumi.prod.yaml").unlink(), (p / "Pulumi.prod.yaml").symlink_to(p / "gone.yaml")),
        "Pulumi.prod.yaml"),
    "lock-dir-is-a-file": (lambda p: (p / ".pulumi-ops").write_text("not a directory"), ".pulumi-ops"),
    "lock-file-is-a-directory": (lambda p: (p / ".pulumi-ops" / "prod.lock").mkdir(parents=True), "prod.lock"),
}


@pytest.mark.parametrize("mode", ["--yes", "--dry-run"])
@pytest.mark.parametrize("fault", FILE_FAULTS, ids=list(FILE_FAULTS))
def test_a_bad_project_or_stack_file_is_refused_before_anything(project, fault, mode):
    break_it, fragment = FILE_FAULTS[fault]
    break_it(project.path)
    stack_file = project.stack_file
    before = stack_file.read_bytes() if stack_file.is_file() and not stack_file.is_symlink() else None
    result = project.ops("rollback", "stack", "-s", STACK, mode, timeout=30)
    untouched(project, result, before, fragment)


CWD_FAULTS = {"empty": "", "missing": "no/such/dir", "a-file": "Pulumi.yaml"}


@pytest.mark.parametrize("cwd", CWD_FAULTS, ids=list(CWD_FAULTS))
def test_a_bad_project_directory_is_refused_before_anything(project, cwd):
    value = CWD_FAULTS[cwd] if cwd == "empty" else str(project.path / CWD_FAULTS[cwd])
    result = ops("rollback", "stack", "-s", STACK, "--yes", f"--cwd={value}")
    untouched(project, result, project.stack_file.read_bytes(), "--cwd")


@pytest.mark.parametrize("version", ["0", "-1", "abc", "1e3", "", "1.5", "99999999999999999999999"])
def test_a_bad_version_is_refused_before_anything(project, version):
    before = project.stack_file.read_bytes()
    result = project.ops("rollback", "stack", "-s", STACK, f"--to={version}", "--yes")
    if version == "99999999999999999999999":  # a whole number: refused because no such version exists
        verdict = Verdict(result).exit_code(2).one_line("not in the stack's history")
        verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml changed").done()
        return
    untouched(project, result, before, "--to")
