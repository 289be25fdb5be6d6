"""One source of defaults (components/defaults.py): a config key left unset, the Args field it feeds left out, and the
README's config reference all give the same value, the constant's.

To change a default, change its constant; to add one, add its constant and its rows to DEFAULTS below."""

from __future__ import annotations

import dataclasses
import re

import pytest

from components import defaults
from components.alarms import DeploymentAlarmsArgs
from components.artifacts import ArtifactStoreArgs
from components.build import ImageBuildArgs
from components.deployment import AppDeploymentArgs
from components.fleet import AppFleetArgs
from components.pipeline import BuildFromGitHub, DeliveryPipelineArgs
from components.registry import ImageRegistryArgs
from components.release_publisher import ReleasePublisherArgs
from components.settings import KNOWN_KEYS, Settings
from tests.components.test_settings import config_reference, parse

# A stack whose name is not an environment, with nothing set but what is required: every setting at its default,
# environment included (which falls back to prod).
UNSET_STACK = "sandbox"

# (config key, Settings attribute, Args class, Args field, constant in components/defaults.py), a row per Args field a
# setting feeds; None for the Args class when no component takes the setting, None for the key when the setting is
# derived from others.
DEFAULTS = [
    ("environment", "environment", None, None, "ENVIRONMENT"),
    ("appName", "app_name", None, None, "APP_NAME"),
    ("githubBranch", "github_branch", BuildFromGitHub, "branch", "GITHUB_BRANCH"),
    ("instanceType", "instance_type", AppFleetArgs, "instance_type", "INSTANCE_TYPE"),
    ("fleetSize", "fleet_size", AppFleetArgs, "fleet_size", "FLEET_SIZE"),
    ("deployMinHealthyPercent", "deploy_min_healthy_percent", AppFleetArgs, "min_healthy_percent",
     "MIN_HEALTHY_PERCENT"),
    ("deployMinHealthyPercent", "deploy_min_healthy_percent", AppDeploymentArgs, "min_healthy_percent",
     "MIN_HEALTHY_PERCENT"),
    ("alarmFaultRatePercent", "alarm_fault_rate_percent", DeploymentAlarmsArgs, "fault_rate_percent",
     "ALARM_FAULT_RATE_PERCENT"),
    ("alarmLatencyP50Ms", "alarm_latency_p50_ms", DeploymentAlarmsArgs, "latency_p50_ms", "ALARM_LATENCY_P50_MS"),
    ("alarmLatencyP99Ms", "alarm_latency_p99_ms", DeploymentAlarmsArgs, "latency_p99_ms", "ALARM_LATENCY_P99_MS"),
    ("alarmCpuPercent", "alarm_cpu_percent", DeploymentAlarmsArgs, "cpu_percent", "ALARM_CPU_PERCENT"),
    ("alarmEvaluationMinutes", "alarm_evaluation_minutes", DeploymentAlarmsArgs, "evaluation_minutes",
     "ALARM_EVALUATION_MINUTES"),
    (None, "zone_monitor_minutes", AppDeploymentArgs, "zone_monitor_minutes", "ZONE_MONITOR_MINUTES"),
    ("bakeMinutes", "bake_minutes", AppFleetArgs, "bake_minutes", "BAKE_MINUTES"),
    ("approvalRequired", "approval_required", DeliveryPipelineArgs, "approval_required", "APPROVAL_REQUIRED"),
    ("keepImages", "keep_images", ImageRegistryArgs, "keep_images", "KEEP_IMAGES"),
    ("artifactRetentionDays", "artifact_retention_days", ArtifactStoreArgs, "retention_days",
     "ARTIFACT_RETENTION_DAYS"),
    ("logRetentionDays", "log_retention_days", AppFleetArgs, "log_retention_days", "LOG_RETENTION_DAYS"),
    ("logRetentionDays", "log_retention_days", ImageBuildArgs, "log_retention_days", "LOG_RETENTION_DAYS"),
    ("logRetentionDays", "log_retention_days", ReleasePublisherArgs, "log_retention_days", "LOG_RETENTION_DAYS"),
    ("buildTimeoutMinutes", "build_timeout_minutes", ImageBuildArgs, "timeout_minutes", "BUILD_TIMEOUT_MINUTES"),
    ("buildImage", "build_image", ImageBuildArgs, "build_image", "BUILD_IMAGE"),
    ("buildImage", "build_image", ReleasePublisherArgs, "build_image", "BUILD_IMAGE"),
    ("appPort", "app_port", AppFleetArgs, "app_port", "APP_PORT"),
    ("appPort", "app_port", ImageBuildArgs, "app_port", "APP_PORT"),
    ("drillFailureRate", "drill_failure_rate", ImageBuildArgs, "drill_failure_rate", "DRILL_FAILURE_RATE"),
    ("allowDrillInProd", "allow_drill_in_prod", None, None, "ALLOW_DRILL_IN_PROD"),
    ("pipelineExecutionMode", "execution_mode", DeliveryPipelineArgs, "execution_mode", "EXECUTION_MODE"),
]
# Keys with no default value: required, or unset means "none" (create one, no email, no HTTPS, build from GitHub).
WITHOUT_DEFAULT = {"githubOwner", "githubRepo", "connectionArn", "notificationEmail", "vpcId", "subnetIds",
                   "certificateArn", "promoteFrom", "promoteToAccounts"}
