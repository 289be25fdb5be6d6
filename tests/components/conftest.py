"""The program, run once per stack on the Pulumi SDK's mock runtime with the real stack files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ops.offline.model import MockRun, Registration
from ops.offline.run import run_program

STACKS = ("dev", "prod")


@pytest.fixture(scope="session")
def runs(project_root) -> dict[str, MockRun]:
    return {stack: run_program(stack, project_root) for stack in STACKS}


@pytest.fixture(params=STACKS)
def run(request, runs) -> MockRun:
    """Each test that takes `run` states a property of both stacks."""
    return runs[request.param]


@pytest.fixture
def dev(runs) -> MockRun:
    return runs["dev"]


@pytest.fixture
def prod(runs) -> MockRun:
    return runs["prod"]


def one(run: MockRun, type_: str, name: str | None = None) -> Registration:
    found = [r for r in run.of_type(type_) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
    return found[0]


def policy_of(resource: Registration, key: str = "policy") -> dict:
    return json.loads(resource.inputs[key])


def program_with_stack(folder: Path, project_root: Path, stack: str, stack_file: str) -> Path:
    """A copy of the program in `folder` with one more stack file, for config the repository's stacks do not have."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, folder / name)
    shutil.copytree(project_root / "components", folder / "components")
    (folder / f"Pulumi.{stack}.yaml").write_text(stack_file)
    return folder


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def grants_of(run: MockRun, role_name: str) -> dict[str, set[str]]:
    """action -> resources, across every inline policy on one role."""
    role_id = one(run, "aws:iam/role:Role", role_name).id
    actions: dict[str, set[str]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] == role_id:
            for entry in json.loads(policy.inputs["policy"])["Statement"]:
                for action in as_list(entry["Action"]):
                    actions.setdefault(action, set()).update(as_list(entry["Resource"]))
    return actions
