"""Change guardrails against baselines made from a mock run of the program (`ops.baseline.baseline_from_run`, the
`pulumi stack export` shape): an unchanged plan is silent; removing or renaming stateful resources, a large
change, a dropped output and a moved health-check path are each caught, with the prod config (all mandatory).
The ECR repository is only in dev (prod is promoted and builds nothing): its cases change dev's plan against dev's
baseline, judged with prod's config (`prod_config_for_dev`)."""

from __future__ import annotations

import copy
import json

import pytest

from ops.offline.model import MockRun

from .conftest import (
    UNKNOWN_STRING,
    edited,
    of_policy,
    prod_config_for_dev,
    stack_config_file,
    write_run_baseline,
)

CHANGE_POLICIES = ("change-budget", "no-stateful-deletion", "outputs-kept", "public-contract-kept")
REPO = "aws:ecr/repository:Repository"
BUCKET = "aws:s3/bucket:Bucket"


def with_baseline(stack: str, path, config: dict | None = None) -> dict:
    """The stack's policy config (or `config`) with `baseline` set for every change guardrail."""
    config = copy.deepcopy(config) if config is not None else stack_config_file(stack)
    for policy in CHANGE_POLICIES:
        entry = config.get(policy, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        config[policy] = {**entry, "baseline": str(path)}
    return config


@pytest.fixture
def prod_baseline(policy_runs, tmp_path):
    return write_run_baseline(policy_runs["prod"], tmp_path)


@pytest.fixture
def dev_baseline(policy_runs, tmp_path):
    return write_run_baseline(policy_runs["dev"], tmp_path)


def dev_with_prod_config(baseline) -> dict:
    return with_baseline("dev", baseline, prod_config_for_dev())


def without(run: MockRun, type_: str) -> MockRun:
    copied = copy.deepcopy(run)
    copied.resources = [r for r in copied.resources if r.type != type_]
    return copied


def renamed(run: MockRun, type_: str, new_name: str, alias: bool) -> MockRun:
    copied = copy.deepcopy(run)
    target = next(r for r in copied.resources if r.type == type_)
    old_urn = target.urn
    target.urn, target.name = old_urn.rsplit("::", 1)[0] + f"::{new_name}", new_name
    target.aliases = [old_urn] if alias else []
    return copied


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_unchanged_plan_is_silent(stack, policy_runs, analyze, tmp_path):
    baseline = write_run_baseline(policy_runs[stack], tmp_path)

    report = analyze(policy_runs[stack], with_baseline(stack, baseline))

    assert report.diagnostics == []
    assert not set(CHANGE_POLICIES) & set(report.not_applicable)


def test_removing_the_repository_is_a_stateful_deletion(policy_runs, analyze, dev_baseline):
    report = analyze(without(policy_runs["dev"], REPO), dev_with_prod_config(dev_baseline))

    messages = of_policy(report, "no-stateful-deletion")
    assert len(messages) == 1 and "Repository 'registry-repo'" in messages[0] and "deleted" in messages[0]
    assert {d.level for d in report.diagnostics if d.policy == "no-stateful-deletion"} == {"mandatory"}


def test_renaming_the_repository_without_an_alias_is_a_deletion_and_the_message_suggests_the_alias(
        policy_runs, analyze, dev_baseline):
    report = analyze(renamed(policy_runs["dev"], REPO, "images", alias=False), dev_with_prod_config(dev_baseline))

    messages = of_policy(report, "no-stateful-deletion")
    assert len(messages) == 1
    assert "renamed (new Repository: images)" in messages[0] and "pulumi.Alias(name='registry-repo')" in messages[0]


def test_renaming_with_an_alias_is_a_move_not_a_deletion(policy_runs, analyze, dev_baseline):
    report = analyze(renamed(policy_runs["dev"], REPO, "images", alias=True), dev_with_prod_config(dev_baseline))

    assert of_policy(report, "no-stateful-deletion") == []
    assert of_policy(report, "change-budget") == []


def test_a_large_change_exceeds_the_budget_and_names_the_biggest_contributors(policy_runs, analyze, prod_baseline):
    plan = without(without(policy_runs["prod"], "aws:autoscaling/group:Group"), "aws:iam/rolePolicy:RolePolicy")

    report = analyze(plan, with_baseline("prod", prod_baseline))

    messages = of_policy(report, "change-budget")
    assert len(messages) == 1
    assert "exceeds the budget 30" in messages[0]
    assert "delete Group 'fleet-asg' (100)" in messages[0].split("biggest contributors:")[1].split(",")[0]


def test_a_small_change_stays_within_the_budget(policy_runs, analyze, prod_baseline):
    plan = edited(policy_runs["prod"], "aws:cloudwatch/metricAlarm:MetricAlarm",
                  lambda props: props.update(threshold=99))

    report = analyze(plan, with_baseline("prod", prod_baseline))

    assert report.diagnostics == []


def test_updates_count_against_the_budget(policy_runs, analyze, prod_baseline):
    config = with_baseline("prod", prod_baseline)
    config["change-budget"]["budget"] = 0
    plan = edited(policy_runs["prod"], "aws:cloudwatch/metricAlarm:MetricAlarm",
                  lambda props: props.update(threshold=99))

    messages = of_policy(analyze(plan, config), "change-budget")

    assert len(messages) == 1 and "0 creates, 1 updates, 0 deletes" in messages[0]


def test_an_unknown_nested_value_is_not_an_update_but_a_known_difference_next_to_it_is(policy_runs, analyze,
                                                                                      prod_baseline):
    config = with_baseline("prod", prod_baseline)
    config["change-budget"]["budget"] = 0
    alarm = "aws:cloudwatch/metricAlarm:MetricAlarm"

    def unknown_dimension(props):
        props["metricQueries"][0]["metric"]["dimensions"]["LoadBalancer"] = UNKNOWN_STRING

    def and_renamed_metric(props):
        unknown_dimension(props)
        props["metricQueries"][0]["metric"]["metricName"] = "HTTPCode_ELB_5XX_Count"

    # by name: registration order varies between runs, and only the metric-math alarms have metricQueries
    plan = edited(policy_runs["prod"], alarm, unknown_dimension, name="alarms-fault-rate")
    assert of_policy(analyze(plan, config), "change-budget") == []
    plan = edited(policy_runs["prod"], alarm, and_renamed_metric, name="alarms-fault-rate")
    messages = of_policy(analyze(plan, config), "change-budget")
    assert len(messages) == 1 and "0 creates, 1 updates, 0 deletes" in messages[0]


def test_dropping_a_stack_output_is_caught(policy_runs, analyze, prod_baseline):
    plan = copy.deepcopy(policy_runs["prod"])
    del plan.stack_outputs["albUrl"]

    messages = of_policy(analyze(plan, with_baseline("prod", prod_baseline)), "outputs-kept")

    assert len(messages) == 1 and "albUrl" in messages[0]


def test_moving_the_health_check_path_changes_the_public_contract(policy_runs, analyze, prod_baseline):
    def move(props):
        props["healthCheck"]["path"] = "/health"

    plan = edited(policy_runs["prod"], "aws:lb/targetGroup:TargetGroup", move)

    report = analyze(plan, with_baseline("prod", prod_baseline))

    messages = of_policy(report, "public-contract-kept")
    assert len(messages) == 1 and "healthCheck.path" in messages[0] and "to /health" in messages[0]
    config = with_baseline("prod", prod_baseline)
    config["public-contract-kept"]["allowContractChange"] = True
    assert of_policy(analyze(plan, config), "public-contract-kept") == []


def test_changing_the_listener_port_changes_the_public_contract(policy_runs, analyze, prod_baseline):
    plan = edited(policy_runs["prod"], "aws:lb/listener:Listener", lambda props: props.update(port=8080))

    messages = of_policy(analyze(plan, with_baseline("prod", prod_baseline)), "public-contract-kept")

    assert len(messages) == 1 and "port" in messages[0] and "to 8080" in messages[0]


def test_dev_reports_the_same_findings_as_advisory(policy_runs, analyze, tmp_path):
    baseline = write_run_baseline(policy_runs["dev"], tmp_path)

    report = analyze(without(policy_runs["dev"], REPO), with_baseline("dev", baseline))

    assert of_policy(report, "no-stateful-deletion")
    assert {d.level for d in report.diagnostics} == {"advisory"}


def test_an_unreadable_baseline_is_reported_not_ignored(policy_runs, analyze, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"version": 2, "checkpoint": {}}))

    report = analyze(policy_runs["prod"], with_baseline("prod", broken))

    for policy in CHANGE_POLICIES:
        assert any("not a `pulumi stack export` file" in m for m in of_policy(report, policy))


