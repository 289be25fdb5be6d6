"""Settings: every bad value fails with one sentence that names the key and what is allowed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.settings import SettingsError, parse_settings

REQUIRED = {"githubOwner": "example-org", "githubRepo": "delivery-app"}


def parse(stack: str = "prod", region: str | None = "us-east-1", **values):
    project = {**REQUIRED, **{k: v for k, v in values.items() if v is not None}}
    for key in [k for k, v in values.items() if v is None]:
        project.pop(key, None)
    return parse_settings(project.get, {"region": region}.get, stack)


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
        ({"alarmFaultRatePercent": "0"}, "config `delivery:alarmFaultRatePercent` must be a number above 0 up to 100"),
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
        assert parse(drillFailureRate=repr(number)).drill_failure_rate == number
    else:
        with pytest.raises(SettingsError, match=r"delivery:drillFailureRate"):
            parse(drillFailureRate=repr(number))


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
