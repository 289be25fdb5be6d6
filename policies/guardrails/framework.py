"""Small constructors around pulumi_policy so each guardrail module states only what it checks.

A check receives plain data (see values.plain), its configuration with the schema defaults filled in (the CLI
normally sends them too; filling them here makes a policy behave the same when it does not), and a Findings.

Stack checks read the stack through `Stack` (`stack_of(args)`): the planned resources converted once per
AnalyzeStack and shared by every stack policy of the pack (the pack is served by sdk.OnePassServicer, which hands
every stack policy the same deserialized stack), with lists per type and `Lookup` for joins by URN or name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from guardrails import sdk
from guardrails.values import UNKNOWN, Findings, plain


class Resource:
    """One resource as a policy sees it: plain properties, and the options CrossGuard exposes. Properties are
    copied out of the SDK's proxy only when a check reads them, and links (dependencies) only when asked for."""

    __slots__ = ("_item", "_props", "aliases", "name", "parent", "protect", "raw", "type", "urn")

    def __init__(self, item: ResourceValidationArgs | PolicyResource, parent: str):
        self._item = item
        self.urn: str = item.urn
        self.type: str = item.resource_type
        self.name: str = item.name
        self.raw: Any = item.props
        self.protect: bool = bool(item.opts.protect)
        self.parent: str = parent
        self.aliases: list[str] = list(item.opts.aliases)
        self._props: dict | None = None

    def __repr__(self) -> str:
        return f"Resource({self.type} {self.urn})"

    @property
    def props(self) -> dict:
        if self._props is None:
            self._props = plain(self.raw) if self.raw is not None else {}
        return self._props

    def prop(self, key: str) -> Any:
        """One top-level property as plain data (None when absent), copied without the others."""
        if self._props is not None or self.raw is None:
            return self.props.get(key)
        try:
            return plain(self.raw[key])
        except KeyError:
            return None
        except sdk.UnknownValueError:
            return UNKNOWN

    @property
    def dependencies(self) -> list[str]:
        """URNs of the stack's resources this one depends on (stack policies only)."""
        return [dep.urn for dep in getattr(self._item, "dependencies", None) or []]

    @property
    def property_dependencies(self) -> dict[str, list[str]]:
        """Per input property, URNs of the stack's resources it came from (stack policies only)."""
        links = getattr(self._item, "property_dependencies", None) or {}
        return {key: [dep.urn for dep in deps] for key, deps in links.items()}


class Stack:
    """The planned stack, converted once: every resource in plan order, and lists per type."""

    def __init__(self, items: Iterable[PolicyResource]):
        self.resources = [
            Resource(item, item.parent.urn if item.parent is not None else (item.opts.parent or "")) for item in items
        ]
        self._by_type: dict[str, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            self._by_type[resource.type].append(resource)
        self._of_types: dict[frozenset, list[Resource]] = {}

    def of_types(self, types: Iterable[str]) -> list[Resource]:
        """The resources of these types, in plan order (a new list)."""
        wanted = frozenset(types)
        if wanted not in self._of_types:
            present = [t for t in wanted if t in self._by_type]
            if len(present) == 1:
                found = self._by_type[present[0]]
            else:
                found = [r for r in self.resources if r.type in wanted] if present else []
            self._of_types[wanted] = found
        return list(self._of_types[wanted])


def stack_of(args: StackValidationArgs) -> Stack:
    """The stack of this AnalyzeStack, built once for all the pack's stack policies (or for this one policy when
    the SDK runs it on its own)."""
    shared = sdk.shared_state(args)
    if shared is None:
        return Stack(args.resources)
    stack = shared.get(Stack)
    if stack is None:
        stack = shared[Stack] = Stack(args.resources)
    return stack


def stack_resources(args: StackValidationArgs, types: Iterable[str] | None = None) -> list[Resource]:
    """The stack's resources (optionally only some types) in plan order, as a new list."""
    stack = stack_of(args)
    return list(stack.resources) if types is None else stack.of_types(types)


class Lookup:
    """Resources by the keys they expose, for joins by exact value (URN, name): `find` returns, in the order of
    `resources`, every resource with one of the given keys, as `[r for r in resources if key(r) in keys]` would,
    without comparing every pair."""

    def __init__(self, resources: list[Resource], keys: Callable[[Resource], Iterable[Any]]):
        self._resources = resources
        self._positions: dict[Any, list[int]] = defaultdict(list)
        self._unhashable: list[tuple[Any, int]] = []
        for position, resource in enumerate(resources):
            for key in keys(resource):
                if _hashable(key):
                    self._positions[key].append(position)
                else:
                    self._unhashable.append((key, position))

    def find(self, keys: Iterable[Any]) -> list[Resource]:
        positions: set[int] = set()
        for key in keys:
            if _hashable(key):
                positions.update(self._positions.get(key, ()))
            else:
                positions.update(position for other, position in self._unhashable if other == key)
        return [self._resources[position] for position in sorted(positions)]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def with_defaults(schema: dict[str, dict], given: Any) -> dict:
    """The policy's configuration: schema defaults overridden by what the engine sent."""
    config = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
    config.update(dict(given or {}))
    return config


def _policy(kind: type, name: str, description: str, validate: Callable, schema: dict, level: EnforcementLevel):
    return kind(name=name, description=description, validate=validate, enforcement_level=level,
                config_schema=PolicyConfigSchema(properties=schema) if schema else None)


def resource_policy(
    name: str,
    description: str,
    types: Iterable[str],
    check: Callable[[Resource, dict, Findings], None],
    schema: dict[str, dict] | None = None,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> ResourceValidationPolicy:
    """A per-resource policy that only looks at resources whose type token is in `types`."""
    wanted = frozenset(types)
    schema = schema or {}

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if args.resource_type not in wanted:
            return
        resource = Resource(args, args.opts.parent or "")
        findings = Findings(report_violation)
        check(resource, with_defaults(schema, args.get_config()), findings)
        findings.finish()

    return _policy(ResourceValidationPolicy, name, description, validate, schema, level)


def stack_policy(
    name: str,
    description: str,
    check: Callable[[StackValidationArgs, dict, Findings], None],
    schema: dict[str, dict] | None = None,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> StackValidationPolicy:
    """A policy over the whole planned stack (AnalyzeStack: resources carry their planned outputs). The check reads
    the stack with stack_of(args) / stack_resources(args), so that all stack policies share one conversion."""
    schema = schema or {}

    def validate(args: StackValidationArgs, report_violation) -> None:
        findings = Findings(report_violation)
        check(args, with_defaults(schema, args.get_config()), findings)
        findings.finish()

    return _policy(StackValidationPolicy, name, description, validate, schema, level)
