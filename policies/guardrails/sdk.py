"""Everything the pack takes from pulumi-policy beyond its documented API, in one module.

Why: pulumi-policy's servicer (`_PolicyAnalyzerServicer.AnalyzeStack`) rebuilds every resource of the stack
(protobuf to dicts, the unknown-checking proxy, the provider, parents and dependencies) once per stack policy, and
its documented API offers no way around that. `serve()` serves the pack with `OnePassServicer` instead: the SDK's
own servicer for everything (GetAnalyzerInfo, Configure, Analyze, ...), except that AnalyzeStack lets the SDK build
the stack once and runs every stack policy over it, each with its own name, description, enforcement level and
configuration, exactly as the SDK would have reported it. Nothing in the SDK is patched.

The internals, each checked by tests/policies/test_sdk_compat.py (which names the internal when a release changes
it; requirements.txt pins pulumi-policy to the versions those tests passed on):

- `pulumi_policy.policy._PolicyAnalyzerServicer`: subclassed, and constructed as
  `(name, version, policies, enforcement_level)`; its helpers `_get_enforcement_level`, `_get_policy_config`,
  `_create_report_violation`, `_map_enforcement_level`; its AnalyzeStack, which `OnePassServicer.AnalyzeStack`
  mirrors (the order of policies, disabled ones skipped, remediate reported as mandatory, the advisory "can't run
  policy ... during preview" diagnostic, not-applicable results).
- `pulumi_policy.policy._NotApplicableError`: what `args.not_applicable()` raises.
- `pulumi_policy.policy._GRPC_CHANNEL_OPTIONS` and `PolicyPack.__init__`, which `serve()` mirrors: the gRPC server,
  the version it reports ("0.0.1"), the port printed on stdout.
- `pulumi_policy.proxy.UnknownValueError`: what the proxy raises on an unknown value and what the servicer turns
  into the advisory diagnostic; the engine's unknown sentinel (`UNKNOWN_STRING_VALUE`).
- The signature key of special values (secrets, assets) in serialized properties and stack exports.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent import futures
from inspect import isawaitable
from typing import Any

import grpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel, Policy, StackValidationArgs, StackValidationPolicy
from pulumi_policy import policy as _sdk
from pulumi_policy.proxy import UnknownValueError

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
_RUNNER_NAME = "one-pass-stack-policies"


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
    """The SDK's servicer, with an AnalyzeStack that deserializes the stack once for all stack policies."""

    def __init__(self, name: str, version: str, policies: list[Policy], enforcement_level: EnforcementLevel):
        super().__init__(name, version, policies, enforcement_level)
        self._name, self._version, self._policies = name, version, list(policies)
        self._stack_configuration: analyzer_pb2.AnalyzerStackConfigureRequest | None = None

    def ConfigureStack(self, request, context):
        self._stack_configuration = request
        return super().ConfigureStack(request, context)

    def AnalyzeStack(self, request, context):
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
        if not runs:
            return response

        def run_all(args: StackValidationArgs, _report_violation) -> None:
            shared: dict = {}
            for policy, level in runs:
                report = self._create_report_violation(response, policy.name, policy.description, level,
                                                       policy.severity)
                own = OnePassStackArgs(args.resources, self._get_policy_config(policy.name), args.stack_tags, shared)
                try:
                    result = policy.validate(own, report)
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

        # The SDK's own servicer with one stack policy builds the stack once and hands it to run_all.
        runner = StackValidationPolicy(_RUNNER_NAME, "Runs the pack's stack policies.", run_all)
        builder = SdkServicer(self._name, self._version, [runner], EnforcementLevel.MANDATORY)
        if self._stack_configuration is not None:
            builder.ConfigureStack(self._stack_configuration, context)
        leftover = builder.AnalyzeStack(request, context)
        if leftover.diagnostics or leftover.not_applicable:  # run_all reports into `response` only
            raise RuntimeError(f"the one-pass stack runner reported for itself: {leftover}")
        return response

    def _cannot_run(self, policy: Policy, error: UnknownValueError) -> analyzer_pb2.AnalyzeDiagnostic:
        """The advisory diagnostic the SDK's AnalyzeStack gives a policy that raised UnknownValueError."""
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
