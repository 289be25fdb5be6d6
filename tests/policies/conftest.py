"""The policy pack as the engine runs it: one pack process for the whole session, driven over the Analyzer gRPC
protocol, fed with the registrations of the real program run on the mock runtime (or with edited copies)."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops.baseline import write_baseline
from ops.offline import PACK_DIR
from ops.offline.analyzer import PolicyPack, Report, analyze_resources
from ops.offline.model import MockRun, Registration
from ops.offline.run import run_program
from ops.offline.stack_file import stack_config

# The test modules import the pack's own modules (`guardrails.*`) the way the engine runs the pack: from its folder.
if str(PACK_DIR) not in sys.path:
    sys.path.insert(0, str(PACK_DIR))

STACKS = ("dev", "prod")
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine marshals an unknown value (preview)


@pytest.fixture(scope="session")
def policy_runs(project_root) -> dict[str, MockRun]:
    return {stack: run_program(stack, project_root) for stack in STACKS}


@pytest.fixture(scope="session")
def pack(project_root) -> Iterator[PolicyPack]:
    """One pack process for the session; each analysis configures it first, so tests do not leak settings."""
    with PolicyPack(PACK_DIR, project="delivery", stack="prod", stack_config=stack_config(project_root, "prod")) as p:
        yield p


def stack_config_file(stack: str) -> dict:
    return json.loads((PACK_DIR / "config" / f"{stack}.json").read_text())


def prod_config_for_dev() -> dict:
    """prod's policy config (every guardrail mandatory, prod's thresholds), for judging what only dev has: the ECR
    repository and its lifecycle policy and the CodeBuild projects (prod is promoted and builds nothing). The policies
    dev's own config disables stay disabled: dev is not promoted (`promoted-stack-builds-nothing`), has no approval
    and deploys all at once; those are judged on prod's plan."""
    dev = stack_config_file("dev")
    return {**stack_config_file("prod"), **{name: level for name, level in dev.items() if level == "disabled"}}


@pytest.fixture
def analyze(pack) -> Callable[..., Report]:
    """analyze(run, config=None, stack_outputs=None): configure the pack (default: every policy mandatory) and
    send the run's resources through Analyze and AnalyzeStack."""

    def _analyze(run: MockRun, config: dict | None = None) -> Report:
        levels = {name: level for name, (level, _) in pack.configure(config or {"all": "mandatory"}).items()}
        return analyze_resources(pack, run.resources, run.stack_outputs, levels)

    return _analyze


def edited(run: MockRun, type_: str, change: Callable[[dict], None], name: str | None = None) -> MockRun:
    """A copy of the run whose (first) resource of `type_` has `change` applied to its inputs and its outputs."""
    copied = copy.deepcopy(run)
    target = next(r for r in copied.resources if r.type == type_ and (name is None or r.name == name))
    change(target.inputs)
    change(target.outputs)
    return copied


def of_policy(report: Report, policy: str) -> list[str]:
    return [d.message for d in report.diagnostics if d.policy == policy]


def write_run_baseline(run: MockRun, directory: Path, name: str = "baseline.json") -> Path:
    return write_baseline(run, directory / name)


def add_resource(run: MockRun, registration: Registration) -> MockRun:
    copied = copy.deepcopy(run)
    copied.resources.append(registration)
    return copied


def child_urn(run: MockRun, type_: str, name: str) -> str:
    return f"urn:pulumi:{run.stack}::{run.project}::{type_}::{name}"
