"""Everything the pack takes from pulumi-policy beyond its documented API, in one module.

Why: pulumi-policy's servicer (`_PolicyAnalyzerServicer`) rebuilds every resource (protobuf to dicts, the
unknown-checking proxy, the provider, parents and dependencies) once per policy: AnalyzeStack once per stack policy,
Analyze once per resource policy; and it converts the protobuf properties with `json_format.MessageToDict`, a
general converter that walks every value through several Python calls, then copies the result twice more
(`deserialize_properties`, `unknown_checking_proxy`). Its documented API offers no way around either. `serve()`
serves the pack with `OnePassServicer` instead: the SDK's own servicer for everything (GetAnalyzerInfo, Configure,
Remediate, ...), except that

- AnalyzeStack builds the stack once and runs every stack policy over it, and Analyze builds the resource once for
  every resource policy, each policy with its own name, description, enforcement level and configuration, exactly
  as the SDK would have reported it;
- the properties are built by `properties()`: one walk over the protobuf Struct that produces the very objects the
  SDK's three steps produce (the same `_DictProxy`/`_ListProxy` tree, with the same paths, over the same values:
  strings, floats, booleans, None), and that hands anything else to the SDK's own steps: a special value (a secret,
  an asset, an archive: a map with the signature key), a number JSON cannot hold (the SDK raises), so that those
  resources get exactly the SDK's result or error. Unknowns are strings (the engine's sentinels) either way, and the
  proxy raises on them as it does for the SDK;
- in a stack, resources whose provider messages are identical share one provider object (the SDK builds an equal
  one for each), and AnalyzeStack runs with the cyclic garbage collector paused (`collector_paused`).

Policies must therefore not change what they are handed (the pack's never do). Nothing in the SDK is patched.

The internals, each checked by tests/policies/test_sdk_compat.py (which names the internal when a release changes
it; requirements.txt pins pulumi-policy to the versions those tests passed on), and the SDK's results compared with
ours by tests/policies/test_sdk_decode.py (properties) and tests/policies/test_one_pass.py (whole answers):

- `pulumi_policy.policy._PolicyAnalyzerServicer`: subclassed, and constructed as
  `(name, version, policies, enforcement_level)`; its helpers `_get_enforcement_level`, `_get_policy_config`,
  `_create_report_violation`, `_map_enforcement_level`, `_get_resource_options`, `_configure_runtime_settings`;
  its Analyze and AnalyzeStack, which `OnePassServicer.Analyze` and `.AnalyzeStack` mirror (the order of policies,
  disabled ones skipped, remediate reported as mandatory, remediation-only resource policies not applicable, the
  advisory "can't run policy ... during preview" diagnostic, not-applicable results, how the stack's resources are
  built and linked), its `_get_provider_resource` (mirrored by `_provider`) and its ConfigureStack (the stack tags,
  mirrored by `OnePassServicer.ConfigureStack`).
- How the SDK makes properties: `json_format.MessageToDict` of the Struct, `pulumi_policy.deserialize.
  deserialize_properties`, `pulumi_policy.proxy.unknown_checking_proxy` and its `_DictProxy`/`_ListProxy`
  (constructed as `(target, path)`), which `properties()` produces directly.
- `pulumi_policy.policy._NotApplicableError`: what `args.not_applicable()` raises.
- `pulumi_policy.policy._GRPC_CHANNEL_OPTIONS` and `PolicyPack.__init__`, which `serve()` mirrors: the gRPC server,
  the version it reports ("0.0.1"), the port printed on stdout.
- `pulumi_policy.proxy.UnknownValueError`: what the proxy raises on an unknown value and what the servicer turns
  into the advisory diagnostic; the engine's unknown sentinel (`UNKNOWN_STRING_VALUE`).
- The signature key of special values (secrets, assets) in serialized properties and stack exports.
"""

from __future__ import annotations