@pytest.mark.parametrize(("stack", "type_", "name", "name_key"), [
    ("prod", BUCKET, "artifacts-bucket", "bucket"),
    ("dev", REPO, "registry-repo", "name"),
], ids=["prod-bucket", "dev-repository"])
def test_a_real_export_with_default_providers_and_secrets_is_read(stack, type_, name, name_key, policy_runs, analyze,
                                                                  tmp_path):
    baseline = write_run_baseline(policy_runs[stack], tmp_path)
    document = json.loads(baseline.read_text())
    resources = document["deployment"]["resources"]
    resources.insert(1, {"urn": f"urn:pulumi:{stack}::delivery::pulumi:providers:aws::default_7_0_0", "custom": True,
                         "id": "00000000-0000-0000-0000-000000000000", "type": "pulumi:providers:aws"})
    alarm = next(r for r in resources if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm")
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAABAKl..."}
    alarm["inputs"]["alarmDescription"] = alarm["outputs"]["alarmDescription"] = secret
    alarm["inputs"]["__defaults"] = ["treatMissingData"]
    # Left over by an interrupted replacement: the old copy of a stateful resource (the repository, which only dev
    # has; prod's bucket), and a bucket, both pending deletion.
    stateful = next(r for r in resources if r["type"] == type_ and r["urn"].endswith(f"::{name}"))
    resources.append({**copy.deepcopy(stateful), "delete": True,
                      "inputs": {**stateful["inputs"], name_key: f"old-{name}"},
                      "outputs": {**stateful["outputs"], name_key: f"old-{name}"}})
    resources.append({"urn": f"urn:pulumi:{stack}::delivery::aws:s3/bucket:Bucket::gone", "custom": True,
                      "id": "gone", "type": "aws:s3/bucket:Bucket", "delete": True, "inputs": {}, "outputs": {}})
    document["deployment"]["secrets_providers"] = {"type": "passphrase", "state": {"salt": "v1:abc"}}
    document["deployment"]["pending_operations"] = []
    baseline.write_text(json.dumps(document))
    config = with_baseline("prod", baseline) if stack == "prod" else dev_with_prod_config(baseline)
    config["change-budget"]["budget"] = 0  # any counted change would now be a violation

    assert analyze(policy_runs[stack], config).diagnostics == []
