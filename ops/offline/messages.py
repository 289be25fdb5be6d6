"""The Analyzer protocol's messages: what the engine sends the pack for a run's resources (Analyze with a resource's
inputs, AnalyzeStack with every resource's outputs, parent and dependencies; the root stack's outputs are the stack
outputs), and what the pack answers, read into plain values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf import json_format, struct_pb2

from ops.offline.compat import analyzer_pb2
from ops.offline.model import PROVIDER_TYPE_PREFIX
from ops.offline.policy_config import PolicyInfo


@dataclass
class Diagnostic:
    policy: str
    level: str
    message: str
    urn: str = ""

    def to_dict(self) -> dict:
        return {"policy": self.policy, "level": self.level, "message": self.message, "urn": self.urn}


@dataclass
class Analysis:
    """What the pack said about one request: violations, and policies that declared themselves not applicable."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)


def to_struct(values: dict | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if values:
        message.update(values)
    return message


def _options(resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(resource.protect),
        ignoreChanges=list(resource.ignore_changes),
        deleteBeforeReplace=bool(resource.delete_before_replace),
        deleteBeforeReplaceDefined=bool(resource.delete_before_replace),
        additionalSecretOutputs=list(resource.additional_secret_outputs),
        aliases=list(resource.aliases),
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
        parent=resource.parent or "",
    )


class Providers:
    """Resolves a resource's provider reference (`<provider urn>::<id>`) to the provider registration."""

    def __init__(self, resources: Iterable):
        self._by_urn = {r.urn: r for r in resources if r.type.startswith(PROVIDER_TYPE_PREFIX)}

    def message(self, resource) -> analyzer_pb2.AnalyzerProviderResource | None:
        reference = getattr(resource, "provider", "") or ""
        provider = self._by_urn.get(reference.rsplit("::", 1)[0]) if reference else None
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            urn=provider.urn, type=provider.type, name=provider.name, properties=to_struct(provider.inputs)
        )


def analyze_request(resource, providers: Providers) -> analyzer_pb2.AnalyzeRequest:
    """What the engine sends for one resource: its inputs, options and provider."""
    return analyzer_pb2.AnalyzeRequest(
        urn=resource.urn, type=resource.type, name=resource.name, properties=to_struct(resource.inputs),
        options=_options(resource), provider=providers.message(resource),
    )


def stack_resource(resource, providers: Providers, properties: dict | None = None) -> analyzer_pb2.AnalyzerResource:
    """What the engine sends for one resource in AnalyzeStack: its outputs, options, parent and dependencies."""
    return analyzer_pb2.AnalyzerResource(
        urn=resource.urn, type=resource.type, name=resource.name,
        properties=to_struct(resource.outputs if properties is None else properties),
        options=_options(resource), provider=providers.message(resource), parent=resource.parent or "",
        dependencies=list(resource.dependencies),
        propertyDependencies={
            key: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
            for key, urns in resource.property_dependencies.items() if urns
        },
    )


def configure_request(config: dict[str, tuple[str, dict]]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """Configure with every policy's (level, properties)."""
    return analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()), properties=to_struct(props))
        for name, (level, props) in config.items()
    })


def read_info(response: analyzer_pb2.AnalyzerInfo) -> tuple[str, list[PolicyInfo]]:
    """GetAnalyzerInfo's answer: the pack's name and its policies, by name."""
    policies = [
        PolicyInfo(
            name=p.name, description=p.description,
            level=analyzer_pb2.EnforcementLevel.Name(p.enforcementLevel).lower(),
            kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
            schema=json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {},
        )
        for p in response.policies
    ]
    return response.name, sorted(policies, key=lambda p: p.name)


def read_analysis(response: analyzer_pb2.AnalyzeResponse) -> Analysis:
    """Analyze's or AnalyzeStack's answer; a diagnostic's message without the policy description the SDK prefixes."""
    analysis = Analysis()
    for item in response.diagnostics:
        message = item.message
        if item.description and message.startswith(item.description + "\n"):
            message = message[len(item.description) + 1:]
        level = analyzer_pb2.EnforcementLevel.Name(item.enforcementLevel).lower()
        analysis.diagnostics.append(Diagnostic(item.policyName, level, message, item.urn))
    for item in response.not_applicable:
        analysis.not_applicable[item.policy_name] = item.reason
    return analysis
