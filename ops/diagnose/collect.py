"""The AWS reads behind `ops diagnose`. Each read is chosen to answer one question in as few calls as the APIs
allow: the newest page of executions only, the failing execution's actions in one list, batch reads for builds
and deployment targets, alarms by name, and alarm history only for alarms that changed inside the window.

Reads the verdict cannot do without (the pipeline, its executions, its actions) raise OpsError with exit code 2
when refused; the others record a gap (naming the missing permission) and the diagnosis goes on without them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from ops.aws import AwsError, client, default_session, explain
from ops.errors import OpsError

NEWEST_EXECUTIONS = 10  # enough to skip the automatic rollback executions that follow a failed one
MAX_FAILED_TARGETS = 100  # failed instances read in detail; the counts come from the deployment overview
TARGETS_PER_BATCH = 25  # BatchGetDeploymentTargets accepts at most 25 ids
ALARMS_PER_CALL = 100  # DescribeAlarms accepts at most 100 names
HISTORY_ITEMS = 20
MAX_LOG_PAGES = 5  # GetLogEvents pages read backwards for the log tail (a page may come back empty)
ALARM_TYPES = {"metric": "MetricAlarm", "composite": "CompositeAlarm"}  # our label -> CloudWatch's AlarmType
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
FAILED_PHASE = {"FAILED", "FAULT", "TIMED_OUT", "STOPPED"}  # CodeBuild phase statuses that are not a success


@dataclass
class Handles:
    """What to look at. `pipeline` is required; the rest narrow or extend what the pipeline itself declares."""

    pipeline: str
    stack: str | None = None
    application: str | None = None
    deployment_group: str | None = None
    alarms: list[str] = field(default_factory=list)
    log_lines: int = 50
    dashboard_url: str | None = None  # the stack output dashboardUrl, shown with the diagnosis (older stacks: none)


@dataclass
class Findings:
    """Everything read, raw as the APIs return it (botocore shapes), for classify.py to judge."""

    pipeline: dict
    latest: dict | None = None
    rollback: dict | None = None
    last_success: dict | None = None
    actions: list[dict] = field(default_factory=list)
    failed_action: dict | None = None
    running_action: dict | None = None
    failed_stage_state: dict | None = None
    build: dict | None = None
    log_lines: list[str] = field(default_factory=list)
    deployment: dict | None = None
    rollback_deployment: dict | None = None
    failed_targets: list[dict] = field(default_factory=list)
    connection: dict | None = None
    alarms: list[dict] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None
    image_digest: str | None = None
    last_success_image_digest: str | None = None
    targets_unread: str | None = None  # why the failed instances could not be read (a gap), if they could not
    gaps: list[str] = field(default_factory=list)


class Denied(Exception):
    """AWS refused a read; `permission` is the IAM action that was missing."""

    def __init__(self, permission: str, message: str):
        super().__init__(message)
        self.permission = permission


class AwsFault(OpsError):
    """A service fault other than a refusal; `code` is AWS's error code (PipelineNotFoundException, ...)."""

    def __init__(self, message: str, code: str):
        super().__init__(message, 2)
        self.code = code


class Aws:
    """One client per service, created on first use through `factory` (ops.aws.client by default)."""

    def __init__(self, factory: Callable | None = None):
        # One session for every client: it loads the shared botocore data once (a third of the start-up time).
        # Made on first use, so a profile that does not exist is reported like any other AWS fault.
        self._factory = factory or (lambda service: client(service, session=self._session()))
        self._clients: dict[str, object] = {}
        self._shared_session = None

    def _session(self):
        self._shared_session = self._shared_session or default_session()
        return self._shared_session

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    def call(self, service: str, method: str, **params) -> dict:
        """One API call; refusals become Denied, other service faults OpsError (exit 2) with AWS's own words."""
        with self._faults(service):
            return getattr(self.client(service), method)(**params)

    def pages(self, service: str, method: str, **params):
        """The pages of a paginated call, one at a time (the caller stops reading when it has enough)."""
        with self._faults(service):
            yield from self.client(service).get_paginator(method).paginate(**params)

    @contextlib.contextmanager
    def _faults(self, service: str):
        try:
            yield
        except (ClientError, BotoCoreError) as error:
            made = self._clients.get(service)
            raise _judged(explain(error, service, made.meta.region_name if made else None)) from error


