"""The deployed stack, from a `pulumi stack export` file (deployment version 3), and how the plan differs from it.

CrossGuard shows a policy only the planned resources; the change guardrails compare them with this baseline.
Resources are matched by URN, or by an alias the planned resource declares (a rename with an alias is a move, not
a delete and a create). Providers are left out on both sides: default providers exist in a real export but are
never registered by the program. A property the resource had as an input counts as changed when the plan's value
differs from the deployed one; values unknown during preview are not counted, and unreadable (encrypted) baseline
secrets are skipped."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from guardrails.aws_types import PROVIDER_PREFIX, STACK
from guardrails.framework import Resource
from guardrails.sdk import is_special
from guardrails.values import UNKNOWN

IGNORED_PROPERTIES = frozenset({"__defaults", "__meta", "tagsAll", "urn", "id"})


class BaselineError(Exception):
    """The baseline file is missing or is not a stack export."""


@dataclass
class BaselineResource:
    urn: str
    type: str
    inputs: dict
    outputs: dict
    protect: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Baseline:
    path: str
    resources: dict[str, BaselineResource]
    stack_outputs: dict | None

    def of_types(self, types) -> list[BaselineResource]:
        return [r for r in self.resources.values() if r.type in types]


_cache: dict[tuple, Baseline] = {}


def load(path: str) -> Baseline:
    """The baseline at `path`, parsed once per file version (every change policy reads the same file)."""
    try:
        stat = os.stat(path)
    except OSError as error:
        raise BaselineError(f"baseline {path} cannot be read: {error.strerror}") from error
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = _parse(path)
    return _cache[key]


def _parse(path: str) -> Baseline:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        raise BaselineError(f"baseline {path} is not JSON: {error}") from error
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if not isinstance(deployment, dict) or document.get("version") != 3:
        raise BaselineError(f"baseline {path} is not a `pulumi stack export` file (version 3 with a deployment)")
    resources, outputs = {}, None
    for item in deployment.get("resources") or []:
        if not isinstance(item, dict):
            raise BaselineError(f"baseline {path} has a resource that is not an object")
        kind, urn = item.get("type", ""), item.get("urn", "")
        if not urn or item.get("delete") or kind.startswith(PROVIDER_PREFIX):
            continue
        resources[urn] = BaselineResource(urn, kind, item.get("inputs") or {}, item.get("outputs") or {},
                                          bool(item.get("protect")))
        if kind == STACK:
            outputs = item.get("outputs") or {}
    return Baseline(path, resources, outputs)


@dataclass
class Change:
    kind: str  # "create", "update" or "delete"
    type: str
    name: str
    urn: str
    properties: list[str] = field(default_factory=list)


def match(plan: list[Resource], baseline: Baseline) -> dict[str, Resource]:
    """Baseline URN -> the planned resource that continues it (same URN, or an alias naming it)."""
    matched = {}
    for resource in plan:
        for urn in (resource.urn, *resource.aliases):
            if urn in baseline.resources:
                matched[urn] = resource
    return matched


def _may_equal(before, after) -> bool:
    """True unless the known parts of `after` differ from `before` (an unknown matches anything)."""
    if after is UNKNOWN:
        return True
    if isinstance(before, dict) and isinstance(after, dict):
        return before.keys() == after.keys() and all(_may_equal(before[k], after[k]) for k in before)
    if isinstance(before, list) and isinstance(after, list):
        return len(before) == len(after) and all(_may_equal(b, a) for b, a in zip(before, after, strict=True))
    return before == after


def changed_properties(planned: Resource, old: BaselineResource) -> list[str]:
    """The baseline's input properties whose planned value differs in its known parts. Plans carry outputs, so the
    deployed output is the value compared (a provider may normalize an input; an unchanged resource keeps its
    outputs), falling back to the input. Unknowns and secrets are not judged."""
    changed = []
    for key in sorted(old.inputs):
        if key in IGNORED_PROPERTIES:
            continue
        before = old.outputs.get(key, old.inputs[key])
        after = planned.prop(key)
        if is_special(before) or is_special(after):
            continue
        if before != after and not _may_equal(before, after):  # the plain comparison first: it is much faster
            changed.append(key)
    return changed


def diff(plan: list[Resource], baseline: Baseline) -> list[Change]:
    """Creates, updates and deletes that take the baseline to the plan (providers and the root stack left out)."""
    plan = [r for r in plan if not r.type.startswith(PROVIDER_PREFIX) and r.type != STACK]
    matched = match(plan, baseline)
    continued = {id(r) for r in matched.values()}
    changes = [Change("create", r.type, r.name, r.urn) for r in plan if id(r) not in continued]
    for urn, old in baseline.resources.items():
        if old.type == STACK:
            continue
        planned = matched.get(urn)
        if planned is None:
            changes.append(Change("delete", old.type, old.name, urn))
            continue
        properties = changed_properties(planned, old)
        if properties:
            changes.append(Change("update", old.type, old.name, urn, properties))
    return changes
