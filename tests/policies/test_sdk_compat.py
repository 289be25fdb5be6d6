"""guardrails/sdk.py is the only place the pack uses pulumi-policy beyond its documented API. Each test here checks
one internal it relies on and, when a pulumi-policy release changes it, fails naming the internal and what to
re-check. policies/requirements.txt pins pulumi-policy to the versions these tests passed on; to move the pin,
install the new version, run these tests (and test_one_pass.py, which compares the pack's answers with the SDK's
own servicer), port what changed, then widen the pin."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import textwrap

import pytest
from guardrails import sdk  # the pack's own import path, as the engine runs it
from packaging.requirements import Requirement
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import deserialize as sdk_deserialize
from pulumi_policy import policy as sdk_policy
from pulumi_policy import proxy as sdk_proxy

from ops.offline import PACK_DIR
from ops.offline.messages import to_struct

from .test_sdk_decode import shape

SECRET_SIG = sdk_deserialize.SPECIAL_SECRET_SIG

# sha256 (first 16 hex digits) of the dedented source of the SDK code that guardrails/sdk.py mirrors, as of
# pulumi-policy 1.21.0 (1.20.0 ships the same sources).
SERVICER = sdk_policy._PolicyAnalyzerServicer
MIRRORED = {
    "_PolicyAnalyzerServicer.AnalyzeStack": (SERVICER.AnalyzeStack, "d7729ead022bca23",
                                             "OnePassServicer.AnalyzeStack, _stack_resources and _cannot_run"),
    "_PolicyAnalyzerServicer.Analyze": (SERVICER.Analyze, "119fef03faf8c235", "OnePassServicer.Analyze"),
    "_PolicyAnalyzerServicer._get_provider_resource": (SERVICER._get_provider_resource, "8a6c6bcf401974e5",
                                                       "OnePassServicer._provider"),
    "_PolicyAnalyzerServicer.ConfigureStack": (SERVICER.ConfigureStack, "ff381b26e0a7ced4",
                                               "OnePassServicer.ConfigureStack (the stack tags)"),
    "deserialize_properties": (sdk_deserialize.deserialize_properties, "2ef45163513f6cc9", "properties()"),
    "_deserialize_property": (sdk_deserialize._deserialize_property, "f74731f85cfdd6af",
                              "properties(), which leaves special values to it"),
    "unknown_checking_proxy": (sdk_proxy.unknown_checking_proxy, "760d27c0d09666ff", "properties()"),
    "_proxy_helper": (sdk_proxy._proxy_helper, "c36dd3b6af1196cb", "properties(): the proxies and their paths"),
    "_DictProxy.__init__": (sdk_proxy._DictProxy.__init__, "4cb6fb6e1d0f590d", "properties(): _DictProxy(d, path)"),
    "_ListProxy.__init__": (sdk_proxy._ListProxy.__init__, "e5256f624fa7835e", "properties(): _ListProxy(l, path)"),
    "PolicyPack.__init__": (PolicyPack.__init__, "5bb57c5ad9ff2e1f", "serve() and VERSION"),
}


def changed(internal: str, what: str) -> str:
    return (f"pulumi-policy {importlib.metadata.version('pulumi-policy')} changed {internal}, which "
            f"policies/guardrails/sdk.py relies on ({what}); see that module's docstring")


def test_the_installed_pulumi_policy_is_one_the_pin_covers():
    lines = (PACK_DIR / "requirements.txt").read_text().splitlines()
    pin = next(Requirement(line) for line in lines if line.startswith("pulumi-policy"))
    installed = importlib.metadata.version("pulumi-policy")

    assert pin.specifier.contains(installed), (
        f"pulumi-policy {installed} is installed but policies/requirements.txt pins {pin}: these tests vouch only for "
        "the pinned versions")


@pytest.mark.parametrize("internal", MIRRORED)
def test_the_sdk_code_the_pack_mirrors_is_unchanged(internal):
    function, fingerprint, mirror = MIRRORED[internal]
    source = textwrap.dedent(inspect.getsource(function))

    actual = hashlib.sha256(source.encode()).hexdigest()[:16]

    assert actual == fingerprint, (
        f"{changed(internal, 'mirrored by ' + mirror)}: compare the new code with the mirror, port the change, then "
        f"record the fingerprint {actual} in MIRRORED")


def test_policy_pack_reports_version_0_0_1():
    assert 'version = "0.0.1"' in inspect.getsource(PolicyPack.__init__), changed(
        "the version PolicyPack reports", f"sdk.VERSION = {sdk.VERSION!r}, seen in every diagnostic")


def test_the_servicer_class_takes_name_version_policies_and_level():
    policy = StackValidationPolicy("p", "A policy.", lambda args, report: None)

    try:
        servicer = sdk_policy._PolicyAnalyzerServicer("pack", "1.2.3", [policy], EnforcementLevel.ADVISORY)
    except (AttributeError, TypeError) as error:
        pytest.fail(f"{changed('_PolicyAnalyzerServicer(name, version, policies, enforcement_level)', 'subclassed')}:"
                    f" {error}")

    assert isinstance(servicer, analyzer_pb2_grpc.AnalyzerServicer), changed("_PolicyAnalyzerServicer", "its base")
    assert servicer.GetAnalyzerInfo(None, None).policies[0].name == "p"


def test_the_servicer_helpers_resolve_levels_and_config_and_report_as_the_pack_expects():
    policy = StackValidationPolicy("p", "A policy.", lambda args, report: None, enforcement_level=None)
    servicer = sdk_policy._PolicyAnalyzerServicer("pack", "1.2.3", [policy], EnforcementLevel.ADVISORY)
    helpers = ("_get_enforcement_level, _get_policy_config, _create_report_violation, _map_enforcement_level, "
               "_get_resource_options, _configure_runtime_settings")

    try:
        before = (servicer._get_enforcement_level(policy), servicer._get_policy_config("p"))
        servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"p": analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY, properties=to_struct({"limit": 3}))}), None)
        after = (servicer._get_enforcement_level(policy), servicer._get_policy_config("p"))
        response = analyzer_pb2.AnalyzeResponse()
        report = servicer._create_report_violation(response, "p", "A policy.", EnforcementLevel.MANDATORY, None)
        report("too big", "urn:x")
        advisory = servicer._map_enforcement_level(EnforcementLevel.ADVISORY)
        options = servicer._get_resource_options(analyzer_pb2.AnalyzeRequest(
            options=analyzer_pb2.AnalyzerResourceOptions(protect=True, aliases=["urn:old"])))
        servicer._configure_runtime_settings()
    except (AttributeError, TypeError) as error:
        pytest.fail(f"{changed(helpers, 'called by OnePassServicer.AnalyzeStack')}: {error}")

    assert before == (EnforcementLevel.ADVISORY, None), changed("_get_enforcement_level/_get_policy_config", "defaults")
    assert after == (EnforcementLevel.MANDATORY, {"limit": 3.0}), changed("Configure and its helpers", "levels")
    assert list(response.diagnostics) == [analyzer_pb2.AnalyzeDiagnostic(
        policyName="p", policyPackName="pack", policyPackVersion="1.2.3", message="A policy.\ntoo big", urn="urn:x",
        description="A policy.", enforcementLevel=analyzer_pb2.MANDATORY)], changed("_create_report_violation",
                                                                                   "the diagnostics it appends")
    assert advisory == analyzer_pb2.ADVISORY, changed("_map_enforcement_level", "the advisory 'can't run' note")
    assert isinstance(options, PolicyResourceOptions) and options.protect and list(options.aliases) == ["urn:old"], \
        changed("_get_resource_options", "each resource's options")


def described(resource) -> dict:
    """Everything a policy can read of a PolicyResource (or ResourceValidationArgs), links as URNs."""
    options = resource.opts
    provider = resource.provider
    return {
        "type": resource.resource_type, "urn": resource.urn, "name": resource.name,
        "props": shape(resource.props),
        "options": (options.protect, list(options.ignore_changes), options.delete_before_replace,
                    list(options.aliases), vars(options.custom_timeouts), list(options.additional_secret_outputs),
                    options.parent),
        "provider": provider and (provider.resource_type, provider.urn, provider.name, shape(provider.props)),
        "parent": getattr(resource, "parent", None) and resource.parent.urn,
        "dependencies": [d.urn for d in getattr(resource, "dependencies", [])],
        "property_dependencies": {k: [d.urn for d in v]
                                  for k, v in getattr(resource, "property_dependencies", {}).items()},
    }


def provider(name: str, region: str) -> analyzer_pb2.AnalyzerProviderResource:
    return analyzer_pb2.AnalyzerProviderResource(
        type="pulumi:providers:aws", urn=f"urn:pulumi:s::p::pulumi:providers:aws::{name}", name=name,
        properties=to_struct({"region": region, "secretKey": {sdk.SIGNATURE_KEY: SECRET_SIG, "value": "k"}}))


def stack_messages() -> list[analyzer_pb2.AnalyzerResource]:
    """A stack with every link and option the servicer builds: parents (one outside the stack), dependencies and
    property dependencies (some on URNs outside the stack), two providers (one shared), secrets and unknowns."""
    east, west = provider("east", "us-east-1"), provider("west", "us-west-2")
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=True, ignoreChanges=["tags"], deleteBeforeReplace=True, deleteBeforeReplaceDefined=True,
        aliases=["urn:old"], additionalSecretOutputs=["password"], parent="urn:a",
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(create=60, update=30, delete=10))
    deps = analyzer_pb2.AnalyzerPropertyDependencies
    return [
        analyzer_pb2.AnalyzerResource(urn="urn:a", type="t:a", name="a", properties=to_struct({"k": "v"}),
                                      provider=east),
        analyzer_pb2.AnalyzerResource(
            urn="urn:b", type="t:b", name="b", parent="urn:a", dependencies=["urn:a", "urn:elsewhere", "urn:c"],
            propertyDependencies={"x": deps(urns=["urn:c", "urn:gone", "urn:a"]), "y": deps(urns=[])},
            options=options, provider=east,
            properties=to_struct({"password": {sdk.SIGNATURE_KEY: SECRET_SIG, "value": {"u": sdk.UNKNOWN_STRING_VALUE}},
                                  "list": [1, {"n": None}, [True]]})),
        analyzer_pb2.AnalyzerResource(urn="urn:c", type="t:c", name="c", parent="urn:outside", provider=west),
    ]


def test_the_stack_is_built_as_the_sdks_analyze_stack_builds_it():
    """OnePassServicer._stack_resources mirrors the resources the SDK's AnalyzeStack hands a stack policy."""
    seen = {}
    for name, kind in (("stock", sdk_policy._PolicyAnalyzerServicer), ("ours", sdk.OnePassServicer)):
        policy = StackValidationPolicy("p", "A policy.", lambda args, report, name=name: seen.setdefault(name, args))
        servicer = kind("pack", "1.2.3", [policy], EnforcementLevel.MANDATORY)
        servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(tags={"team": "x"}), None)
        servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=stack_messages()), None)

    stock, ours = seen["stock"], seen["ours"]
    assert isinstance(stock, StackValidationArgs) and all(isinstance(r, PolicyResource) for r in stock.resources)
    assert [described(r) for r in ours.resources] == [described(r) for r in stock.resources], changed(
        "_PolicyAnalyzerServicer.AnalyzeStack", "the resources it builds, mirrored by OnePassServicer")
    assert [described(r)["parent"] for r in stock.resources] == [None, "urn:a", None]  # the case is not vacuous
    assert dict(ours.stack_tags) == dict(stock.stack_tags) == {"team": "x"}, changed("ConfigureStack", "stack tags")