import asyncio
import gc
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from inspect import isawaitable
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyProviderResource,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as _sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, _DictProxy, _ListProxy, unknown_checking_proxy

__all__ = [
    "GRPC_OPTIONS",
    "SIGNATURE_KEY",
    "UNKNOWN_STRING_VALUE",
    "VERSION",
    "NotApplicableError",
    "OnePassServicer",
    "OnePassStackArgs",
    "SdkServicer",
    "UnknownValueError",
    "is_special",
    "properties",
    "sdk_properties",
    "serve",
    "shared_state",
]

# How the engine marshals a string it does not know yet (pulumi_policy.proxy.UNKNOWN_STRING_VALUE).
UNKNOWN_STRING_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# The key that marks a special value (secret, asset, archive) in serialized properties and in `pulumi stack export`
# files (pulumi_policy.deserialize.SPECIAL_SIG_KEY).
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"
# The version pulumi_policy.PolicyPack reports for a Python pack (the CLI uses PulumiPolicy.yaml's); it appears in
# every diagnostic and in the "can't run policy" message.
VERSION = "0.0.1"

SdkServicer = _sdk._PolicyAnalyzerServicer  # what PolicyPack serves; named only here
NotApplicableError = _sdk._NotApplicableError  # what args.not_applicable() raises
GRPC_OPTIONS = _sdk._GRPC_CHANNEL_OPTIONS  # PolicyPack's server options


# ---------------------------------------------------------------------------------------------- properties


def sdk_properties(struct) -> Mapping[str, Any]:
    """What the SDK's servicer makes of a protobuf Struct of properties, made by the SDK's own steps."""
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def properties(struct) -> Mapping[str, Any]:
    """`sdk_properties(struct)`, made in one walk over the Struct: the same proxies, paths and values. A Struct with
    a special value (secret, asset, archive) or a number JSON cannot hold anywhere in it is made by the SDK's steps,
    so that it gets the SDK's result, or the SDK's error."""
    try:
        return _struct(struct, [])
    except (_NotPlain, RecursionError):
        return sdk_properties(struct)


class _NotPlain(Exception):
    """A value that properties() leaves to the SDK's own steps."""


# The kinds of a google.protobuf.Value (its oneof `kind`), as json_format converts them: string_value to str,
# number_value to float (infinities and NaN refused), bool_value to bool, null_value and no kind to None,
# struct_value to a dict, list_value to a list. deserialize_properties copies a dict or list as it is unless a dict
# holds the signature key, and unknown_checking_proxy wraps each dict (list) in a _DictProxy (_ListProxy) that knows
# its path: the keys (indexes as strings) from the root.
def _struct(struct, path: list, _proxy=_DictProxy, _finite=math.isfinite, _special=SIGNATURE_KEY) -> _DictProxy:
    fields = struct.fields
    if _special in fields:
        raise _NotPlain
    target = {}
    for key in fields:  # the map's own order, as json_format's; items() would iterate in Python (a Mapping mixin)
        value = fields[key]
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            target[key] = value.string_value
        elif kind == "struct_value":
            target[key] = _struct(value.struct_value, [*path, key])
        elif kind == "bool_value":
            target[key] = value.bool_value
        elif kind == "list_value":
            target[key] = _list(value.list_value, [*path, key])
        elif kind == "number_value":
            number = value.number_value
            if not _finite(number):
                raise _NotPlain
            target[key] = number
        else:  # null_value, or no kind
            target[key] = None
    return _proxy(target, path)


def _list(values, path: list, _proxy=_ListProxy, _finite=math.isfinite) -> _ListProxy:
    target = []
    append = target.append
    for index, value in enumerate(values.values):
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            append(value.string_value)
        elif kind == "struct_value":
            append(_struct(value.struct_value, [*path, str(index)]))
        elif kind == "bool_value":
            append(value.bool_value)
        elif kind == "list_value":
            append(_list(value.list_value, [*path, str(index)]))
        elif kind == "number_value":
            number = value.number_value
            if not _finite(number):
                raise _NotPlain
            append(number)
        else:
            append(None)
    return _proxy(target, path)


