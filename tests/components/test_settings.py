"""Settings: every bad value fails with one sentence that names the key and what is allowed."""

from __future__ import annotations

import contextvars
import gzip
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.settings import (
    AMI_ARCHITECTURE,
    KNOWN_KEYS,
    SettingsError,
    engine_config,
    instance_architecture,
    parse_settings,
)

REQUIRED = {"githubOwner": "example-org", "githubRepo": "delivery-app"}
CERTIFICATE = "arn:aws:acm:{region}:123456789012:certificate/0123abcd-45ef-6789-abcd-0123456789ab"


def parse(stack: str = "prod", region: str | None = "us-east-1", keys=None, **values):
    project = {**REQUIRED, **{k: v for k, v in values.items() if v is not None}}
    for key in [k for k, v in values.items() if v is None]:
        project.pop(key, None)
    if keys is None:  # what the engine passes: every key that is set
        keys = [f"delivery:{key}" for key in project] + (["aws:region"] if region else [])
    return parse_settings(project.get, {"region": region}.get, stack, keys)


def config_reference(readme: str) -> list[tuple[list[str], str]]:
    """The README's config reference table, a row at a time: the keys its first column names (in backticks) and its
    default column as written. tests/components/test_defaults.py reads the defaults from it."""
    section = readme.split("## Config reference", 1)[1].split("\n## ", 1)[0]
    return [(re.findall(r"`([A-Za-z0-9:]+)`", keys), default.strip())
            for keys, default in re.findall(r"^\| (.+?) \| (.+?) \|", section, flags=re.MULTILINE)]


def error_of(**kwargs) -> str:
    with pytest.raises(SettingsError) as caught:
        parse(**kwargs)
    message = str(caught.value)
    assert "\n" not in message, "one sentence, one line"
    return message


class TestDefaults:
    def test_defaults_are_safe_for_prod(self):
        s = parse(stack="anything")
        assert s.environment == "prod"
        assert s.approval_required is True
        assert s.fleet_size == 3 and s.deploy_min_healthy_percent == 66
        assert s.keep_images == 30
        assert s.bake_minutes == 30
        assert s.build_image == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
        assert s.drill_failure_rate == 0.0
        assert s.execution_mode == "SUPERSEDED"

    def test_the_stack_name_picks_the_environment_when_it_is_one(self):
        assert parse(stack="dev").environment == "dev"
        assert parse(stack="dev").approval_required is False

    def test_values_arrive_as_strings_as_the_engine_sends_them(self):
        s = parse(fleetSize="4", approvalRequired="false", alarmFaultRatePercent="2.5",
                  subnetIds='["subnet-0123abcd", "subnet-4567ef01"]', vpcId="vpc-0123abcd")
        assert (s.fleet_size, s.approval_required, s.alarm_fault_rate_percent) == (4, False, 2.5)
        assert s.subnet_ids == ("subnet-0123abcd", "subnet-4567ef01")


class TestMistakes:
    @pytest.mark.parametrize(("values", "expected"), [
        ({"githubOwner": None}, "config `delivery:githubOwner` is required"),
        ({"region": None}, "config `aws:region` is required"),
        ({"fleetSize": "three"}, "config `delivery:fleetSize` must be a whole number from 2 to 50 (got 'three')"),
        ({"fleetSize": "1"}, "config `delivery:fleetSize` must be a whole number from 2 to 50 (got '1')"),
        ({"approvalRequired": "yes"}, "config `delivery:approvalRequired` must be true or false (got 'yes')"),
        # The bake runs inside one CodeDeploy hook, which AWS stops after an hour (docs/aws-behaviour.md, B5).
        ({"bakeMinutes": "56"}, "config `delivery:bakeMinutes` must be a whole number from 1 to 55 (got '56')"),
        ({"environment": "qa"}, "config `delivery:environment` must be one of dev, staging, prod (got 'qa')"),
        ({"logRetentionDays": "10"}, "config `delivery:logRetentionDays` must be one of 1, 3, 5, 7, 14"),
        ({"connectionArn": "arn:aws:codeconnections:us-east-1:123:connection/x"},
         "config `delivery:connectionArn` must be a CodeConnections connection ARN"),
        ({"certificateArn": "not-an-arn"}, "config `delivery:certificateArn` must be an ACM certificate ARN"),
        ({"region": "Mars-1"}, "config `aws:region` must be an AWS region such as us-east-1 (got 'Mars-1')"),
        ({"buildImage": "aws/codebuild/standard:latest"}, "config `delivery:buildImage` must be a pinned"),
        ({"notificationEmail": "oncall"}, "config `delivery:notificationEmail` must be an email address"),
        ({"subnetIds": "subnet-1"}, "config `delivery:subnetIds` must be a list of subnet ids"),
        ({"vpcId": "vpc-0123abcd"}, "`delivery:vpcId` and `delivery:subnetIds` go together"),
        ({"alarmFaultRatePercent": "0"},
         "config `delivery:alarmFaultRatePercent` must be a number above 0 and below 100 (got '0')"),
        ({"drillFailureRate": "nan"}, "config `delivery:drillFailureRate` must be a number from 0 to 1"),
        ({"pipelineExecutionMode": "PARALLEL"},
         "config `delivery:pipelineExecutionMode` must be one of SUPERSEDED, QUEUED (got 'PARALLEL')"),
        ({"alarmLatencyP50Ms": "2000", "alarmLatencyP99Ms": "1000"},
         "config `delivery:alarmLatencyP50Ms` must be at most alarmLatencyP99Ms (1000)"),
        ({"deployMinHealthyPercent": "0"},
         "config `delivery:deployMinHealthyPercent` must be a whole number from 1 to 99 (got '0')"),
    ])
    def test_each_mistake_names_the_key_and_what_is_allowed(self, values, expected):
        assert expected in error_of(**values)

    def test_a_healthy_share_that_leaves_nothing_to_replace_is_refused(self):
        # CodeDeploy rounds 66% of 2 up to 2 instances: no instance could ever be replaced.
        message = error_of(fleetSize="2", deployMinHealthyPercent="66")
        assert "config `delivery:deployMinHealthyPercent` must be low enough that CodeDeploy can replace" in message
        assert parse(fleetSize="2", deployMinHealthyPercent="50").deploy_min_healthy_percent == 50

    def test_dev_may_deploy_all_at_once_with_one_instance(self):
        s = parse(stack="dev", fleetSize="1", deployMinHealthyPercent="0")
        assert s.all_at_once and s.fleet_size == 1