def _judged(failure: AwsError) -> Exception:
    """What a failed read means here: a refusal (Denied: a gap naming the permission, or exit 2 for a read the
    verdict needs), a fault the diagnosis can go on without (AwsFault: AWS answered, or still failed with 5xx after
    the retries), or the end of the command (the AwsError itself: still throttled, unreachable, no answer in time,
    no region, credentials or profile)."""
    if failure.permission:
        return Denied(failure.permission, failure.said)
    if failure.code is not None and not failure.throttled:
        return AwsFault(str(failure), failure.code)
    return failure


def collect(aws: Aws, handles: Handles, now: datetime | None = None) -> Findings:
    now = now or datetime.now(UTC)
    try:
        pipeline = aws.call("codepipeline", "get_pipeline", name=handles.pipeline)["pipeline"]
    except AwsFault as fault:
        if fault.code == "PipelineNotFoundException":
            raise OpsError(f"pipeline `{handles.pipeline}` was not found in this account and region") from fault
        raise
    findings = Findings(pipeline=pipeline)
    _read_executions(aws, handles, findings)
    if findings.latest is None or findings.latest["status"] == "Succeeded":
        return findings
    findings.actions = _action_executions(aws, handles.pipeline, findings.latest["pipelineExecutionId"])
    findings.failed_action = _newest(findings.actions, "Failed")
    findings.running_action = _newest(findings.actions, "InProgress")
    findings.image_digest = _image_digest(findings.actions, findings.build)
    _optional(findings, _read_failure, aws, handles, findings, now)
    if findings.last_success:
        _optional(findings, _read_last_success_digest, aws, handles, findings)
    return findings


def _optional(findings: Findings, read: Callable, *args) -> str | None:
    """Runs a read the verdict can do without; a refusal or a fault is recorded as a gap (naming the permission),
    and returned (None when the read went through)."""
    try:
        read(*args)
    except Denied as denied:
        reason = f"missing permission {denied.permission}"
    except AwsFault as fault:  # e.g. a build or deployment AWS no longer keeps
        reason = str(fault)
    else:
        return None
    findings.gaps.append(f"could not read everything: {reason}")
    return reason


def _read_executions(aws: Aws, handles: Handles, findings: Findings) -> None:
    newest = aws.call(
        "codepipeline", "list_pipeline_executions", pipelineName=handles.pipeline, maxResults=NEWEST_EXECUTIONS
    )["pipelineExecutionSummaries"]
    if not newest:
        return
    standard = [e for e in newest if e.get("executionType", "STANDARD") != "ROLLBACK"]
    findings.latest = standard[0] if standard else newest[0]
    if newest[0] is not findings.latest:
        findings.rollback = newest[0]
    if findings.latest["status"] == "Succeeded":
        findings.last_success = findings.latest
        return
    findings.last_success = _last_success(aws, handles.pipeline, findings.pipeline)


def _last_success(aws: Aws, pipeline_name: str, pipeline: dict) -> dict | None:
    """The newest execution that got through the last stage: one filtered call instead of paging history."""
    stages = pipeline.get("stages", [])
    if not stages:
        return None
    succeeded = aws.call(
        "codepipeline",
        "list_pipeline_executions",
        pipelineName=pipeline_name,
        maxResults=NEWEST_EXECUTIONS,
        filter={"succeededInStage": {"stageName": stages[-1]["name"]}},
    )["pipelineExecutionSummaries"]
    good = [e for e in succeeded if e["status"] == "Succeeded"]
    standard = [e for e in good if e.get("executionType", "STANDARD") != "ROLLBACK"]
    return (standard or good or [None])[0]


