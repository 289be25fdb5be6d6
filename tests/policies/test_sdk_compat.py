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
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import deserialize as sdk_deserialize
from pulumi_policy import policy as sdk_policy
from pulumi_policy import proxy as sdk_proxy

from ops.offline import PACK_DIR
from ops.offline.messages import to_struct

# sha256 (first 16 hex digits) of the dedented source of the SDK code that guardrails/sdk.py mirrors, as of
# pulumi-policy 1.21.0 (1.20.0 ships the same sources).
MIRRORED = {
    "_PolicyAnalyzerServicer.AnalyzeStack": (sdk_policy._PolicyAnalyzerServicer.AnalyzeStack, "d7729ead022bca23",
                                             "OnePassServicer.AnalyzeStack and _cannot_run"),
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
    helpers = "_get_enforcement_level, _get_policy_config, _create_report_violation, _map_enforcement_level"

    try:
        before = (servicer._get_enforcement_level(policy), servicer._get_policy_config("p"))
        servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"p": analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY, properties=to_struct({"limit": 3}))}), None)
        after = (servicer._get_enforcement_level(policy), servicer._get_policy_config("p"))
        response = analyzer_pb2.AnalyzeResponse()
        report = servicer._create_report_violation(response, "p", "A policy.", EnforcementLevel.MANDATORY, None)
        report("too big", "urn:x")
        advisory = servicer._map_enforcement_level(EnforcementLevel.ADVISORY)
    except (AttributeError, TypeError) as error:
        pytest.fail(f"{changed(helpers, 'called by OnePassServicer.AnalyzeStack')}: {error}")

    assert before == (EnforcementLevel.ADVISORY, None), changed("_get_enforcement_level/_get_policy_config", "defaults")
    assert after == (EnforcementLevel.MANDATORY, {"limit": 3.0}), changed("Configure and its helpers", "levels")
    assert list(response.diagnostics) == [analyzer_pb2.AnalyzeDiagnostic(
        policyName="p", policyPackName="pack", policyPackVersion="1.2.3", message="A policy.\ntoo big", urn="urn:x",
        description="A policy.", enforcementLevel=analyzer_pb2.MANDATORY)], changed("_create_report_violation",
                                                                                   "the diagnostics it appends")
    assert advisory == analyzer_pb2.ADVISORY, changed("_map_enforcement_level", "the advisory 'can't run' note")


def test_analyze_stack_builds_the_stack_and_hands_it_to_a_single_stack_policy():
    """OnePassServicer lets the SDK's AnalyzeStack, with one stack policy, build the stack it shares."""
    seen = []
    policy = StackValidationPolicy("p", "A policy.", lambda args, report: seen.append(args))
    servicer = sdk_policy._PolicyAnalyzerServicer("pack", "1.2.3", [policy], EnforcementLevel.MANDATORY)
    servicer.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(tags={"team": "x"}), None)
    parent = analyzer_pb2.AnalyzerResource(urn="urn:a", type="t:a", name="a", properties=to_struct({"k": "v"}))
    child = analyzer_pb2.AnalyzerResource(urn="urn:b", type="t:b", name="b", parent="urn:a", dependencies=["urn:a"])

    servicer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[parent, child]), None)

    assert len(seen) == 1, changed("_PolicyAnalyzerServicer.AnalyzeStack", "one validate call per stack policy")
    args = seen[0]
    assert isinstance(args, StackValidationArgs) and all(isinstance(r, PolicyResource) for r in args.resources)
    assert [(r.urn, r.props.get("k"), r.parent and r.parent.urn, [d.urn for d in r.dependencies])
            for r in args.resources] == [("urn:a", "v", None, []), ("urn:b", None, "urn:a", ["urn:a"])], changed(
        "_PolicyAnalyzerServicer.AnalyzeStack", "the resources it builds")
    assert dict(args.stack_tags) == {"team": "x"}, changed("ConfigureStack", "stack tags forwarded to the builder")


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