@given(st.integers())
def test_fleet_size_is_accepted_exactly_within_its_range(number):
    if 2 <= number <= 50:
        assert parse(fleetSize=str(number), deployMinHealthyPercent="1").fleet_size == number
    else:
        with pytest.raises(SettingsError, match=r"delivery:fleetSize"):
            parse(fleetSize=str(number))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_drill_failure_rate_is_a_fraction(number):
    if 0 <= number <= 1:
        assert parse(stack="dev", drillFailureRate=repr(number)).drill_failure_rate == number
    else:
        with pytest.raises(SettingsError, match=r"delivery:drillFailureRate"):
            parse(stack="dev", drillFailureRate=repr(number))


@given(st.integers(min_value=1, max_value=50), st.integers(min_value=1, max_value=99))
def test_waves_always_leave_an_instance_to_replace(fleet, percent):
    stack = "prod" if fleet >= 2 else "dev"
    try:
        s = parse(stack=stack, fleetSize=str(fleet), deployMinHealthyPercent=str(percent))
    except SettingsError as error:
        assert "deployMinHealthyPercent" in str(error)
        return
    kept = -(-s.fleet_size * s.deploy_min_healthy_percent // 100)
    assert kept < s.fleet_size


class TestSafeguardsThatCannotBeSwitchedOff:
    """Values that would leave an alarm, the bake or the AMI unable to do their job are refused."""

    @pytest.mark.parametrize(("values", "expected"), [
        # Every alarm is GreaterThanThreshold (components/alarms.py): a share of requests, or CPUUtilization,
        # never exceeds 100 %, so a threshold of 100 can never fire.
        ({"alarmFaultRatePercent": "100"},
         "config `delivery:alarmFaultRatePercent` must be a number above 0 and below 100 (got '100')"),
        ({"alarmCpuPercent": "100"},
         "config `delivery:alarmCpuPercent` must be a whole number from 1 to 99 (got '100')"),
        # The bake is the only watch after the last zone; the alarms need their window plus the minutes metrics
        # take to arrive (the zone monitor's margin), or a regression in the last wave cannot stop the deployment.
        ({"bakeMinutes": "5", "alarmEvaluationMinutes": "4"},
         "config `delivery:alarmEvaluationMinutes` must be at most bakeMinutes - 2 = 3, so the alarms can fire "
         "within the 5-minute bake (got 4)"),
        ({"bakeMinutes": "10", "alarmEvaluationMinutes": "60"},
         "config `delivery:alarmEvaluationMinutes` must be at most bakeMinutes - 2 = 8"),
        ({"bakeMinutes": "2", "alarmEvaluationMinutes": "1"},
         "config `delivery:bakeMinutes` must be at least alarmEvaluationMinutes + 2 = 3, so the alarms can fire "
         "before the bake ends (got 2)"),
        ({"drillFailureRate": "0.05"},
         "config `delivery:drillFailureRate` must be 0 in prod, where the drill fails real requests, unless "
         "`delivery:allowDrillInProd` is true (got 0.05)"),
        ({"drillFailureRate": "0.05", "allowDrillInProd": "yes"},
         "config `delivery:allowDrillInProd` must be true or false (got 'yes')"),
        ({"certificateArn": CERTIFICATE.format(region="eu-west-1")},
         "config `delivery:certificateArn` must be an ACM certificate in the stack's region us-east-1 "
         "(an ALB uses certificates from its own region only), not one from eu-west-1"),
    ])
    def test_each_refusal_names_the_key_and_what_is_allowed(self, values, expected):
        assert expected in error_of(**values)

    def test_the_bake_keeps_the_same_margin_as_the_zone_monitor(self):
        s = parse(bakeMinutes="5", alarmEvaluationMinutes="3")
        assert s.alarm_evaluation_minutes + 2 == s.bake_minutes == s.zone_monitor_minutes

    def test_the_drill_runs_in_prod_only_with_the_named_override(self):
        s = parse(drillFailureRate="0.05", allowDrillInProd="true")
        assert (s.drill_failure_rate, s.allow_drill_in_prod) == (0.05, True)
        assert parse(stack="dev", drillFailureRate="0.5").drill_failure_rate == 0.5
        assert parse(drillFailureRate="0", allowDrillInProd="false").drill_failure_rate == 0

    def test_a_certificate_from_the_stacks_region_is_accepted(self):
        arn = CERTIFICATE.format(region="eu-west-1")
        assert parse(region="eu-west-1", certificateArn=arn).certificate_arn == arn


class TestInstanceArchitecture:
    """The launch template boots Amazon Linux 2023 for x86_64 (components/fleet.py AMI_PARAMETER)."""

    def test_the_rule_follows_the_ami_the_fleet_boots(self):
        from components.fleet import AMI_PARAMETER

        assert AMI_PARAMETER.endswith(f"-{AMI_ARCHITECTURE}")

    @pytest.mark.parametrize("instance_type", [
        "t4g.small", "m6g.large", "m7g.xlarge", "c6g.large", "c7gn.2xlarge", "r6gd.large", "r8g.large", "a1.large",
        "x2gd.xlarge", "im4gn.large", "is4gen.large", "g5g.xlarge", "hpc7g.4xlarge", "c8gb.metal-24xl",
    ])
    def test_graviton_types_are_refused(self, instance_type):
        message = error_of(instanceType=instance_type)
        assert message.startswith("config `delivery:instanceType` must be an x86_64 instance type for the Amazon "
                                  "Linux 2023 x86_64 AMI")
        assert "arm64" in message and f"got '{instance_type}'" in message

    @pytest.mark.parametrize("instance_type", ["mac1.metal", "mac2-m2pro.metal"])
    def test_mac_types_are_refused(self, instance_type):
        assert "runs macOS" in error_of(instanceType=instance_type)

    @pytest.mark.parametrize("instance_type", [
        "t3.small", "t3a.micro", "m7i-flex.large", "c7i.metal-24xl", "m5zn.large", "g4dn.xlarge", "g4ad.xlarge",
        "m7a.large", "u-6tb1.112xlarge", "p6-b200.48xlarge", "inf2.xlarge", "x2iedn.xlarge", "i4i.large",
    ])
    def test_x86_64_types_are_accepted(self, instance_type):
        assert parse(instanceType=instance_type).instance_type == instance_type

    def test_the_rule_agrees_with_every_instance_type_ec2_describes(self):
        """moto ships a copy of EC2's DescribeInstanceTypes answer: each type's ProcessorInfo.SupportedArchitectures
        is what AWS says. The name rule must agree with it for every type, or it is wrong."""
        import moto

        resources = Path(moto.__file__).parent / "ec2" / "resources"
        packed = resources / "instance_types.json.gz"  # moto 5 ships it compressed; older releases did not
        data = json.loads(gzip.decompress(packed.read_bytes()) if packed.exists()
                          else (resources / "instance_types.json").read_bytes())
        assert len(data) > 1000
        wrong = {}
        for name, info in data.items():
            architectures = info["ProcessorInfo"]["SupportedArchitectures"]
            expected = "x86_64" if "x86_64" in architectures else architectures[0]
            if instance_architecture(name) != expected:
                wrong[name] = (instance_architecture(name), architectures)
        assert wrong == {}


class TestUnknownKeys:
    @pytest.mark.parametrize(("key", "suggestion"), [
        ("fleetSzie", "fleetSize"),
        ("fleetsize", "fleetSize"),
        ("bakeMinute", "bakeMinutes"),
        ("alarmCPUPercent", "alarmCpuPercent"),
        ("allowDrillsInProd", "allowDrillInProd"),
        ("certificateARN", "certificateArn"),
    ])
    def test_an_unknown_key_suggests_the_closest_known_one(self, key, suggestion):
        message = error_of(keys=[f"delivery:{key}", "delivery:githubOwner", "aws:region"])
        assert message == (f"config `delivery:{key}` is not a setting of this program; "
                           f"did you mean `delivery:{suggestion}`?")

    def test_an_unknown_key_with_nothing_close_points_to_the_reference(self):
        message = error_of(keys=["delivery:colour"])
        assert message == ("config `delivery:colour` is not a setting of this program "
                           "(the README's config reference lists them)")

    def test_keys_of_other_namespaces_are_not_ours_to_judge(self):
        parse(keys=["aws:region", "aws:profile", "pulumi:tags", "other:fleetSzie", "delivery:githubOwner"])

    def test_known_keys_match_the_readme_config_reference(self, project_root):
        rows = config_reference((project_root / "README.md").read_text())
        documented = {key for keys, _ in rows for key in keys if not key.startswith("aws:")}
        assert documented == set(KNOWN_KEYS)


class TestEngineConfig:
    """The one place that reads SDK internals: every key the engine passed. If the SDK moves them, this fails."""

    def test_it_reads_the_config_the_language_host_passes_in_pulumi_config(self, monkeypatch):
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"delivery:fleetSzie": "2", "aws:region": "us-east-1"}))
        config = contextvars.copy_context().run(engine_config)
        assert config == {"delivery:fleetSzie": "2", "aws:region": "us-east-1"}

    def test_it_reads_config_set_in_process_by_the_automation_api(self, monkeypatch):
        import pulumi.runtime

        monkeypatch.delenv("PULUMI_CONFIG", raising=False)

        def set_then_read():
            pulumi.runtime.set_all_config({"delivery:bakeMinute": "5"})
            return engine_config()

        assert contextvars.copy_context().run(set_then_read) == {"delivery:bakeMinute": "5"}

    def test_the_sdk_still_reads_single_keys_from_the_same_place(self, monkeypatch):
        """pulumi.Config.get and engine_config must see the same config, or unknown keys go unseen."""
        import pulumi

        monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"delivery:appName": "web"}))
        assert contextvars.copy_context().run(lambda: pulumi.Config("delivery").get("appName")) == "web"


