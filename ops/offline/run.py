"""The program on the Pulumi SDK's mock runtime, with a stack's real config: an offline preview, with no engine, no
provider plugin and no cloud.

Every resource registration is captured as the engine would receive it (type, name, parent, options such as
`protect`, dependencies, and the camelCase inputs), with plausible outputs (mocks.py) so that the program's `apply`
chains run. `ops check` feeds the result to the policy pack; the tests read it as a specification of what `pulumi up`
would create.

The program runs in a fresh child process, because the SDK keeps global runtime state: `run_program` (the parent
side) starts `python -m ops.mockrun -s STACK`, whose `child()` runs it here (`run_here`) and prints the run as JSON.
"""

from __future__ import annotations

import argparse
import gc
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

from ops.errors import OpsError
from ops.offline import PROJECT_ROOT
from ops.offline.mocks import call_result, resource_outputs
from ops.offline.model import STACK_TYPE, MockRun
from ops.offline.stack_file import project_name, stack_config

COMMAND = "ops.mockrun"
DESCRIPTION = "Run the Pulumi program offline, on the Pulumi SDK's mock runtime, with a stack's real config."


def run_program(stack: str, project_dir: Path = PROJECT_ROOT, timeout: float = 120) -> MockRun:
    """Runs the program for STACK in a fresh Python process; raises OpsError with the program's own message
    when it fails (a config mistake prints one sentence, like `pulumi up` would)."""
    command = [sys.executable, "-m", COMMAND, "--stack", stack, "--project-dir", str(project_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OpsError(f"the offline run of stack {stack} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        raise OpsError(_failure_message(stack, result))
    return MockRun.from_json(result.stdout)


def _failure_message(stack: str, result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    for line in lines:
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    detail = lines[-1] if lines else f"exit code {result.returncode}"
    return f"the offline run of stack {stack} failed: {detail}"



def run_here(project_dir: Path, stack: str) -> MockRun:
    """Runs the program in this process. Only once, in a fresh process: the SDK's runtime state is global."""
    started = time.perf_counter()
    config = stack_config(project_dir, stack)
    region = config.get("aws:region", "us-east-1")
    project = project_name(project_dir)

    from ops.offline import compat  # the SDK: after the stack file, so a mistake there costs no SDK import

    compat.hand_config_to_program(config)
    sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        registrations, stack_outputs = compat.run_on_mocks(
            lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__"),
            project=project, stack=stack,
            new_resource=lambda type_, name, inputs: resource_outputs(type_, name, inputs, region),
            call=lambda token, args: call_result(token, args, region))
    except compat.RunError as error:  # expected: a config mistake says what to fix
        raise OpsError(str(error)) from None
    finally:
        os.chdir(cwd)
    root = registrations[0]
    if root.type != STACK_TYPE:
        raise OpsError(f"the offline run recorded {root.type} first, not the root stack; see ops/offline/compat.py")
    root.outputs = stack_outputs
    return MockRun(project=project, stack=stack, resources=registrations, stack_outputs=stack_outputs,
                   evaluation_seconds=round(time.perf_counter() - started, 3))


def main(argv: list[str] | None = None) -> int:
    """`python -m ops.mockrun -s STACK [--project-dir DIR]`: the run as JSON on stdout; exit 2 with one line on stderr
    for a mistake in the stack's config or files."""
    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog=f"python -m {COMMAND}", description=DESCRIPTION)
    parser.add_argument("-s", "--stack", required=True)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv)
    try:
        run = run_here(args.project_dir.resolve(), args.stack)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run.evaluation_seconds = round(time.perf_counter() - started, 3)
    sys.stdout.write(run.to_json())
    return 0


def child(argv: list[str] | None = None) -> None:
    """The child process: main(), then exit without interpreter teardown.

    The cyclic garbage collector is off for the child's short life. Importing the SDK and pulumi_aws and registering
    the resources allocate millions of objects and free almost none, so each collection scans a growing heap to find
    next to nothing: with it on, the run took 1.4 to 1.5 times as long as importing those modules alone; off, about
    as long, for about 1 MB more memory (benchmarks/program_mock_run.py shows both in one run). The process ends with
    os._exit, so nothing relies on finalizers; teardown is skipped anyway because the SDK's event loop complains
    noisily when collected at exit."""
    gc.disable()
    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