# Keys whose README default is a sentence rather than a value: the stack name if it is an environment, else prod.
DOCUMENTED_IN_WORDS = {"environment"}


def row_id(row) -> str:
    key, attribute, args, field, _ = row
    return f"{key or attribute}->{args.__name__}.{field}" if args else (key or attribute)


def unset() -> Settings:
    settings = parse(stack=UNSET_STACK)
    assert settings.is_prod, "with nothing set, a stack not named after an environment is prod"
    return settings


@pytest.mark.parametrize(("key", "attribute", "args", "field", "constant"), DEFAULTS, ids=map(row_id, DEFAULTS))
def test_settings_and_args_take_the_same_default(key, attribute, args, field, constant):
    expected = getattr(defaults, constant)
    assert getattr(unset(), attribute) == expected, f"{key or attribute} unset is not defaults.{constant}"
    if args is not None:
        declared = {f.name: f for f in dataclasses.fields(args)}[field]
        assert declared.default is not dataclasses.MISSING, f"{args.__name__}.{field} has no default"
        assert declared.default == expected, f"{args.__name__}.{field} is not defaults.{constant}"


def test_every_key_either_has_a_default_here_or_none_at_all():
    keys = {key for key, *_ in DEFAULTS if key is not None}
    assert keys.isdisjoint(WITHOUT_DEFAULT)
    assert keys | WITHOUT_DEFAULT == set(KNOWN_KEYS)


LIMITS = {"MAX_BAKE_MINUTES"}  # bounds the settings and the Args check, not defaults


def test_every_constant_is_in_the_table():
    constants = {name for name in vars(defaults) if name.isupper()}
    assert constants - LIMITS == {constant for *_, constant in DEFAULTS}


def test_the_bake_limit_is_one_number_for_the_settings_and_the_fleet():
    from components import fleet, settings

    assert settings.MAX_BAKE_MINUTES == fleet.MAX_BAKE_MINUTES == defaults.MAX_BAKE_MINUTES == 55


def test_approval_is_required_in_prod_only():
    """The one default that depends on the environment: settings.py decides; defaults.py holds prod's value."""
    assert defaults.APPROVAL_REQUIRED is True
    assert [parse(stack=stack).approval_required for stack in ("prod", "staging", "dev")] == [True, False, False]


# A README default cell that is a value in backticks, or a prod value and another elsewhere ("`true` in prod, else
# `false`").
LITERAL = re.compile(r"^`(?P<prod>[^`]+)`(?: in prod, else `(?P<elsewhere>[^`]+)`)?$")


@pytest.fixture(scope="module")
def documented(project_root) -> dict[str, re.Match]:
    """Each key of the README's config reference whose default is written as a value, and that value."""
    found = {}
    for keys, default in config_reference((project_root / "README.md").read_text()):
        literal = LITERAL.match(default)
        if literal and len(keys) == 1:
            found[keys[0]] = literal
    return found


class TestReadme:
    """The README's config reference documents each default; it must say what the program does. A documented value
    is checked the way a stack file would pass it: set to that value, the setting is what it is when unset."""

    def test_every_default_is_documented_as_a_value(self, documented):
        with_default = {key for key, *_ in DEFAULTS if key is not None}
        assert set(documented) == with_default - DOCUMENTED_IN_WORDS

    @pytest.mark.parametrize(("key", "attribute"), sorted({(key, attribute) for key, attribute, *_ in DEFAULTS
                                                           if key and key not in DOCUMENTED_IN_WORDS}))
    def test_the_documented_default_is_the_settings_default(self, documented, key, attribute):
        literal = documented[key]

        def setting(stack: str, **values):
            return getattr(parse(stack=stack, **values), attribute)

        assert setting("prod", **{key: literal["prod"]}) == setting("prod"), f"README's {key} default is not prod's"
        if literal["elsewhere"] is None:
            assert setting("dev") == setting("prod"), f"{key} defaults otherwise outside prod; the README says not"
        else:
            assert setting("dev", **{key: literal["elsewhere"]}) == setting("dev"), \
                f"README's {key} default outside prod is not the program's"
