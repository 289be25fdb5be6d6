"""Typed stack settings: read once from the stack config, validated, with defaults that are safe for prod.

Every mistake raises `SettingsError`, a `pulumi.RunError`, so `pulumi up` prints one sentence that names the
config key and what is allowed, and no traceback. Parsing works on plain strings (what the engine hands the
program), so the rules are the same whatever reads the config.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi

PROJECT = "delivery"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
ENVIRONMENTS = ("dev", "staging", "prod")
METRIC_DELAY_MINUTES = 2  # a design margin for metric publication, not an AWS figure
MAX_BAKE_MINUTES = 55  # the AfterAllowTraffic hook that bakes must end within AWS's 3600 s hook limit
EXECUTION_MODES = ("SUPERSEDED", "QUEUED")  # PARALLEL is left out on purpose: it disables stage rollback.

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,255}(?<!/)$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
_CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
# A pinned CodeBuild image: a curated aws/codebuild image with an explicit version, or an image by digest.
_BUILD_IMAGE = re.compile(r"^(aws/codebuild/[a-z0-9._-]+:\d+(\.\d+)*|[^\s:@]+@sha256:[0-9a-f]{64})$")


class SettingsError(pulumi.RunError):
    """A config mistake; the message names the key and what is allowed."""


@dataclass(frozen=True)
class Settings:
    """Everything a team changes per stack. Field docs live in the README's config reference."""

    environment: str
    region: str
    app_name: str
    github_owner: str
    github_repo: str
    github_branch: str
    connection_arn: str | None
    instance_type: str
    fleet_size: int
    deploy_min_healthy_percent: int
    alarm_fault_rate_percent: float
    alarm_latency_p50_ms: int
    alarm_latency_p99_ms: int
    alarm_cpu_percent: int
    alarm_evaluation_minutes: int
    bake_minutes: int
    approval_required: bool
    notification_email: str | None
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    certificate_arn: str | None
    keep_images: int
    artifact_retention_days: int
    log_retention_days: int
    build_timeout_minutes: int
    build_image: str
    app_port: int
    drill_failure_rate: float
    execution_mode: str

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def zone_monitor_minutes(self) -> int:
        """Between Availability Zones, long enough for a regression in the zone just done to fire an alarm: the
        alarm's evaluation window plus the minutes CloudWatch takes to publish load balancer metrics."""
        return self.alarm_evaluation_minutes + METRIC_DELAY_MINUTES

    @property
    def all_at_once(self) -> bool:
        return self.deploy_min_healthy_percent == 0


Getter = Callable[[str], "str | None"]