def test_a_resource_is_built_as_the_sdks_analyze_builds_it():
    seen = {}
    for name, kind in (("stock", sdk_policy._PolicyAnalyzerServicer), ("ours", sdk.OnePassServicer)):
        policy = ResourceValidationPolicy("p", "A policy.", lambda args, report, name=name: seen.setdefault(name, args))
        servicer = kind("pack", "1.2.3", [policy], EnforcementLevel.MANDATORY)
        servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(tags={"team": "x"}), None)
        message = stack_messages()[1]
        servicer.Analyze(analyzer_pb2.AnalyzeRequest(urn=message.urn, type=message.type, name=message.name,
                                                     properties=message.properties, options=message.options,
                                                     provider=message.provider), None)

    stock, ours = seen["stock"], seen["ours"]
    assert isinstance(stock, ResourceValidationArgs)
    assert described(ours) == described(stock), changed("_PolicyAnalyzerServicer.Analyze",
                                                        "the resource it builds, mirrored by OnePassServicer.Analyze")
    assert dict(ours.stack_tags) == dict(stock.stack_tags) == {"team": "x"}, changed("ConfigureStack", "stack tags")


def test_not_applicable_raises_the_error_the_servicer_catches():
    with pytest.raises(Exception) as raised:  # the type is what is checked
        StackValidationArgs([], None).not_applicable("no baseline")

    assert type(raised.value) is sdk.NotApplicableError, changed("_NotApplicableError", "caught per stack policy")
    assert raised.value.reason == "no baseline", changed("_NotApplicableError.reason", "the reported reason")


