"""The pack is served by guardrails.sdk.OnePassServicer, which deserializes the stack once for all stack policies.
Its answers must be exactly those of pulumi-policy's own servicer (what `PolicyPack` would serve) for the same
policies: the same diagnostics in the same order (policy name, level, message, urn, description, pack name and
version), the same not-applicable results, the same GetAnalyzerInfo. Each case below runs both, in this process,
and compares the protobuf responses; one case compares two pack processes over the real protocol."""

from __future__ import annotations

import copy
import gc
import json
from collections.abc import Callable

import pytest
from google.protobuf import json_format
from guardrails import pack as pack_module  # the pack's own import path, as the engine runs it
from guardrails import sdk
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy import policy as sdk_policy

from ops.offline import PACK_DIR
from ops.offline.analyzer import PolicyPack, analyze_resources, pack_python
from ops.offline.messages import Providers, analyze_request, stack_resource, to_struct
from ops.offline.model import MockRun, Registration
from ops.offline.policy_config import PolicyInfo, reconcile_config
from ops.offline.stack_file import stack_config

from .conftest import UNKNOWN_STRING, add_resource, child_urn, edited, stack_config_file, write_run_baseline

STACK_POLICIES = ("s3-bucket-hardened", "codedeploy-wave-size", "change-budget", "no-stateful-deletion",
                  "outputs-kept", "public-contract-kept")
CHANGE_POLICIES = ("change-budget", "no-stateful-deletion", "outputs-kept", "public-contract-kept")
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
REPO = "aws:ecr/repository:Repository"
KMS_KEY = "aws:kms/key:Key"


# ---------------------------------------------------------------------------------------------- both servicers


def servicers():
    """pulumi-policy's servicer (what PolicyPack serves) and the pack's, over the same policies."""
    stock = sdk.SdkServicer(pack_module.NAME, sdk.VERSION, pack_module.POLICIES, pack_module.ENFORCEMENT_LEVEL)
    ours = sdk.OnePassServicer(pack_module.NAME, sdk.VERSION, pack_module.POLICIES,
                                pack_module.ENFORCEMENT_LEVEL)
    return stock, ours


def configure_request(servicer, given: dict) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """What the CLI sends for a --policy-pack-config: every policy's level and properties (ops/offline/)."""
    info = servicer.GetAnalyzerInfo(None, None)
    policies = [
        PolicyInfo(p.name, p.description, analyzer_pb2.EnforcementLevel.Name(p.enforcementLevel).lower(), "",
                   json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {})
        for p in info.policies
    ]
    return analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.EnforcementLevel.Value(level.upper()),
                                        properties=to_struct(props))
        for name, (level, props) in reconcile_config(policies, given).items()
    })


def stack_request(run: MockRun) -> analyzer_pb2.AnalyzeStackRequest:
    providers = Providers(run.resources)
    return analyzer_pb2.AnalyzeStackRequest(resources=[
        stack_resource(r, providers, run.stack_outputs if r.type == "pulumi:pulumi:Stack" else None)
        for r in run.resources
    ])


def both_analyze_stack(run: MockRun, given: dict):
    stock, ours = servicers()
    tags = analyzer_pb2.AnalyzerStackConfigureRequest(stack="prod", project="delivery", tags={"team": "delivery"})
    for servicer in (stock, ours):
        servicer.ConfigureStack(tags, None)
        servicer.Configure(configure_request(servicer, given), None)
    request = stack_request(run)
    return stock.AnalyzeStack(request, None), ours.AnalyzeStack(request, None)


def readable(response) -> list:
    return [json_format.MessageToDict(d) for d in response.diagnostics] + \
        [json_format.MessageToDict(n) for n in response.not_applicable]


def assert_same(stock, ours) -> None:
    assert readable(ours) == readable(stock)
    assert ours == stock  # every field, in order


# ---------------------------------------------------------------------------------------------- scenarios


