"""Policy levels and properties, as the Pulumi CLI computes them before it configures a pack: the policies'
defaults, overridden by a --policy-pack-config file (`all`, then per policy), validated against each policy's
schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ops.errors import OpsError

LEVELS = ("advisory", "mandatory", "remediate", "disabled")


@dataclass
class PolicyInfo:
    name: str
    description: str
    level: str
    kind: str  # "resource" or "stack"
    schema: dict[str, Any]  # the config properties' JSON schemas


def load_policy_config(path: Path) -> dict[str, Any]:
    """A --policy-pack-config file: {policy or "all": level | {"enforcementLevel": level, key: value...}}."""
    try:
        document = json.loads(path.read_text() or "{}")
    except OSError as error:
        raise OpsError(f"cannot read policy config {path}: {error.strerror}") from error
    except ValueError as error:
        raise OpsError(f"policy config {path} is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise OpsError(f"policy config {path} must be a JSON object keyed by policy name")
    return document


def reconcile_config(policies: list[PolicyInfo], given: dict[str, Any]) -> dict[str, tuple[str, dict]]:
    """Every policy's (level, properties), as the CLI computes them before Configure: the policy's default level
    and its schema defaults, then `all`, then per-policy settings; the result is validated against each schema."""
    result = {
        p.name: (p.level, {k: spec["default"] for k, spec in p.schema.items() if "default" in spec}) for p in policies
    }
    entries = {name: _split_entry(name, value) for name, value in given.items()}
    unknown = sorted(set(entries) - set(result) - {"all"})
    if unknown:
        raise OpsError(f"policy config names policies the pack does not have: {', '.join(unknown)}")
    if entries.get("all", (None, {}))[0]:
        result = {name: (entries["all"][0], props) for name, (_, props) in result.items()}
    for name, (level, props) in entries.items():
        if name == "all":
            continue
        old_level, old_props = result[name]
        result[name] = (level or old_level, {**old_props, **props})
    by_name = {p.name: p for p in policies}
    for name, (_, props) in result.items():
        schema = {"type": "object", "properties": by_name[name].schema}
        errors = sorted(error.message for error in jsonschema.Draft7Validator(schema).iter_errors(props))
        if errors:
            raise OpsError(f"policy config for {name} is invalid: {'; '.join(errors)}")
    return result


def _split_entry(name: str, value: Any) -> tuple[str | None, dict]:
    if isinstance(value, str):
        level, props = value, {}
    elif isinstance(value, dict):
        props = dict(value)
        level = props.pop("enforcementLevel", None)
    else:
        raise OpsError(f"policy config for {name} must be a level or an object, not {type(value).__name__}")
    if level is not None and level not in LEVELS:
        raise OpsError(f"policy config for {name}: {level!r} is not one of {', '.join(LEVELS)}")
    return level, props