def test_the_proxy_raises_unknown_value_error_with_a_message():
    assert sdk_proxy.UNKNOWN_STRING_VALUE == sdk.UNKNOWN_STRING_VALUE, changed("UNKNOWN_STRING_VALUE", "the sentinel")
    proxied = sdk_proxy.unknown_checking_proxy({"a": {"b": sdk.UNKNOWN_STRING_VALUE}})

    with pytest.raises(sdk.UnknownValueError) as raised:
        proxied["a"]["b"]

    assert raised.value.message == "string value at .a.b can't be known during preview", changed(
        "UnknownValueError", "raised by the proxy; its message ends the 'can't run' note")
    assert sdk.UnknownValueError(sdk.UNKNOWN_STRING_VALUE, []).message, changed(
        "UnknownValueError(sentinel, props)", "values.NotJudged subclasses it")


def test_the_signature_key_marks_secrets_in_serialized_properties():
    assert sdk_deserialize.SPECIAL_SIG_KEY == sdk.SIGNATURE_KEY, changed("SPECIAL_SIG_KEY", "sdk.SIGNATURE_KEY")
    secret = {sdk.SIGNATURE_KEY: sdk_deserialize.SPECIAL_SECRET_SIG, "value": "hunter2"}

    assert sdk_deserialize.deserialize_properties({"password": secret}) == {"password": "hunter2"}
    assert sdk.is_special(secret) and not sdk.is_special({"value": "x"})


def test_the_grpc_options_raise_the_message_limit():
    options = dict(sdk.GRPC_OPTIONS)

    assert options.get("grpc.max_receive_message_length", 0) >= 400 * 1024 * 1024, changed(
        "_GRPC_CHANNEL_OPTIONS", "the server options serve() uses")
