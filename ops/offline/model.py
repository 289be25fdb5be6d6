"""What an offline run records: each registration as the engine would receive it, and the run as a whole (the JSON
document `python -m ops.mockrun` prints and `run_program` reads back)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"
"""The type of the root resource the engine registers for every stack (its outputs are the stack outputs)."""
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
"""The type of a provider resource: this prefix and the package name (pulumi:providers:aws)."""


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str = ""
    custom: bool = True
    protect: bool = False
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


_REGISTRATION_FIELDS = tuple(f.name for f in fields(Registration))


@dataclass
class MockRun:
    project: str
    stack: str
    resources: list[Registration]
    stack_outputs: dict[str, Any]
    evaluation_seconds: float = 0.0
    """The child process's own time from its entry point (before the SDK is imported) to the recorded run: imports
    plus registration. Interpreter start-up is not in it; the benchmark times the whole child from outside."""

    def to_json(self) -> str:
        # dataclasses.asdict would deep-copy every value first; the values are plain JSON already.
        document = {
            "project": self.project,
            "stack": self.stack,
            "resources": [{name: getattr(r, name) for name in _REGISTRATION_FIELDS} for r in self.resources],
            "stack_outputs": self.stack_outputs,
            "evaluation_seconds": self.evaluation_seconds,
        }
        return json.dumps(document, indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> MockRun:
        data = json.loads(text)
        return cls(project=data["project"], stack=data["stack"], stack_outputs=data["stack_outputs"],
                   resources=[Registration(**r) for r in data["resources"]],
                   evaluation_seconds=data.get("evaluation_seconds", 0.0))

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}