def with_baseline(config: dict, path, **extra) -> dict:
    config = copy.deepcopy(config)
    for policy in CHANGE_POLICIES:
        entry = config.get(policy, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        config[policy] = {**entry, "baseline": str(path), **extra.get(policy, {})}
    return config


def joined_buckets(run: MockRun) -> MockRun:
    """Two more buckets: one whose settings name it (no dependency), one whose settings depend on it while its
    name is not known yet; and a setting that names nothing in the stack."""
    def add(run, type_, name, outputs, deps=None):
        return add_resource(run, Registration(urn=child_urn(run, type_, name), type=type_, name=name, protect=True,
                                              inputs=dict(outputs), outputs=dict(outputs),
                                              property_dependencies=deps or {}))

    blocks = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
              "restrictPublicBuckets": True}
    encryption = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}
    run = add(run, BUCKET, "named", {"bucket": "named-1", "id": "named-1"})
    run = add(run, PUBLIC_BLOCK, "named-block", {"bucket": "named-1", **blocks, "ignorePublicAcls": False})
    run = add(run, ENCRYPTION, "named-encryption", {"bucket": "named-1", **encryption})
    run = add(run, VERSIONING, "named-versioning", {"bucket": "named-1",
                                                    "versioningConfiguration": {"status": "Suspended"}})
    run = add(run, BUCKET, "later", {"bucket": UNKNOWN_STRING, "id": UNKNOWN_STRING})
    later = {"bucket": [child_urn(run, BUCKET, "later")]}
    run = add(run, PUBLIC_BLOCK, "later-block", {"bucket": UNKNOWN_STRING, **blocks}, later)
    run = add(run, VERSIONING, "later-versioning", {"bucket": UNKNOWN_STRING,
                                                    "versioningConfiguration": {"status": "Enabled"}}, later)
    return add(run, VERSIONING, "stray-versioning", {"bucket": "nobody", "versioningConfiguration": {"status": "x"}})


def everything_fires(runs, tmp_path) -> tuple[MockRun, dict]:
    """A prod plan against its baseline where every stack policy has something to say, known and unknown."""
    baseline = write_run_baseline(runs["prod"], tmp_path)
    run = joined_buckets(runs["prod"])
    run = edited(run, VERSIONING, lambda p: p.update(versioningConfiguration={"status": UNKNOWN_STRING}))
    run = edited(run, GROUP, lambda p: p.update(deploymentConfigName="CodeDeployDefault.HalfAtATime"))
    run = edited(run, TARGET_GROUP, lambda p: p["healthCheck"].update(path="/moved"))
    run.stack_outputs = {k: v for k, v in run.stack_outputs.items() if k != "repositoryUrl"}
    # A stateful resource renamed (a deletion of the old one): the registry's repository where prod has one (a stack
    # that promotes another's release has none), else the KMS key.
    stateful = next(r for kind in (REPO, KMS_KEY) for r in run.resources if r.type == kind)
    stateful.urn, stateful.name = stateful.urn.rsplit("::", 1)[0] + "::renamed", "renamed"
    return run, with_baseline(stack_config_file("prod"), baseline, **{"change-budget": {"budget": 1}})


def levels_mixed(run: MockRun, given: dict) -> tuple[MockRun, dict]:
    return run, {**given, "s3-bucket-hardened": "disabled", "outputs-kept": "disabled",
                 "codedeploy-wave-size": "remediate",
                 "change-budget": {**given["change-budget"], "enforcementLevel": "advisory"}}


def all_disabled(run: MockRun, given: dict) -> tuple[MockRun, dict]:
    return run, {**given, **dict.fromkeys(STACK_POLICIES, "disabled")}


def dev_without_repository(runs, tmp_path) -> tuple[MockRun, dict]:
    """dev levels: the change guardrails advisory, the wave size disabled."""
    baseline = write_run_baseline(runs["dev"], tmp_path)
    run = copy.deepcopy(runs["dev"])
    run.resources = [r for r in run.resources if r.type != REPO]
    return run, with_baseline(stack_config_file("dev"), baseline)