# ---------------------------------------------------------------------------------------------- the servicer


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, and back on after it if it was on before (however the blocks
    of several threads overlap, it ends on if it was on before the first).

    AnalyzeStack runs in it. Building the stack and the policies' views of it allocates some twenty containers per
    resource, all alive until the call returns and none in a reference cycle; with the pack's thresholds
    (guardrails.pack.GC_THRESHOLDS) a stack of several thousand resources crosses the first generation's threshold,
    and each collection then walks a few hundred thousand live objects to free nothing (0.1 to 0.2 s at 10,000
    resources), a cost a small stack never pays: it made AnalyzeStack grow faster than the stack. Reference counting
    frees the stack when the call returns, as before; a cycle a policy makes is collected at the next collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()



class OnePassStackArgs(StackValidationArgs):
    """The args of one stack policy in a one-pass AnalyzeStack: the SDK's, plus `shared`, a dict that every stack
    policy of the same AnalyzeStack call sees (so derived views of the stack are built once). The resources are
    shared too, so a stack policy must not change them (the pack's never do)."""

    def __init__(self, resources, config, stack_tags, shared: dict) -> None:
        super().__init__(resources, config, stack_tags)
        self.shared = shared


def shared_state(args: StackValidationArgs) -> dict | None:
    """The dict shared by the stack policies of this AnalyzeStack, or None when the SDK runs the policy alone."""
    return args.shared if isinstance(args, OnePassStackArgs) else None


