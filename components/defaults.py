"""The one source of the stack's defaults: what a setting is when its config key is unset (components/settings.py)
and what a component's Args field is when its caller leaves it out (the Args classes in components/).

Change a default here only; tests/components/test_defaults.py pins each one against the settings, the Args fields
and the README's config reference, side by side. Defaults are the safe, prod-grade ones. A default that depends on
the environment keeps that logic in settings.py; its value here is the prod one, which the Args classes use too.
Defaults that belong to one component alone, with no config key (ReleaseStoreArgs.history_days,
ReleasePublisherArgs.timeout_minutes, ...), stay in that component.
"""

from __future__ import annotations

# A stack not named dev, staging or prod is treated as prod: the side with every safeguard on.
ENVIRONMENT = "prod"
APP_NAME = "app"
GITHUB_BRANCH = "main"
# x86_64 to match the fleet's Amazon Linux 2023 x86_64 AMI (components/fleet.py AMI_PARAMETER).
INSTANCE_TYPE = "t3.small"
# With MIN_HEALTHY_PERCENT: CodeDeploy keeps 2 of 3 serving (it rounds up) and replaces a third of the fleet at a time.
FLEET_SIZE = 3
MIN_HEALTHY_PERCENT = 66  # of FLEET_SIZE, leaves exactly one instance to replace per wave (0 would be all at once)
ALARM_FAULT_RATE_PERCENT = 1.0  # target 5xx share of requests; the alarm fires above it
ALARM_LATENCY_P50_MS = 300
ALARM_LATENCY_P99_MS = 1500
ALARM_CPU_PERCENT = 80
ALARM_EVALUATION_MINUTES = 3  # consecutive breaching minutes: at most BAKE_MINUTES - 2 (settings.METRIC_DELAY_MINUTES)
# What CodeDeploy watches after each zone with the defaults: Settings.zone_monitor_minutes, the alarms' window plus
# settings.METRIC_DELAY_MINUTES (2) for metrics to arrive.
ZONE_MONITOR_MINUTES = ALARM_EVALUATION_MINUTES + 2
# A limit, not a default: the bake runs inside the AfterAllowTraffic hook, which AWS stops at 3600 s.
MAX_BAKE_MINUTES = 55
BAKE_MINUTES = 30
# Prod's value; settings.py makes it false outside prod. The Args default is this prod-safe one.
APPROVAL_REQUIRED = True
KEEP_IMAGES = 30  # release images kept in ECR: the rollback targets of this stack and of the stacks promoted from it
ARTIFACT_RETENTION_DAYS = 90  # noncurrent pipeline artifacts only; current ones never expire
LOG_RETENTION_DAYS = 30  # must be one CloudWatch Logs accepts (settings.LOG_RETENTION_DAYS lists them)
BUILD_TIMEOUT_MINUTES = 30
# Pinned (never `latest`): the same image builds and publishes; Amazon Linux 2023 x86_64, like the fleet.
BUILD_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
APP_PORT = 8080  # 1024 or above: the app runs unprivileged
DRILL_FAILURE_RATE = 0.0  # the rollback drill is off
ALLOW_DRILL_IN_PROD = False
# A newer run replaces one waiting at a stage; QUEUED is the other allowed mode (PARALLEL disables stage rollback).
EXECUTION_MODE = "SUPERSEDED"