MANDATORY_CHANGE = {(p, "MANDATORY") for p in CHANGE_POLICIES}
# Each scenario: how to make it, and which (policy, level) pairs and not-applicable policies the SDK answers with.
SCENARIOS: dict[str, tuple[Callable, set, list]] = {
    "prod as planned, no baseline": (
        lambda runs, tmp: (runs["prod"], stack_config_file("prod")), set(), list(CHANGE_POLICIES)),
    "dev against its baseline, the repository removed": (
        dev_without_repository, {("change-budget", "ADVISORY"), ("no-stateful-deletion", "ADVISORY")}, []),
    "every stack policy fires": (
        everything_fires,
        MANDATORY_CHANGE | {("codedeploy-wave-size", "MANDATORY"), ("s3-bucket-hardened", "MANDATORY"),
                            ("s3-bucket-hardened", "ADVISORY")}, []),
    "disabled, advisory and remediate levels": (
        lambda runs, tmp: levels_mixed(*everything_fires(runs, tmp)),
        {("change-budget", "ADVISORY"), ("codedeploy-wave-size", "MANDATORY"), ("no-stateful-deletion", "MANDATORY"),
         ("public-contract-kept", "MANDATORY")}, []),
    "an unreadable baseline, a contract change allowed": (
        lambda runs, tmp: (runs["prod"], with_baseline(stack_config_file("prod"), tmp / "missing.json",
                                                       **{"public-contract-kept": {"allowContractChange": True}})),
        MANDATORY_CHANGE, []),
    "every stack policy disabled": (lambda runs, tmp: all_disabled(*everything_fires(runs, tmp)), set(), []),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_analyze_stack_answers_exactly_as_the_sdk_servicer_does(scenario, policy_runs, tmp_path):
    make, levels, not_applicable = SCENARIOS[scenario]
    run, given = make(policy_runs, tmp_path)

    stock, ours = both_analyze_stack(run, given)

    assert_same(stock, ours)
    assert {(d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel)) for d in stock.diagnostics} == levels
    assert [n.policy_name for n in stock.not_applicable] == not_applicable


def test_the_comparison_is_not_vacuous(policy_runs, tmp_path):
    run, given = everything_fires(policy_runs, tmp_path)

    stock, _ = both_analyze_stack(run, given)

    by_policy = {}
    for diagnostic in stock.diagnostics:
        by_policy.setdefault(diagnostic.policyName, set()).add(analyzer_pb2.EnforcementLevel.Name(
            diagnostic.enforcementLevel))
    assert set(by_policy) == set(STACK_POLICIES)
    assert by_policy["s3-bucket-hardened"] == {"MANDATORY", "ADVISORY"}  # violations and a "can't run" note
    messages = "\n".join(d.message for d in stock.diagnostics)
    for fragment in ("bucket 'named': public access block 'named-block' has ignorePublicAcls not true",
                     "bucket 'named': versioning 'named-versioning' has status Suspended",
                     "can't run policy 's3-bucket-hardened' from policy pack 'delivery-guardrails@v0.0.1' during "
                     "preview", "versioningConfiguration.status"):
        assert fragment in messages
    # Settings that depend on a bucket belong to it, whatever its name: only the missing one is reported.
    assert [m.split("\n")[-1] for m in messages.split("\n") if "bucket 'later'" in m] == [
        "bucket 'later' has no BucketServerSideEncryptionConfiguration; add one (AES256 or aws:kms)"]


def test_get_analyzer_info_and_analyze_are_the_sdk_servicers(policy_runs, tmp_path):
    run, given = everything_fires(policy_runs, tmp_path)
    stock, ours = servicers()
    for servicer in (stock, ours):
        servicer.Configure(configure_request(servicer, given), None)

    assert ours.GetAnalyzerInfo(None, None) == stock.GetAnalyzerInfo(None, None)
    providers = Providers(run.resources)
    for resource in run.resources:
        request = analyze_request(resource, providers)
        assert ours.Analyze(request, None) == stock.Analyze(request, None), resource.urn


def counted_builds(monkeypatch) -> list:
    """Records each set of properties built: by the SDK's servicer (deserialize_properties, once per resource and
    its provider per policy) and by ours (sdk.properties, which hands only special values to deserialize_properties;
    none here)."""
    calls = []
    deserialize, build = sdk_policy.deserialize_properties, sdk.properties
    monkeypatch.setattr(sdk_policy, "deserialize_properties", lambda *a, **k: calls.append(1) or deserialize(*a, **k))
    monkeypatch.setattr(sdk, "properties", lambda *a, **k: calls.append(1) or build(*a, **k))
    return calls


def test_the_stack_is_deserialized_once_whatever_the_number_of_stack_policies(policy_runs, tmp_path, monkeypatch):
    run, given = everything_fires(policy_runs, tmp_path)
    calls = counted_builds(monkeypatch)

    stock, ours = servicers()
    counts = {}
    for name, servicer in (("stock", stock), ("ours", ours)):
        servicer.Configure(configure_request(servicer, given), None)
        calls.clear()
        servicer.AnalyzeStack(stack_request(run), None)
        counts[name] = len(calls)

    providers = Providers(run.resources)
    messages = [providers.message(r) for r in run.resources]
    with_provider = sum(1 for m in messages if m is not None)
    distinct_providers = len({m.SerializeToString() for m in messages if m is not None})
    stack_policies = [p for p in pack_module.POLICIES if isinstance(p, StackValidationPolicy)]
    assert counts["stock"] == len(stack_policies) * (len(run.resources) + with_provider)
    assert counts["ours"] == len(run.resources) + distinct_providers  # a provider's resources share its object
    assert with_provider > distinct_providers == 1