class OnePassServicer(SdkServicer):
    """The SDK's servicer, with an Analyze and an AnalyzeStack that build the resource (the stack) once for all
    resource (stack) policies, with properties() (see the module's docstring)."""

    def __init__(self, name: str, version: str, policies: list[Policy], enforcement_level: EnforcementLevel):
        super().__init__(name, version, policies, enforcement_level)
        self._name, self._version, self._policies = name, version, list(policies)
        self._stack_tags: Mapping[str, str] = MappingProxyType({})

    def ConfigureStack(self, request, context):
        self._stack_tags = MappingProxyType(dict(request.tags))
        return super().ConfigureStack(request, context)

    def Analyze(self, request, context):
        self._configure_runtime_settings()
        response = analyzer_pb2.AnalyzeResponse()
        built = None  # props, options, provider: built when the first policy runs, as the SDK builds them
        for policy in self._policies:
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
                continue
            if not policy.has_validation():  # a remediation-only policy
                response.not_applicable.append(analyzer_pb2.PolicyNotApplicable(
                    policy_name=policy.name, reason="Policy does not implement validate"))
                continue
            if level == EnforcementLevel.REMEDIATE:  # the SDK reports a remediated violation as mandatory
                level = EnforcementLevel.MANDATORY
            report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
            if built is None:
                built = properties(request.properties), self._get_resource_options(request), self._provider(request)
            props, options, provider = built
            args = ResourceValidationArgs(request.type, props, request.urn, request.name, options, provider,
                                          self._get_policy_config(policy.name), self._stack_tags)
            self._run(policy, args, report, response)
        return response

    def AnalyzeStack(self, request, context):
        self._configure_runtime_settings()
        response = analyzer_pb2.AnalyzeResponse()
        runs = []
        for policy in self._policies:
            if not isinstance(policy, StackValidationPolicy):
                continue
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED:
                continue
            if level == EnforcementLevel.REMEDIATE:  # stack policies cannot remediate: the SDK reports mandatory
                level = EnforcementLevel.MANDATORY
            runs.append((policy, level))
        if runs:
            with collector_paused():
                self._run_stack_policies(request, runs, response)  # returns after the stack is freed
        return response

    def _run_stack_policies(self, request, runs: list, response: analyzer_pb2.AnalyzeResponse) -> None:
        resources = self._stack_resources(request.resources)
        shared: dict = {}
        for policy, level in runs:
            report = self._create_report_violation(response, policy.name, policy.description, level, policy.severity)
            args = OnePassStackArgs(resources, self._get_policy_config(policy.name), self._stack_tags, shared)
            self._run(policy, args, report, response)

    def _stack_resources(self, messages) -> list[PolicyResource]:
        """The stack's resources as the SDK's AnalyzeStack builds them: each with its properties, options and
        provider, then linked to its parent, dependencies and property dependencies among the stack's resources.
        Resources whose provider messages are identical (in a stack, usually all of a provider's resources) share
        one provider object, built once; the SDK builds an equal one for each."""
        resources = []
        providers: dict[bytes, PolicyProviderResource | None] = {}
        for message in messages:
            if message.HasField("provider"):
                key = message.provider.SerializeToString()
                provider = providers.get(key)
                if provider is None:
                    provider = providers[key] = self._provider(message)
            else:
                provider = None
            resources.append(PolicyResource(message.type, properties(message.properties), message.urn, message.name,
                                            self._get_resource_options(message), provider, None, [], {}))
        by_urn = {resource.urn: resource for resource in resources}
        for resource, message in zip(resources, messages, strict=True):
            if message.parent in by_urn:
                resource.parent = by_urn[message.parent]
            resource.dependencies.extend(by_urn[urn] for urn in message.dependencies if urn in by_urn)
            for key, links in message.propertyDependencies.items():
                resource.property_dependencies[key] = [by_urn[urn] for urn in links.urns if urn in by_urn]
        return resources

    def _provider(self, message) -> PolicyProviderResource | None:
        """The SDK's `_get_provider_resource`, with properties()."""
        if not message.HasField("provider"):
            return None
        provider = message.provider
        return PolicyProviderResource(provider.type, properties(provider.properties), provider.urn, provider.name)

    def _run(self, policy: Policy, args, report: Callable, response: analyzer_pb2.AnalyzeResponse) -> None:
        """One policy's validate, and what the SDK reports when it raises UnknownValueError or not_applicable()."""
        try:
            result = policy.validate(args, report)
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(result)
                finally:
                    loop.close()
        except UnknownValueError as error:
            response.diagnostics.append(self._cannot_run(policy, error))
        except NotApplicableError as error:
            response.not_applicable.append(
                analyzer_pb2.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or ""))

    def _cannot_run(self, policy: Policy, error: UnknownValueError) -> analyzer_pb2.AnalyzeDiagnostic:
        """The advisory diagnostic the SDK's Analyze and AnalyzeStack give a policy that raised UnknownValueError."""
        return analyzer_pb2.AnalyzeDiagnostic(
            policyName=policy.name,
            policyPackName=self._name,
            policyPackVersion=self._version,
            message=(f"can't run policy '{policy.name}' from policy pack '{self._name}@v{self._version}' during "
                     f"preview: {error.message}"),
            urn="",
            description=policy.description,
            enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
        )


def serve(name: str, policies: list[Policy], enforcement_level: EnforcementLevel) -> None:
    """What `pulumi_policy.PolicyPack(name, policies, enforcement_level)` does, with OnePassServicer: serve the
    Analyzer service on a loopback port, print the port on stdout for the engine, and serve until killed."""
    if not policies or not all(isinstance(policy, Policy) for policy in policies):
        raise TypeError("Expected policies to be a non-empty list of policies")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=GRPC_OPTIONS)
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(OnePassServicer(name, VERSION, policies, enforcement_level),
                                                     server)
    port = server.add_insecure_port(address="127.0.0.1:0")
    server.start()
    sys.stdout.buffer.write(f"{port}\n".encode())
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(0)


def is_special(value: Any) -> bool:
    """True for a serialized special value (a secret, an asset, an archive): its content cannot be compared."""
    return isinstance(value, dict) and SIGNATURE_KEY in value