class _Reader:
    """Typed reads of one config namespace; each error names `namespace:key`."""

    def __init__(self, namespace: str, get: Getter):
        self.namespace = namespace
        self._get = get

    def fail(self, key: str, allowed: str, value: object = None) -> SettingsError:
        got = "" if value is None else f" (got {value!r})"
        return SettingsError(f"config `{self.namespace}:{key}` must be {allowed}{got}")

    def raw(self, key: str) -> str | None:
        value = self._get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    def string(self, key: str, pattern: re.Pattern, allowed: str, default: str | None = None,
               required: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise SettingsError(f"config `{self.namespace}:{key}` is required: set it to {allowed}")
            return default
        if not pattern.match(value):
            raise self.fail(key, allowed, value)
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self.fail(key, f"a whole number from {low} to {high}", value) from None
        if not low <= number <= high:
            raise self.fail(key, f"a whole number from {low} to {high}", value)
        return number

    def number(self, key: str, default: float, low: float, high: float, low_inclusive: bool = True) -> float:
        lower = f"from {low:g} to" if low_inclusive else f"above {low:g} up to"
        allowed = f"a number {lower} {high:g}"
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self.fail(key, allowed, value) from None
        in_range = (low <= number if low_inclusive else low < number) and number <= high
        if not math.isfinite(number) or not in_range:
            raise self.fail(key, allowed, value)
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise self.fail(key, "true or false", value)
        return lowered == "true"

    def choice(self, key: str, choices: Sequence, default) -> str | int:
        value = self.raw(key)
        if value is None:
            return default
        for option in choices:
            if str(option) == value:
                return option
        raise self.fail(key, f"one of {', '.join(str(c) for c in choices)}", value)

    def string_list(self, key: str, pattern: re.Pattern, allowed: str) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise self.fail(key, f"a list of {allowed}", value) from None
        if not isinstance(items, list) or not all(isinstance(i, str) and pattern.match(i) for i in items):
            raise self.fail(key, f"a list of {allowed}", items)
        return tuple(items)


def parse_settings(project: Getter, aws: Getter, stack: str) -> Settings:
    """Builds Settings from two config getters (the project's namespace and `aws`), or raises SettingsError."""
    cfg = _Reader(PROJECT, project)
    region = _Reader("aws", aws).string("region", _REGION, "an AWS region such as us-east-1", required=True)
    environment = cfg.choice("environment", ENVIRONMENTS, "prod" if stack not in ENVIRONMENTS else stack)
    is_prod = environment == "prod"
    settings = Settings(
        environment=environment,
        region=region,
        app_name=cfg.string("appName", _NAME, "1-20 lowercase letters, digits or dashes, starting with a letter",
                            default="app"),
        github_owner=cfg.string("githubOwner", _GITHUB_OWNER, "a GitHub user or organization name", required=True),
        github_repo=cfg.string("githubRepo", _GITHUB_REPO, "a GitHub repository name", required=True),
        github_branch=cfg.string("githubBranch", _BRANCH, "a git branch name", default="main"),
        connection_arn=cfg.string("connectionArn", _CONNECTION_ARN,
                                  "a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:"
                                  "connection/UUID), or unset to create one"),
        instance_type=cfg.string("instanceType", _INSTANCE_TYPE, "an EC2 instance type such as t3.small",
                                 default="t3.small"),
        fleet_size=cfg.integer("fleetSize", 3, 2 if is_prod else 1, 50),
        deploy_min_healthy_percent=cfg.integer("deployMinHealthyPercent", 66, 1 if is_prod else 0, 99),
        alarm_fault_rate_percent=cfg.number("alarmFaultRatePercent", 1.0, 0, 100, low_inclusive=False),
        alarm_latency_p50_ms=cfg.integer("alarmLatencyP50Ms", 300, 1, 60_000),
        alarm_latency_p99_ms=cfg.integer("alarmLatencyP99Ms", 1500, 1, 60_000),
        alarm_cpu_percent=cfg.integer("alarmCpuPercent", 80, 1, 100),
        alarm_evaluation_minutes=cfg.integer("alarmEvaluationMinutes", 3, 1, 60),
        # The bake runs inside the last wave's AfterAllowTraffic hook, and AWS caps a hook at 60 minutes.
        bake_minutes=cfg.integer("bakeMinutes", 30, 1, MAX_BAKE_MINUTES),
        approval_required=cfg.boolean("approvalRequired", is_prod),
        notification_email=cfg.string("notificationEmail", _EMAIL, "an email address"),
        vpc_id=cfg.string("vpcId", _VPC_ID, "a VPC id such as vpc-0123abcd, or unset to create a VPC"),
        subnet_ids=cfg.string_list("subnetIds", _SUBNET_ID, "subnet ids such as [\"subnet-0123abcd\", ...]"),
        certificate_arn=cfg.string("certificateArn", _CERTIFICATE_ARN, "an ACM certificate ARN"),
        keep_images=cfg.integer("keepImages", 30, 1, 1000),
        artifact_retention_days=cfg.integer("artifactRetentionDays", 90, 1, 3650),
        log_retention_days=cfg.choice("logRetentionDays", LOG_RETENTION_DAYS, 30),
        build_timeout_minutes=cfg.integer("buildTimeoutMinutes", 30, 5, 480),
        build_image=cfg.string("buildImage", _BUILD_IMAGE,
                               "a pinned CodeBuild image such as aws/codebuild/amazonlinux-x86_64-standard:5.0 "
                               "or an image by @sha256 digest",
                               default="aws/codebuild/amazonlinux-x86_64-standard:5.0"),
        app_port=cfg.integer("appPort", 8080, 1024, 65535),
        drill_failure_rate=cfg.number("drillFailureRate", 0.0, 0, 1),
        execution_mode=cfg.choice("pipelineExecutionMode", EXECUTION_MODES, "SUPERSEDED"),
    )
    _check_combinations(cfg, settings)
    return settings


def _check_combinations(cfg: _Reader, s: Settings) -> None:
    """Rules that span keys."""
    if bool(s.vpc_id) != bool(s.subnet_ids):
        raise SettingsError(f"config `{PROJECT}:vpcId` and `{PROJECT}:subnetIds` go together: set both or neither")
    if s.subnet_ids and len(set(s.subnet_ids)) < 2:
        raise cfg.fail("subnetIds", "at least two distinct subnets in different availability zones", list(s.subnet_ids))
    if s.alarm_latency_p50_ms > s.alarm_latency_p99_ms:
        raise cfg.fail("alarmLatencyP50Ms", f"at most alarmLatencyP99Ms ({s.alarm_latency_p99_ms})",
                       s.alarm_latency_p50_ms)
    # CodeDeploy rounds the healthy share up to whole instances; it must leave at least one to replace.
    kept = math.ceil(s.fleet_size * s.deploy_min_healthy_percent / 100)
    if s.deploy_min_healthy_percent and kept >= s.fleet_size:
        raise cfg.fail(
            "deployMinHealthyPercent",
            f"low enough that CodeDeploy can replace at least one of {s.fleet_size} instances "
            f"({s.deploy_min_healthy_percent}% keeps all {kept} healthy; raise fleetSize or lower the percent)",
            s.deploy_min_healthy_percent,
        )


def load_settings() -> Settings:
    """Reads the running stack's config."""
    return parse_settings(pulumi.Config(PROJECT).get, pulumi.Config("aws").get, pulumi.get_stack())