def test_a_resource_is_deserialized_once_whatever_the_number_of_resource_policies(policy_runs, monkeypatch):
    run = policy_runs["prod"]
    calls = counted_builds(monkeypatch)
    resource_policies = [p for p in pack_module.POLICIES if isinstance(p, ResourceValidationPolicy)]
    providers = Providers(run.resources)
    resource = next(r for r in run.resources if providers.message(r) is not None)

    stock, ours = servicers()
    counts = {}
    for name, servicer in (("stock", stock), ("ours", ours)):
        servicer.Configure(configure_request(servicer, {"all": "mandatory"}), None)
        calls.clear()
        servicer.Analyze(analyze_request(resource, providers), None)
        counts[name] = len(calls)

    assert counts == {"ours": 2, "stock": 2 * len(resource_policies)}  # properties and the provider's


def test_stack_policies_share_one_view_of_the_stack(policy_runs):
    from guardrails.framework import stack_of
    from pulumi_policy import EnforcementLevel

    seen = []

    def record(args, report_violation):
        seen.append((sdk.shared_state(args) is not None, stack_of(args), args.resources, args.get_config()))

    policies = [StackValidationPolicy(f"p{i}", "Records what it sees.", record) for i in range(3)]
    servicer = sdk.OnePassServicer("test", sdk.VERSION, policies, EnforcementLevel.MANDATORY)
    servicer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        "p1": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=to_struct({"k": "v"})),
        "p2": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.DISABLED)}), None)
    servicer.AnalyzeStack(stack_request(policy_runs["prod"]), None)

    assert [shared for shared, *_ in seen] == [True, True]
    assert seen[0][1] is seen[1][1] and seen[0][2] is seen[1][2]
    assert [config for *_, config in seen] == [{}, {"k": "v"}]


# ---------------------------------------------------------------------------------------------- over the protocol

STOCK_PACK = """\
import sys
sys.path.insert(0, {pack_dir!r})
from guardrails import pack
from pulumi_policy import PolicyPack

PolicyPack(name=pack.NAME, policies=pack.POLICIES, enforcement_level=pack.ENFORCEMENT_LEVEL)
"""


def test_the_served_pack_answers_as_the_sdk_policy_pack_would(pack: PolicyPack, policy_runs, project_root, tmp_path):
    stock_dir = tmp_path / "stock"
    stock_dir.mkdir()
    (stock_dir / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (stock_dir / "__main__.py").write_text(STOCK_PACK.format(pack_dir=str(PACK_DIR)))
    run, given = everything_fires(policy_runs, tmp_path)

    with PolicyPack(stock_dir, project="delivery", stack="prod", stack_config=stack_config(project_root, "prod"),
                    python=pack_python(PACK_DIR)) as stock:
        assert pack.info() == stock.info()
        reports = []
        for served in (stock, pack):
            levels = {name: level for name, (level, _) in served.configure(given).items()}
            reports.append(analyze_resources(served, run.resources, run.stack_outputs, levels))

    assert json.dumps([d.to_dict() for d in reports[1].diagnostics], indent=1) == \
        json.dumps([d.to_dict() for d in reports[0].diagnostics], indent=1)
    assert reports[1].not_applicable == reports[0].not_applicable
    assert {d.policy for d in reports[0].diagnostics} >= set(STACK_POLICIES)


@pytest.mark.parametrize("enabled", [True, False])
def test_stack_policies_run_with_the_collector_paused_and_it_is_restored(enabled):
    from pulumi_policy import EnforcementLevel

    seen = []

    def record(args, report_violation):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("a policy that fails")

    servicer = sdk.OnePassServicer("test", sdk.VERSION, [StackValidationPolicy("p", "Records.", record)],
                                   EnforcementLevel.MANDATORY)
    request = analyzer_pb2.AnalyzeStackRequest(resources=[analyzer_pb2.AnalyzerResource(urn="urn:a", type="t:a")])
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        servicer.AnalyzeStack(request, None)
        with pytest.raises(RuntimeError):
            servicer.AnalyzeStack(request, None)
        after = gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()

    assert seen == [False, False] and after is enabled
