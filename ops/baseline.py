"""Baselines for the change guardrails: `pulumi stack export` files (deployment version 3).

`baseline_from_run` turns an offline run of the program into the same shape, so tests (and users without cloud
access) can derive a baseline from the program itself; `load_baseline` checks that a file a user passes is one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ops.errors import OpsError
from ops.offline.model import STACK_TYPE

EXPORT_VERSION = 3


def _export_resource(registration, stack_outputs: dict) -> dict:
    """One resource as `pulumi stack export` writes it (empty fields are omitted, as the CLI's omitempty does)."""
    is_stack = registration.type == STACK_TYPE
    resource = {
        "urn": registration.urn,
        "custom": bool(registration.custom),
        "id": registration.id if registration.custom else "",
        "type": registration.type,
        "inputs": {} if is_stack else dict(registration.inputs),
        "outputs": dict(stack_outputs) if is_stack else dict(registration.outputs),
        "parent": registration.parent,
        "protect": bool(registration.protect),
        "dependencies": list(registration.dependencies),
        "propertyDependencies": {k: list(v) for k, v in registration.property_dependencies.items() if v},
        "provider": registration.provider,
        "aliases": list(registration.aliases),
        "retainOnDelete": bool(registration.retain_on_delete),
        "additionalSecretOutputs": list(registration.additional_secret_outputs),
    }
    return {key: value for key, value in resource.items() if value not in ("", [], {}, False) or key == "custom"}


def baseline_from_run(run) -> dict:
    """A stack export of the state `pulumi up` would leave behind for this offline run."""
    return {
        "version": EXPORT_VERSION,
        "deployment": {
            "manifest": {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "magic": "",
                "version": "offline (ops.baseline)",
            },
            "resources": [_export_resource(r, run.stack_outputs) for r in run.resources],
        },
    }


def write_baseline(run, path: Path) -> Path:
    path.write_text(json.dumps(baseline_from_run(run), indent=2, sort_keys=True))
    return path


def load_baseline(path: Path) -> dict:
    """A stack export file, checked enough that the policies can trust its shape; a clear error otherwise."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as error:
        raise OpsError(f"cannot read baseline {path}: {error.strerror}") from error
    except ValueError as error:
        raise OpsError(f"baseline {path} is not JSON: {error}") from error
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if not isinstance(deployment, dict) or document.get("version") != EXPORT_VERSION:
        raise OpsError(f"baseline {path} is not a `pulumi stack export` file (expected version 3 with a deployment)")
    resources = deployment.get("resources") or []
    if not isinstance(resources, list) or any(not isinstance(r, dict) or "urn" not in r for r in resources):
        raise OpsError(f"baseline {path} has a malformed resources list (each needs a urn)")
    return document
