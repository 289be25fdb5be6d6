"""Small constructors around pulumi_policy so each guardrail module states only what it checks.

A check receives plain data (see values.plain), its configuration with the schema defaults filled in (the CLI
normally sends them too; filling them here makes a policy behave the same when it does not), and a Findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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

from guardrails.values import Findings, plain


@dataclass
class Resource:
    """One resource as a policy sees it: plain properties, and the options CrossGuard exposes. Properties are
    copied out of the SDK's proxy only when a check reads them (stack policies see every resource)."""

    urn: str
    type: str
    name: str
    raw: Any = field(default=None, repr=False)
    protect: bool = False
    parent: str = ""
    aliases: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    _props: dict | None = field(default=None, repr=False)

    @property
    def props(self) -> dict:
        if self._props is None:
            self._props = plain(self.raw) if self.raw is not None else {}
        return self._props


def _resource(item: ResourceValidationArgs | PolicyResource, parent: str, **links: Any) -> Resource:
    """A Resource from what the SDK gives a resource policy (args) or a stack policy (each of args.resources)."""
    return Resource(urn=item.urn, type=item.resource_type, name=item.name, raw=item.props,
                    protect=bool(item.opts.protect), parent=parent, aliases=list(item.opts.aliases), **links)


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
        resource = _resource(args, args.opts.parent or "")
        findings = Findings(report_violation)
        check(resource, with_defaults(schema, args.get_config()), findings)
        findings.finish()

    return _policy(ResourceValidationPolicy, name, description, validate, schema, level)


def stack_resources(args: StackValidationArgs, types: Iterable[str] | None = None) -> list[Resource]:
    """The stack's resources (optionally only some types) as plain Resources."""
    wanted = frozenset(types) if types is not None else None
    resources = []
    for item in args.resources:
        if wanted is not None and item.resource_type not in wanted:
            continue
        resources.append(_resource(
            item,
            item.parent.urn if item.parent is not None else (item.opts.parent or ""),
            dependencies=[dep.urn for dep in item.dependencies],
            property_dependencies={key: [dep.urn for dep in deps] for key, deps in item.property_dependencies.items()},
        ))
    return resources


def stack_policy(
    name: str,
    description: str,
    check: Callable[[StackValidationArgs, dict, Findings], None],
    schema: dict[str, dict] | None = None,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> StackValidationPolicy:
    """A policy over the whole planned stack (AnalyzeStack: resources carry their planned outputs)."""
    schema = schema or {}

    def validate(args: StackValidationArgs, report_violation) -> None:
        findings = Findings(report_violation)
        check(args, with_defaults(schema, args.get_config()), findings)
        findings.finish()

    return _policy(StackValidationPolicy, name, description, validate, schema, level)