def _action_executions(aws: Aws, pipeline_name: str, execution_id: str) -> list[dict]:
    details: list[dict] = []
    for page in aws.pages(
        "codepipeline",
        "list_action_executions",
        pipelineName=pipeline_name,
        filter={"pipelineExecutionId": execution_id},
    ):
        details.extend(page.get("actionExecutionDetails", []))
    return details


def _newest(actions: list[dict], status: str) -> dict | None:
    matching = [a for a in actions if a.get("status") == status]
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(matching, key=lambda a: a.get("lastUpdateTime") or a.get("startTime") or epoch, default=None)


def provider_of(action: dict) -> tuple[str, str]:
    """(category, provider) from the action type that ran, never from the action's name."""
    type_id = action.get("input", {}).get("actionTypeId", {})
    return type_id.get("category", ""), type_id.get("provider", "")


def external_id(action: dict) -> str | None:
    return action.get("output", {}).get("executionResult", {}).get("externalExecutionId")


def _read_failure(aws: Aws, handles: Handles, findings: Findings, now: datetime) -> None:
    """What the failed action's provider knows; a running action needs nothing more than its own detail."""
    action = findings.failed_action
    if action is None:
        if findings.latest["status"] == "Failed":
            _read_failed_stage(aws, handles, findings, now)
        return
    category, provider = provider_of(action)
    if provider == "CodeBuild" and external_id(action):
        _read_build(aws, handles, findings, external_id(action))
    elif provider == "CodeDeploy":
        _read_deployment(aws, handles, findings, action, now)
    elif category == "Source":
        _read_connection(aws, findings, action)


def _read_build(aws: Aws, handles: Handles, findings: Findings, build_id: str) -> None:
    builds = aws.call("codebuild", "batch_get_builds", ids=[build_id]).get("builds", [])
    if not builds:
        findings.gaps.append(f"build {build_id} is no longer available in CodeBuild")
        return
    findings.build = builds[0]
    findings.image_digest = findings.image_digest or _image_digest([], findings.build)
    logs = findings.build.get("logs", {})
    if logs.get("groupName") and logs.get("streamName"):
        _optional(findings, _read_log_tail, aws, handles, findings, logs["groupName"], logs["streamName"])


def _read_log_tail(aws: Aws, handles: Handles, findings: Findings, group: str, stream: str) -> None:
    """The last lines of the stream, read backwards from its end. GetLogEvents may answer with a partly full or
    even empty page before the stream's start, so follow nextBackwardToken until there are enough lines or the
    token stops changing (the start was reached)."""
    lines: list[str] = []
    token = None
    for _ in range(MAX_LOG_PAGES):
        page = aws.call(
            "logs", "get_log_events", logGroupName=group, logStreamName=stream, limit=handles.log_lines,
            startFromHead=False, **({"nextToken": token} if token else {}),
        )
        events = page.get("events", [])
        lines = [line for e in events for line in e.get("message", "").rstrip("\n").splitlines()] + lines
        if len(lines) >= handles.log_lines or page.get("nextBackwardToken") in (None, token):
            break
        token = page["nextBackwardToken"]
    findings.log_lines = lines[-handles.log_lines :]


