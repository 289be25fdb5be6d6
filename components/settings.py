"""Typed stack settings: read once from the stack config, validated, with defaults that are safe for prod.

Every mistake raises `SettingsError`, a `pulumi.RunError`, so `pulumi up` prints one sentence that names the
config key and what is allowed, and no traceback. Parsing works on plain strings (what the engine hands the
program), so the rules are the same whatever reads the config.

Safeguards cannot be switched off by a value: an alarm threshold that can never be exceeded, an evaluation window
that cannot fire within the bake, an instance type the AMI cannot boot, a certificate the load balancer cannot use,
and the failure drill in prod (unless `allowDrillInProd` says so by name) are refused. So is a key in the project's
namespace that the program does not read: a misspelt key would otherwise leave its setting at the default.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components import defaults

PROJECT = "delivery"
# Every key the program reads in its namespace; any other `delivery:` key is refused (README: Config reference).
KNOWN_KEYS = (
    "environment", "appName", "githubOwner", "githubRepo", "githubBranch", "connectionArn", "instanceType",
    "fleetSize", "deployMinHealthyPercent", "alarmFaultRatePercent", "alarmLatencyP50Ms", "alarmLatencyP99Ms",
    "alarmCpuPercent", "alarmEvaluationMinutes", "bakeMinutes", "approvalRequired", "notificationEmail", "vpcId",
    "subnetIds", "certificateArn", "keepImages", "artifactRetentionDays", "logRetentionDays", "buildTimeoutMinutes",
    "buildImage", "appPort", "drillFailureRate", "allowDrillInProd", "pipelineExecutionMode", "promoteFrom",
    "promoteToAccounts",
)
# What only a stack that builds reads: a promoted stack (promoteFrom) refuses them rather than ignore them.
BUILD_ONLY_KEYS = ("githubOwner", "githubRepo", "githubBranch", "connectionArn", "buildImage", "buildTimeoutMinutes",
                   "keepImages", "promoteToAccounts", "drillFailureRate", "allowDrillInProd")
AMI_ARCHITECTURE = "x86_64"  # components/fleet.py AMI_PARAMETER: Amazon Linux 2023 for x86_64 (a test pins this)

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
ENVIRONMENTS = ("dev", "staging", "prod")
METRIC_DELAY_MINUTES = 2  # a design margin for metric publication, not an AWS figure
MAX_BAKE_MINUTES = defaults.MAX_BAKE_MINUTES
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
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+(-[a-z0-9]+)?$")  # sizes include metal-24xl
# An instance family (everything before the `.`): series letters, generation digits, option letters, and for a few
# families a suffix (m7i-flex, p6-b200, mac2-m2pro, u7i-12tb). Amazon EC2 Instance Types, "Amazon EC2 instance type
# naming conventions" (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html): "The first
# position of the instance family indicates the series, for example c. The second position indicates the
# generation, for example 7. The third position indicates the options, for example gn." Its options list has
# "g - AWS Graviton processors", and its series list "A - Powered by Arm-based AWS Graviton processors" (a1)
# (AWS writes an en dash).
_INSTANCE_FAMILY = re.compile(r"^(?P<series>[a-z]+)(?P<generation>\d+)(?P<options>[a-z]*)(?:-(?P<suffix>[a-z0-9]+))?$")
# A Pulumi stack reference: organization/project/stack (a self-managed backend's organization is "organization").
_STACK_REFERENCE = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
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
    allow_drill_in_prod: bool
    execution_mode: str
    promote_from: str | None
    """The stack whose published releases this stack deploys (it builds nothing); None: build from GitHub."""
    promote_to_accounts: tuple[str, ...]
    """Other AWS accounts whose promoted stacks may read this stack's releases and images."""

    @property
    def builds(self) -> bool:
        return self.promote_from is None

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
        assert self.namespace != PROJECT or key in KNOWN_KEYS, f"{key} is read but missing from KNOWN_KEYS"
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

    def number(self, key: str, default: float, low: float, high: float, low_inclusive: bool = True,
               high_inclusive: bool = True) -> float:
        lower = f"from {low:g}" if low_inclusive else f"above {low:g}"
        upper = (" to" if low_inclusive else " up to") if high_inclusive else " and below"
        allowed = f"a number {lower}{upper} {high:g}"
        value = self.raw(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self.fail(key, allowed, value) from None
        in_range = ((low <= number if low_inclusive else low < number)
                    and (number <= high if high_inclusive else number < high))
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


def parse_settings(project: Getter, aws: Getter, stack: str, keys: Iterable[str] = (),
                   project_name: str | None = None) -> Settings:
    """Builds Settings from two config getters (the project's namespace and `aws`) and the full names of every key
    the stack sets (for unknown keys), or raises SettingsError. `project_name` (the Pulumi project) lets a stack
    that names itself in promoteFrom be refused."""
    _check_keys(keys)
    cfg = _Reader(PROJECT, project)
    promote_from = cfg.string("promoteFrom", _STACK_REFERENCE, "a stack to take releases from, as "
                              "organization/project/stack (e.g. example-org/delivery/dev)")
    if promote_from and promote_from.split("/")[1:] == [project_name, stack]:
        raise cfg.fail("promoteFrom", "another stack: a stack cannot take its releases from itself", promote_from)
    if promote_from:
        _refuse_build_keys(cfg, promote_from)
    builds = promote_from is None
    region = _Reader("aws", aws).string("region", _REGION, "an AWS region such as us-east-1", required=True)
    environment = cfg.choice("environment", ENVIRONMENTS, stack if stack in ENVIRONMENTS else defaults.ENVIRONMENT)
    is_prod = environment == "prod"
    settings = Settings(
        environment=environment,
        region=region,
        app_name=cfg.string("appName", _NAME, "1-20 lowercase letters, digits or dashes, starting with a letter",
                            default=defaults.APP_NAME),
        github_owner=cfg.string("githubOwner", _GITHUB_OWNER, "a GitHub user or organization name",
                                required=builds),
        github_repo=cfg.string("githubRepo", _GITHUB_REPO, "a GitHub repository name", required=builds),
        github_branch=cfg.string("githubBranch", _BRANCH, "a git branch name", default=defaults.GITHUB_BRANCH),
        connection_arn=cfg.string("connectionArn", _CONNECTION_ARN,
                                  "a CodeConnections connection ARN (arn:aws:codeconnections:REGION:ACCOUNT:"
                                  "connection/UUID), or unset to create one"),
        instance_type=cfg.string("instanceType", _INSTANCE_TYPE, "an EC2 instance type such as t3.small",
                                 default=defaults.INSTANCE_TYPE),
        fleet_size=cfg.integer("fleetSize", defaults.FLEET_SIZE, 2 if is_prod else 1, 50),
        deploy_min_healthy_percent=cfg.integer("deployMinHealthyPercent", defaults.MIN_HEALTHY_PERCENT,
                                               1 if is_prod else 0, 99),
        # The alarms fire above their threshold (GreaterThanThreshold, components/alarms.py), and neither a share
        # of requests nor CPUUtilization exceeds 100 %: a threshold of 100 could never fire.
        alarm_fault_rate_percent=cfg.number("alarmFaultRatePercent", defaults.ALARM_FAULT_RATE_PERCENT, 0, 100,
                                            low_inclusive=False, high_inclusive=False),
        alarm_latency_p50_ms=cfg.integer("alarmLatencyP50Ms", defaults.ALARM_LATENCY_P50_MS, 1, 60_000),
        alarm_latency_p99_ms=cfg.integer("alarmLatencyP99Ms", defaults.ALARM_LATENCY_P99_MS, 1, 60_000),
        alarm_cpu_percent=cfg.integer("alarmCpuPercent", defaults.ALARM_CPU_PERCENT, 1, 99),
        alarm_evaluation_minutes=cfg.integer("alarmEvaluationMinutes", defaults.ALARM_EVALUATION_MINUTES, 1, 60),
        # The bake runs inside the last wave's AfterAllowTraffic hook, and AWS caps a hook at 60 minutes.
        bake_minutes=cfg.integer("bakeMinutes", defaults.BAKE_MINUTES, 1, MAX_BAKE_MINUTES),
        # Prod waits for a manual approval before it deploys; dev and staging do not.
        approval_required=cfg.boolean("approvalRequired", defaults.APPROVAL_REQUIRED if is_prod else False),
        notification_email=cfg.string("notificationEmail", _EMAIL, "an email address"),
        vpc_id=cfg.string("vpcId", _VPC_ID, "a VPC id such as vpc-0123abcd, or unset to create a VPC"),
        subnet_ids=cfg.string_list("subnetIds", _SUBNET_ID, "subnet ids such as [\"subnet-0123abcd\", ...]"),
        certificate_arn=cfg.string("certificateArn", _CERTIFICATE_ARN, "an ACM certificate ARN"),
        keep_images=cfg.integer("keepImages", defaults.KEEP_IMAGES, 1, 1000),
        artifact_retention_days=cfg.integer("artifactRetentionDays", defaults.ARTIFACT_RETENTION_DAYS, 1, 3650),
        log_retention_days=cfg.choice("logRetentionDays", LOG_RETENTION_DAYS, defaults.LOG_RETENTION_DAYS),
        build_timeout_minutes=cfg.integer("buildTimeoutMinutes", defaults.BUILD_TIMEOUT_MINUTES, 5, 480),
        build_image=cfg.string("buildImage", _BUILD_IMAGE,
                               "a pinned CodeBuild image such as aws/codebuild/amazonlinux-x86_64-standard:5.0 "
                               "or an image by @sha256 digest",
                               default=defaults.BUILD_IMAGE),
        app_port=cfg.integer("appPort", defaults.APP_PORT, 1024, 65535),
        drill_failure_rate=cfg.number("drillFailureRate", defaults.DRILL_FAILURE_RATE, 0, 1),
        allow_drill_in_prod=cfg.boolean("allowDrillInProd", defaults.ALLOW_DRILL_IN_PROD),
        execution_mode=cfg.choice("pipelineExecutionMode", EXECUTION_MODES, defaults.EXECUTION_MODE),
        promote_from=promote_from,
        promote_to_accounts=cfg.string_list("promoteToAccounts", _ACCOUNT_ID, "12-digit AWS account ids"),
    )
    _check_combinations(cfg, settings)
    return settings


def _refuse_build_keys(cfg: _Reader, promote_from: str) -> None:
    """A promoted stack deploys what its upstream built and baked: a build setting would do nothing."""
    for key in BUILD_ONLY_KEYS:
        if cfg.raw(key) is not None:
            raise SettingsError(f"config `{PROJECT}:{key}` has no effect in a stack that takes its releases from "
                                f"`{promote_from}` (`{PROJECT}:promoteFrom`): it builds nothing; remove the key, or "
                                "set it on the upstream stack")


def _check_combinations(cfg: _Reader, s: Settings) -> None:
    """Rules that span keys."""
    architecture = instance_architecture(s.instance_type)
    if architecture == "unknown":
        raise cfg.fail("instanceType", "an EC2 instance type such as t3.small", s.instance_type)
    if architecture != AMI_ARCHITECTURE:
        kind = ("a Mac one, which runs macOS" if architecture.endswith("_mac") else
                f"an {architecture} AWS Graviton one (a `g` after the generation, or the a1 series)")
        raise cfg.fail("instanceType", f"an {AMI_ARCHITECTURE} instance type for the Amazon Linux 2023 "
                                       f"{AMI_ARCHITECTURE} AMI, not {kind}", s.instance_type)
    # ACM, "Supported Regions" (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html): "Certificates in
    # ACM are regional resources. To use a certificate with Elastic Load Balancing for the same fully qualified
    # domain name (FQDN) or set of FQDNs in more than one AWS region, you must request or import a certificate for
    # each region. ... You cannot copy a certificate between regions."
    certificate_region = s.certificate_arn.split(":")[3] if s.certificate_arn else s.region
    if certificate_region != s.region:
        raise SettingsError(f"config `{PROJECT}:certificateArn` must be an ACM certificate in the stack's region "
                            f"{s.region} (an ALB uses certificates from its own region only), not one from "
                            f"{certificate_region}")
    # The last wave's bake is the only watch after the last zone: an alarm must be able to fire inside it, with the
    # same margin for metrics to arrive as between zones (zone_monitor_minutes).
    if s.alarm_evaluation_minutes + METRIC_DELAY_MINUTES > s.bake_minutes:
        if s.bake_minutes - METRIC_DELAY_MINUTES < 1:
            raise cfg.fail("bakeMinutes", f"at least alarmEvaluationMinutes + {METRIC_DELAY_MINUTES} = "
                                          f"{s.alarm_evaluation_minutes + METRIC_DELAY_MINUTES}, so the alarms can "
                                          "fire before the bake ends", s.bake_minutes)
        raise cfg.fail("alarmEvaluationMinutes", f"at most bakeMinutes - {METRIC_DELAY_MINUTES} = "
                                                 f"{s.bake_minutes - METRIC_DELAY_MINUTES}, so the alarms can fire "
                                                 f"within the {s.bake_minutes}-minute bake", s.alarm_evaluation_minutes)
    if s.is_prod and s.drill_failure_rate > 0 and not s.allow_drill_in_prod:
        raise cfg.fail("drillFailureRate", f"0 in prod, where the drill fails real requests, unless "
                                           f"`{PROJECT}:allowDrillInProd` is true", s.drill_failure_rate)
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


def instance_architecture(instance_type: str) -> str:
    """The processor architecture of an EC2 instance type, from its name (see _INSTANCE_FAMILY): "x86_64",
    "arm64" (AWS Graviton), "x86_64_mac" or "arm64_mac" (Mac instances, macOS only), or "unknown" for a name that
    does not follow the convention. A test checks it against every instance type in EC2's DescribeInstanceTypes
    answer (ProcessorInfo.SupportedArchitectures)."""
    family = instance_type.split(".", 1)[0]
    if family.startswith("mac"):
        return "x86_64_mac" if family == "mac1" else "arm64_mac"
    if family.startswith("u-"):  # the first High Memory types (u-6tb1): Intel
        return "x86_64"
    match = _INSTANCE_FAMILY.match(family)
    if not match:
        return "unknown"
    # A `g` in a suffix: p6e-gb200's NVIDIA Grace CPU is Arm too (not in EC2's list the test reads, so unchecked).
    arm = match["series"] == "a" or "g" in match["options"] or "g" in (match["suffix"] or "")
    return "arm64" if arm else "x86_64"


def _check_keys(keys: Iterable[str]) -> None:
    """A key in the project's namespace that the program does not read is a mistake (most often a typo, which
    would leave its setting at the default): refused, with the closest known key."""
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace != PROJECT or name in KNOWN_KEYS:
            continue
        lowered = {known.lower(): known for known in KNOWN_KEYS}
        if name.lower() == "region":
            closest = ["aws:region"]
        else:
            closest = [f"{PROJECT}:{lowered[match]}"
                       for match in difflib.get_close_matches(name.lower(), lowered, n=1, cutoff=0.6)]
        if closest:
            raise SettingsError(f"config `{key}` is not a setting of this program; did you mean `{closest[0]}`?")
        raise SettingsError(f"config `{key}` is not a setting of this program (the README's config reference lists "
                            "them)")


def engine_config() -> dict[str, Any]:
    """Every config key and value the engine passed to this program.

    The Python SDK has no public call for this (pulumi.Config reads one key at a time), so this is the one place that
    reads SDK internals, the same two places pulumi.runtime.config.get_config reads: the language host passes the
    stack's config as JSON in the PULUMI_CONFIG environment variable (pulumi-language-python, constructConfig),
    parsed by pulumi.runtime.config.get_config_env(); the Automation API's inline programs set it in process with
    set_all_config, which fills the pulumi.runtime.config.CONFIG context variable. tests/components/test_settings.py
    pins both, so an SDK change fails the suite rather than silently skipping the unknown-key check."""
    from pulumi.runtime import config as runtime_config

    try:
        return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    except AttributeError as error:
        raise SettingsError(f"cannot list the stack's config keys with this Pulumi SDK ({error}); "
                            "components/settings.py engine_config must follow the SDK") from None


def load_settings() -> Settings:
    """Reads the running stack's config."""
    return parse_settings(pulumi.Config(PROJECT).get, pulumi.Config("aws").get, pulumi.get_stack(),
                          list(engine_config()), project_name=pulumi.get_project())
