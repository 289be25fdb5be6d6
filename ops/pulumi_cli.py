"""Running the Pulumi CLI found on PATH, and reading stack outputs (the handles other commands need)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ops.errors import OpsError


def pulumi_executable() -> str:
    found = shutil.which("pulumi")
    if not found:
        raise OpsError("the Pulumi CLI was not found on PATH; install it (https://www.pulumi.com/docs/install/)")
    return found


def run_pulumi(args: Sequence[str], cwd: Path | str | None = None, stdin_text: str = "") -> subprocess.CompletedProcess:
    """Runs `pulumi ARGS` non-interactively; a non-zero exit raises OpsError naming the command. `stdin_text` is
    its whole standard input (how `pulumi config set` takes a value that must not be on argv); by default an empty
    one, so nothing can wait on the terminal."""
    command = [pulumi_executable(), *args, "--non-interactive"]
    result = subprocess.run(command, cwd=cwd, text=True, capture_output=True, check=False, input=stdin_text)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()
        tail = detail[-1] if detail else f"exit code {result.returncode}"
        raise OpsError(f"`pulumi {' '.join(args)}` failed: {tail}")
    return result


def run_pulumi_json(args: Sequence[str], cwd: Path | str | None = None):
    result = run_pulumi([*args, "--json"], cwd=cwd)
    try:
        return json.loads(result.stdout or "null")
    except json.JSONDecodeError as error:
        raise OpsError(f"`pulumi {' '.join(args)} --json` did not print JSON: {error}") from error


def stack_outputs(stack: str, cwd: Path | str | None = None) -> dict:
    """`pulumi stack output --json` for STACK (secret outputs stay masked)."""
    outputs = run_pulumi_json(["stack", "output", "--stack", stack], cwd=cwd)
    return outputs if isinstance(outputs, dict) else {}


def stack_handle(outputs: dict, key: str, override: str | None, flag: str) -> str:
    """A handle such as the pipeline name: the flag wins, else the stack output, else a clear error."""
    value = override or outputs.get(key)
    if not value:
        raise OpsError(f"the stack has no output `{key}`; pass {flag} to name it")
    return str(value)


def run_pulumi_streaming(args: Sequence[str], cwd: Path | str | None = None, tail_lines: int = 20) -> tuple[int, str]:
    """Runs `pulumi ARGS` non-interactively, echoing its output line by line as it comes (long operations show
    progress), and returns the exit code and the last `tail_lines` lines for error messages."""
    command = [pulumi_executable(), *args, "--non-interactive"]
    tail: list[str] = []
    with subprocess.Popen(
        command, cwd=cwd, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            tail = [*tail[-(tail_lines - 1) :], line.rstrip("\n")]
    return process.returncode, "\n".join(tail)