def _read_deployment(aws: Aws, handles: Handles, findings: Findings, action: dict, now: datetime) -> None:
    deployment_id = external_id(action)
    if deployment_id:
        findings.deployment = aws.call("codedeploy", "get_deployment", deploymentId=deployment_id)["deploymentInfo"]
        findings.targets_unread = _optional(findings, _read_failed_targets, aws, findings, deployment_id)
        rollback_id = (findings.deployment.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if rollback_id:  # CodeDeploy's own automatic rollback: did it finish?
            _optional(findings, _read_rollback_deployment, aws, findings, rollback_id)
        started = findings.deployment.get("startTime") or findings.deployment.get("createTime")
        ended = findings.deployment.get("completeTime") or now
    else:
        started, ended = action.get("startTime"), action.get("lastUpdateTime") or now
    if started:
        findings.window = (started, ended)
    configuration = action.get("input", {}).get("configuration", {})
    application = handles.application or (findings.deployment or {}).get("applicationName") or configuration.get(
        "ApplicationName"
    )
    group = handles.deployment_group or (findings.deployment or {}).get("deploymentGroupName") or configuration.get(
        "DeploymentGroupName"
    )
    names = list(handles.alarms) + _condition_alarms(findings.pipeline, action.get("stageName"))
    if application and group:
        try:
            info = aws.call(
                "codedeploy", "get_deployment_group", applicationName=application, deploymentGroupName=group
            )["deploymentGroupInfo"]
            names += [a["name"] for a in info.get("alarmConfiguration", {}).get("alarms", [])]
        except Denied as denied:
            findings.gaps.append(f"could not read the deployment group's alarms: missing {denied.permission}")
        except AwsFault as fault:  # e.g. a --deployment-group that does not exist: the other alarms still count
            findings.gaps.append(f"could not read the deployment group's alarms: {fault}")
    _optional(findings, _read_alarms, aws, findings, names)


def _read_rollback_deployment(aws: Aws, findings: Findings, deployment_id: str) -> None:
    findings.rollback_deployment = aws.call("codedeploy", "get_deployment", deploymentId=deployment_id)[
        "deploymentInfo"]


def _read_failed_targets(aws: Aws, findings: Findings, deployment_id: str) -> None:
    target_ids: list[str] = []
    for page in aws.pages(
        "codedeploy", "list_deployment_targets", deploymentId=deployment_id, targetFilters={"TargetStatus": ["Failed"]}
    ):
        target_ids.extend(page.get("targetIds", []))
        if len(target_ids) >= MAX_FAILED_TARGETS:
            break
    target_ids = target_ids[:MAX_FAILED_TARGETS]
    for start in range(0, len(target_ids), TARGETS_PER_BATCH):
        batch = aws.call(
            "codedeploy",
            "batch_get_deployment_targets",
            deploymentId=deployment_id,
            targetIds=target_ids[start : start + TARGETS_PER_BATCH],
        )
        for target in batch.get("deploymentTargets", []):
            instance = target.get("instanceTarget") or {}
            if instance:
                findings.failed_targets.append(instance)


def _condition_alarms(pipeline: dict, stage_name: str | None) -> list[str]:
    """Alarms named by the stage's CloudWatchAlarm condition rules (the bake watch), as the pipeline declares."""
    names: list[str] = []
    for stage in pipeline.get("stages", []):
        if stage_name and stage["name"] != stage_name:
            continue
        for kind in ("onSuccess", "onFailure", "beforeEntry"):
            for condition in stage.get(kind, {}).get("conditions", []):
                for rule in condition.get("rules", []):
                    if rule.get("ruleTypeId", {}).get("provider") == "CloudWatchAlarm":
                        alarm = rule.get("configuration", {}).get("AlarmName", "")
                        names += [n.strip() for n in alarm.split(",") if n.strip()]
    return names


def _read_alarms(aws: Aws, findings: Findings, names: list[str]) -> None:
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        return
    alarms: list[dict] = []
    for start in range(0, len(names), ALARMS_PER_CALL):
        # Paged: DescribeAlarms returns at most MaxRecords (default 50) alarms a page, fewer than 100 names.
        for answer in aws.pages(
            "cloudwatch",
            "describe_alarms",
            AlarmNames=names[start : start + ALARMS_PER_CALL],
            AlarmTypes=list(ALARM_TYPES.values()),
        ):
            for kind, alarm_type in (("MetricAlarms", "metric"), ("CompositeAlarms", "composite")):
                alarms += [_alarm(a, alarm_type) for a in answer.get(kind, [])]
    alarms.sort(key=lambda a: names.index(a["name"]) if a["name"] in names else len(names))
    window = findings.window
    for alarm in alarms:
        # An alarm whose state last changed before the window opened held that state through it: no history read.
        if window and alarm["updated_at"] and alarm["updated_at"] >= window[0] - timedelta(minutes=1):
            alarm["transitions"] = _alarm_transitions(aws, alarm, window)
    findings.alarms = alarms


def _alarm(raw: dict, alarm_type: str) -> dict:
    return {
        "name": raw["AlarmName"],
        "type": alarm_type,
        "state": raw.get("StateValue", "INSUFFICIENT_DATA"),
        "reason": raw.get("StateReason", ""),
        "updated_at": raw.get("StateUpdatedTimestamp"),
        "transitions": [],
    }


def _alarm_transitions(aws: Aws, alarm: dict, window: tuple[datetime, datetime]) -> list[dict]:
    items = aws.call(
        "cloudwatch",
        "describe_alarm_history",
        AlarmName=alarm["name"],
        AlarmTypes=[ALARM_TYPES[alarm["type"]]],  # without it, AWS returns metric alarms' history only
        HistoryItemType="StateUpdate",
        StartDate=window[0] - timedelta(minutes=1),
        EndDate=window[1] + timedelta(minutes=1),
        MaxRecords=HISTORY_ITEMS,
        ScanBy="TimestampDescending",
    ).get("AlarmHistoryItems", [])
    return [
        {"at": item["Timestamp"], "summary": item.get("HistorySummary", ""), "data": item.get("HistoryData", "")}
        for item in items
    ]


def _read_failed_stage(aws: Aws, handles: Handles, findings: Findings, now: datetime) -> None:
    """No action failed yet the execution did: a stage condition (the bake's alarm watch) failed it."""
    execution_id = findings.latest["pipelineExecutionId"]
    state = aws.call("codepipeline", "get_pipeline_state", name=handles.pipeline)
    for stage in state.get("stageStates", []):
        latest = stage.get("latestExecution", {})
        if latest.get("pipelineExecutionId") == execution_id and latest.get("status") == "Failed":
            findings.failed_stage_state = stage
            break
    stage_name = (findings.failed_stage_state or {}).get("stageName")
    in_stage = [a for a in findings.actions if a.get("stageName") == stage_name]
    started = min((a["startTime"] for a in in_stage if a.get("startTime")), default=findings.latest.get("startTime"))
    ended = findings.latest.get("lastUpdateTime") or now
    if started:
        findings.window = (started, ended)
    names = list(handles.alarms) + _condition_alarms(findings.pipeline, stage_name)
    _optional(findings, _read_alarms, aws, findings, names)


def _read_connection(aws: Aws, findings: Findings, action: dict) -> None:
    arn = action.get("input", {}).get("configuration", {}).get("ConnectionArn")
    if not arn:
        return
    # The ARN says which API owns the connection: arn:aws:codeconnections:... or arn:aws:codestar-connections:...
    service = "codestar-connections" if ":codestar-connections:" in arn else "codeconnections"
    try:
        findings.connection = aws.call(service, "get_connection", ConnectionArn=arn)["Connection"]
    except Denied as denied:
        findings.gaps.append(f"could not read the source connection: missing permission {denied.permission}")


def _read_last_success_digest(aws: Aws, handles: Handles, findings: Findings) -> None:
    actions = _action_executions(aws, handles.pipeline, findings.last_success["pipelineExecutionId"])
    findings.last_success_image_digest = _image_digest(actions, None)


def _image_digest(actions: list[dict], build: dict | None) -> str | None:
    """The image digest, when the build exported it (as a pipeline output variable or a build variable)."""
    values: list[str] = []
    for action in actions:
        values += [str(v) for v in (action.get("output", {}).get("outputVariables") or {}).values()]
    if build:
        values += [v.get("value", "") for v in build.get("exportedEnvironmentVariables", [])]
    for value in values:
        found = DIGEST.search(value)
        if found:
            return found.group(0)
    return None
