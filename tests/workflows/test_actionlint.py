"""actionlint over every workflow, with shellcheck on PATH so that every `run:` script is shellchecked too. Both
come from requirements-dev.txt into the virtualenv (.venv/bin); the second test proves shellcheck is really used,
since actionlint silently skips the scripts when it cannot find it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
VENV_BIN = Path(sys.executable).parent


def tool_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = tool_env()
    binary = shutil.which("actionlint", path=env["PATH"])
    assert binary, "actionlint is not installed: ./scripts/test installs it from requirements-dev.txt"
    assert shutil.which("shellcheck", path=env["PATH"]), "shellcheck is not installed (requirements-dev.txt)"
    return subprocess.run([binary, "-no-color", *map(str, files)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_every_workflow_passes_actionlint_and_shellcheck():
    assert WORKFLOWS
    result = actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("script", "finding"), [
    ("echo $UNQUOTED", "SC2086"),                         # shellcheck: word splitting
    ("echo ${{ github.event.issue.title }}", "untrusted"),  # actionlint: script injection
])
def test_actionlint_reports_shell_and_injection_problems(tmp_path, script, finding):
    workflow = tmp_path / ".github" / "workflows" / "bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: issues\npermissions: {}\njobs:\n  bad:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: {script}\n"
    )
    result = actionlint(workflow, cwd=tmp_path)
    assert result.returncode == 1 and finding in result.stdout, result.stdout + result.stderr