class TestPromotion:
    """A stack that takes its releases from another (promoteFrom) builds nothing."""

    def test_a_promoted_stack_needs_no_github_repository(self):
        settings = parse(githubOwner=None, githubRepo=None, promoteFrom="example-org/delivery/dev")
        assert settings.promote_from == "example-org/delivery/dev" and not settings.builds

    def test_a_stack_without_promote_from_builds(self):
        assert parse().builds and parse().promote_to_accounts == ()

    @pytest.mark.parametrize("reference", ["dev", "delivery/dev", "org/delivery/dev/extra", "org/deli very/dev"])
    def test_the_reference_is_organization_project_stack(self, reference):
        assert error_of(githubOwner=None, githubRepo=None, promoteFrom=reference).startswith(
            "config `delivery:promoteFrom` must be a stack to take releases from, as organization/project/stack")

    @pytest.mark.parametrize("key", ["githubOwner", "githubBranch", "connectionArn", "buildImage",
                                     "buildTimeoutMinutes", "keepImages", "promoteToAccounts", "drillFailureRate",
                                     "allowDrillInProd"])
    def test_build_settings_are_refused_rather_than_ignored(self, key):
        values = {"githubOwner": None, "githubRepo": None, key: "x"}
        message = error_of(promoteFrom="example-org/delivery/dev", **values)
        assert message.startswith(f"config `delivery:{key}` has no effect in a stack that takes its releases from")

    def test_a_stack_cannot_take_its_releases_from_itself(self):
        values = {"githubOwner": None, "githubRepo": None, "promoteFrom": "example-org/delivery/prod"}
        project = {k: v for k, v in values.items() if v is not None}
        with pytest.raises(SettingsError) as caught:
            parse_settings(project.get, {"region": "us-east-1"}.get, "prod", [f"delivery:{k}" for k in project],
                           project_name="delivery")
        assert str(caught.value) == ("config `delivery:promoteFrom` must be another stack: a stack cannot take its "
                                     "releases from itself (got 'example-org/delivery/prod')")
        assert parse_settings(project.get, {"region": "us-east-1"}.get, "prod", project_name="other").promote_from

    def test_accounts_to_promote_to_are_account_ids(self):
        assert parse(promoteToAccounts='["210987654321"]').promote_to_accounts == ("210987654321",)
        assert error_of(promoteToAccounts='["arn:aws:iam::210987654321:root"]').startswith(
            "config `delivery:promoteToAccounts` must be a list of 12-digit AWS account ids")
