"""Judging what collect.py read: the status, a one-line verdict, the cause class, which alarms fired, what the
rollback did, and so the next step. Pure functions over botocore-shaped data, so each rule can be read (and tested)
on its own. How what was read is shown (the document's views, the evidence items) is views.py; the wording of the
cause classes and of the next step is advice.py."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ops.aws import NOT_AUTHORIZED
from ops.diagnose import views
from ops.diagnose.advice import next_step, title
from ops.diagnose.collect import FAILED_PHASE, Findings, Handles, external_id, provider_of
from ops.diagnose.views import evidence, short, when

FAILED_COMMAND = re.compile(r"Error while executing command: (.+?)\. Reason: exit status (\d+)", re.S)
TAG_EXISTS = re.compile(
    r"tag invalid|already exists.*immutable|cannot be overwritten because the repository is immutable"
)
ECR_DENIED = re.compile(r"not authorized to perform:?\s+(ecr:\w+)|denied: requested access|no basic auth credentials")
CONTRACT = re.compile(r"breaking change|contract check failed", re.I)
TESTS_FAILED = re.compile(r"^FAILED |\b\d+ failed\b|^ERROR tests/", re.M)
INSTALL_FAILED = re.compile(
    r"No matching distribution found|Could not find a version that satisfies|ResolutionImpossible|npm ERR!"
)
IMAGE_BUILD = re.compile(
    r"failed to solve|error building image|returned a non-zero code|Cannot connect to the Docker daemon"
)
STREAM_PREFIX = re.compile(r"^\s*(?:LifecycleEvent - \w+\s*)?(?:Script - \S+\s*)?\[(?:stdout|stderr)\]")
IAM_SERVICE = re.compile(r"permission to perform operations in the following AWS service: (\w+)")
SCRIPT_CODES = {"ScriptFailed", "ScriptTimedOut", "ScriptMissing", "ScriptNotExecutable"}
PERMISSION_CODES = {"IAM_ROLE_PERMISSIONS", "IAM_ROLE_MISSING", "AUTO_SCALING_IAM_ROLE_PERMISSIONS"}
# The bake runs in the last wave's AfterAllowTraffic hook (app/hooks/after_allow_traffic.sh); AfterAllowTraffic
# runs "after they are registered with a load balancer":
# https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
BAKE_HOOK = "AfterAllowTraffic"
# Statuses of a deployment (DeploymentStatus) and of an execution (PipelineExecutionStatus) that have not ended.
RUNNING_DEPLOYMENT = {"Created", "Queued", "InProgress", "Baking", "Ready"}
RUNNING_EXECUTION = {"InProgress", "Stopping"}


@dataclass
class Cause:
    name: str
    detail: str | None = None
    raw_error: str | None = None


@dataclass(frozen=True)
class Rollback:
    """What the evidence says about the rollback of the failed change: who owns it (codedeploy, pipeline, or ""
    when none is recorded), its id, its state (succeeded, running, failed, unread, none) and AWS's own status."""

    owner: str = ""
    id: str | None = None
    state: str = "none"
    status: str | None = None


@dataclass
class Diagnosis:
    pipeline: str
    status: str  # healthy | failing | never_run | in_progress | unknown
    verdict: str
    cause: Cause | None = None
    stage: str | None = None
    action: dict | None = None
    execution: dict | None = None
    last_success: dict | None = None
    evidence: list[dict] = field(default_factory=list)
    alarms: list[dict] = field(default_factory=list)
    changes: dict | None = None
    next_step: str = ""
    gaps: list[str] = field(default_factory=list)
    dashboard_url: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failing" else 0


def diagnose(findings: Findings, handles: Handles) -> Diagnosis:
    latest = findings.latest
    result = Diagnosis(pipeline=handles.pipeline, status="unknown", verdict="", gaps=list(findings.gaps),
                       dashboard_url=handles.dashboard_url)
    if latest is None:
        result.status, result.verdict = "never_run", f"Pipeline {handles.pipeline} has never run"
        result.next_step = f"Release a change: aws codepipeline start-pipeline-execution --name {handles.pipeline}"
        return result
    result.execution = views.execution(latest)
    result.last_success = views.execution(findings.last_success) if findings.last_success else None
    result.changes = views.changes(findings)
    result.alarms = [_alarm(a, findings.window) for a in findings.alarms]
    status = latest["status"]
    if status == "Succeeded":
        result.status = "healthy"
        result.verdict = f"Latest execution succeeded ({views.revision_line(result.execution)})"
        result.next_step = "Nothing to do"
    elif status in ("InProgress", "Stopping"):
        _judge_running(findings, result)
    else:
        result.status = "failing"
        _judge_failure(findings, result)
    if result.cause:
        deployment = external_id(findings.failed_action) if _deploys(findings.failed_action) else None
        result.next_step = next_step(result.cause, rollback_of(findings), stack=handles.stack,
                                     pipeline=handles.pipeline, deployment=deployment)
    return result


def rollback_of(findings: Findings) -> Rollback:
    """CodeDeploy owns automatic rollbacks (docs/rollback.md), so its rollback deployment, when the failed deployment
    names one, decides; else a pipeline rollback execution newer than the failure; else none is recorded."""
    rollback_id = ((findings.deployment or {}).get("rollbackInfo") or {}).get("rollbackDeploymentId")
    if rollback_id:
        status = (findings.rollback_deployment or {}).get("status")
        return Rollback("codedeploy", rollback_id, _state(status, RUNNING_DEPLOYMENT), status)
    if findings.deployment is None and _deploys(findings.failed_action) and external_id(findings.failed_action):
        return Rollback("codedeploy", None, "unread")  # the deployment itself could not be read
    if findings.rollback:
        status = findings.rollback.get("status")
        return Rollback("pipeline", findings.rollback["pipelineExecutionId"], _state(status, RUNNING_EXECUTION), status)
    return Rollback()


def _state(status: str | None, running: set[str]) -> str:
    if status is None:
        return "unread"
    if status == "Succeeded":
        return "succeeded"
    return "running" if status in running else "failed"


def _deploys(action: dict | None) -> bool:
    return bool(action) and provider_of(action)[1] == "CodeDeploy"


def _judge_running(findings: Findings, result: Diagnosis) -> None:
    result.status = "in_progress"
    action = findings.running_action
    if action is None:
        result.verdict = f"Execution {result.execution['id']} is in progress"
        result.next_step = "Wait for it to finish, then run diagnose again"
        return
    _locate(action, result)
    category, provider = provider_of(action)
    if category == "Approval":
        result.cause = Cause("approval_pending", detail=action.get("actionName"))
        result.verdict = f"{action['stageName']} waiting: approval {action['actionName']} is pending"
        result.evidence.append(
            evidence("approval", f"waiting for approval since {when(action.get('startTime'))}",
                     custom_data=action.get("input", {}).get("configuration", {}).get("CustomData"))
        )
        return
    result.verdict = f"{action['stageName']} in progress: {action['actionName']} ({provider}) is running"
    result.next_step = "Wait for it to finish, then run diagnose again"


def _judge_failure(findings: Findings, result: Diagnosis) -> None:
    latest = findings.latest
    result.evidence.append(evidence("execution", views.execution_line(latest),
                                    status_summary=latest.get("statusSummary"),
                                    stop_reason=latest.get("stopTrigger", {}).get("reason")))
    action = findings.failed_action
    if findings.rollback:
        rollback = findings.rollback
        result.evidence.append(evidence(
            "rollback", f"pipeline rolled back by execution {rollback['pipelineExecutionId']} ({rollback['status']})",
            trigger=rollback.get("trigger", {}).get("triggerType")))
    if action is None:
        _judge_stage_condition(findings, result)
        return
    _locate(action, result)
    error = action.get("output", {}).get("executionResult", {}).get("errorDetails", {})
    if error:
        result.evidence.append(evidence("action_error", f"{error.get('code', '')}: {error.get('message', '')}".strip()))
    category, provider = provider_of(action)
    stage = action.get("stageName", "")
    if stage in AFTER_DEPLOY_STAGES:
        result.cause, tail = classify_after_deploy(stage, findings, error)
        if findings.build:
            result.evidence += views.build_evidence(findings.build, findings.log_lines)
        result.verdict = f"{stage} failed: {tail}"
    elif provider == "CodeBuild" and findings.build:
        result.cause, tail = classify_build(findings.build, findings.log_lines)
        result.evidence += views.build_evidence(findings.build, findings.log_lines)
        result.verdict = f"{stage} failed: {tail}"
    elif provider == "CodeDeploy" and findings.deployment:
        result.cause, tail = classify_deployment(findings, result)
        result.verdict = f"{stage} failed: {tail}"
    elif category == "Approval":
        who = action.get("updatedBy") or "a reviewer"
        why = action.get("output", {}).get("executionResult", {}).get("externalExecutionSummary") or ""
        result.cause = Cause("approval_rejected", detail=who)
        result.evidence.append(evidence("approval", f"rejected by {who}" + (f": {why}" if why else ""), by=who,
                                        comment=why))
        result.verdict = f"{stage} failed: approval {action['actionName']} rejected by {who}" + (
            f" ({why})" if why else "")
    elif category == "Source":
        result.cause, tail = classify_source(findings.connection, error)
        if findings.connection:
            c = findings.connection
            result.evidence.append(evidence("connection", f"connection {c.get('ConnectionName')} is "
                                            f"{c.get('ConnectionStatus')}", arn=c.get("ConnectionArn"),
                                            provider=c.get("ProviderType")))
        result.verdict = f"{stage} failed: {tail}"
    else:
        result.cause = _from_error_details(error)
        result.verdict = f"{stage} failed: {action['actionName']} ({provider}): {short(error.get('message'))}"


# The stages this program's pipelines run only after the deploy, bake included, succeeded (components/pipeline.py):
# a failure there leaves the stack running the new release, and only the promotion or its record undone.
AFTER_DEPLOY_STAGES = {"Publish": "release_not_published", "Record": "live_record_not_written"}
PUBLISHER_VERDICT = re.compile(r"^(?:refused|error): .+$")


def classify_after_deploy(stage: str, findings: Findings, error: dict) -> tuple[Cause, str]:
    """Why the release was not published (the publisher's own line, or the S3 write's error), or its record not
    written."""
    line = next((text for text in reversed(findings.log_lines) if PUBLISHER_VERDICT.match(text.strip())), None)
    detail = (line.strip() if line else None) or short(error.get("message")) or "see the action's error"
    name = AFTER_DEPLOY_STAGES[stage]
    what = ("the release baked here but was not published" if name == "release_not_published"
            else "the release runs here but its live record was not written")
    return Cause(name, detail=detail), f"{what}: {detail}"


def _from_error_details(error: dict) -> Cause:
    message = error.get("message", "")
    denied = NOT_AUTHORIZED.search(message)
    if denied:
        return Cause("missing_permissions", detail=denied.group(1))
    return Cause("unknown", raw_error=f"{error.get('code', '')}: {message}".strip(": ") or None)


def classify_build(build: dict, log_lines: list[str]) -> tuple[Cause, str]:
    """The build's failed phase, its failing command and the log tail decide; the most specific sign wins."""
    phase = next((p for p in build.get("phases", []) if p.get("phaseStatus") in FAILED_PHASE), {})
    phase_name = phase.get("phaseType", build.get("currentPhase", ""))
    contexts = " ".join(c.get("message", "") for c in phase.get("contexts", []) if c.get("message"))
    codes = {c.get("statusCode", "") for c in phase.get("contexts", [])}
    failed = FAILED_COMMAND.search(contexts)
    command = failed.group(1) if failed else ""
    logs = "\n".join(log_lines)
    text = f"{contexts}\n{logs}"
    where = f"{phase_name} phase" + (f", `{command}` exited {failed.group(2)}" if failed else "")
    if build.get("buildStatus") == "TIMED_OUT" or phase.get("phaseStatus") == "TIMED_OUT" or "BUILD_TIMED_OUT" in codes:
        return Cause("build_timed_out"), f"build timed out after {build.get('timeoutInMinutes', '?')} minutes " \
                                         f"in the {phase_name} phase"
    if TAG_EXISTS.search(text):
        return Cause("image_tag_exists", detail=_matching_line(log_lines, TAG_EXISTS)), \
            "image tag already exists in the immutable repository"
    ecr = ECR_DENIED.search(text)
    if ecr:
        permission = ecr.group(1) or "ecr push"
        return Cause("image_push_denied", detail=permission), f"image push denied ({permission})"
    denied = NOT_AUTHORIZED.search(text)
    if denied:
        return Cause("missing_permissions", detail=denied.group(1)), f"missing permission {denied.group(1)} ({where})"
    by_command = _build_cause_by_command(command, phase_name)
    by_log = _build_cause_by_log(text)
    name = by_command or by_log
    if name:
        return Cause(name), f"{title(name)} ({where})"
    raw = contexts or f"build {build.get('buildStatus', 'FAILED')} in {phase_name}"
    return Cause("unknown", raw_error=raw), f"build failed ({where})"


def _build_cause_by_command(command: str, phase_name: str) -> str | None:
    lowered = command.lower()
    if "contract" in lowered:
        return "contract_check_failed"
    if any(word in lowered for word in ("pytest", "unittest", "npm test", "go test")):
        return "unit_tests_failed"
    if "docker build" in lowered or "docker buildx" in lowered:
        return "image_build_failed"
    if phase_name == "INSTALL" or any(w in lowered for w in ("pip install", "npm ci", "npm install", "apt-get")):
        return "dependency_install_failed"
    return None


def _build_cause_by_log(text: str) -> str | None:
    for pattern, name in ((CONTRACT, "contract_check_failed"), (TESTS_FAILED, "unit_tests_failed"),
                          (INSTALL_FAILED, "dependency_install_failed"), (IMAGE_BUILD, "image_build_failed")):
        if pattern.search(text):
            return name
    return None


def classify_deployment(findings: Findings, result: Diagnosis) -> tuple[Cause, str]:
    """The deployment's error code, its failed instances and the alarms decide; each rule below says only what
    its evidence shows (an instance failure that could not be read is not taken for a fleet problem)."""
    deployment = findings.deployment
    error = deployment.get("errorInformation", {})
    code, message = error.get("code", ""), error.get("message", "")
    overview = deployment.get("deploymentOverview", {})
    total = sum(overview.get(k, 0) for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"))
    result.evidence += views.deployment_evidence(deployment, findings.rollback_deployment)
    failures, examples = _lifecycle_failures(findings.failed_targets)
    hints = {key: _hint(diagnostics) for key, (_, diagnostics) in examples.items()}
    result.evidence += views.lifecycle_evidence(failures, examples, hints)
    fired = _fired_alarms(result, "fired in the deployment window")
    failed = overview.get("Failed") or len(findings.failed_targets)
    return (_by_alarm(code, message, fired, failures, findings.targets_unread)
            or _by_error_code(code, message)
            or _by_instances(failures, hints, (failed, total), findings.targets_unread, code, message)
            or _by_outcome(code, message, overview.get("Failed", 0), total))


def _fired_alarms(result: Diagnosis, fired_when: str) -> list[dict]:
    fired = [a for a in result.alarms if a["fired_in_window"]]
    for alarm in fired:
        result.evidence.append(evidence("alarm", f"{alarm['name']} {fired_when}: {alarm['reason']}",
                                        name=alarm["name"], state=alarm["state"]))
    return fired


def _by_alarm(code: str, message: str, fired: list[dict], failures: Counter, unread: str | None):
    """ALARM_ACTIVE, or an alarm that fired when nothing else is to blame (not when the instances were unread)."""
    blameless = fired and code not in PERMISSION_CODES and not failures and not unread
    if code != "ALARM_ACTIVE" and not blameless:
        return None
    names = ", ".join(a["name"] for a in fired) or _alarms_in_message(message) or "a deployment alarm"
    during = " during the bake of the last wave" if any(hook == BAKE_HOOK for hook, _ in failures) else ""
    return Cause("stopped_by_alarm", detail=names), f"stopped by alarm {names}{during}"


def _by_error_code(code: str, message: str):
    if code in PERMISSION_CODES:
        denied, service = NOT_AUTHORIZED.search(message), IAM_SERVICE.search(message)
        detail = f"the CodeDeploy role ({code})"
        if service:
            detail = f"{service.group(1)} actions for the CodeDeploy service role"
        if denied:
            detail = denied.group(1)
        return Cause("missing_permissions", detail=detail), f"missing permissions: {detail}"
    if code == "REVISION_MISSING":
        return Cause("revision_missing"), f"revision missing: {short(message)}"
    if code == "AGENT_ISSUE":
        return Cause("agent_not_running"), "the CodeDeploy agent is not running on the instances"
    if code in ("NO_INSTANCES", "HEALTH_CONSTRAINTS_INVALID"):
        return Cause("too_few_healthy_hosts", detail=code), f"too few healthy hosts: {short(message)}"
    return None


def _by_instances(failures: Counter, hints: dict, counts: tuple[int, int], unread: str | None, code: str,
                  message: str):
    """The failed instances' lifecycle events. When they could not be read, only that instances failed is known:
    not which hook, and not that the fleet lacked healthy hosts (a TIMEOUT still says the deployment timed out)."""
    failed, total = counts
    if failures:
        return _cause_from_lifecycle(failures, hints, failed, total)
    if unread and failed and code != "TIMEOUT":
        of = f"{failed} of {total} instances" if total else f"{failed} instance(s)"
        return Cause("unknown", detail=unread, raw_error=f"{code}: {message}"), \
            f"{of} failed; which lifecycle event failed could not be read ({unread})"
    return None


def _by_outcome(code: str, message: str, failed: int, total: int) -> tuple[Cause, str]:
    if code == "TIMEOUT":
        return Cause("deploy_timed_out"), f"deployment timed out: {short(message)}"
    if code == "HEALTH_CONSTRAINTS":
        return Cause("too_few_healthy_hosts"), f"too few healthy hosts ({failed} of {total} instances failed)"
    return Cause("unknown", raw_error=f"{code}: {message}"), f"deployment failed: {code or 'no error code'}"


def _lifecycle_failures(targets: list[dict]) -> tuple[Counter, dict]:
    """(hook, error code) -> how many instances failed so, and the first instance that shows each, with its
    diagnostics; ("", "NotRun") counts instances whose lifecycle events never ran."""
    failures: Counter = Counter()
    examples: dict = {}
    for target in targets:
        events = target.get("lifecycleEvents", [])
        failed = next((e for e in events if e.get("status") == "Failed"), None)
        if failed is None:
            if events and all(e.get("status") in ("Pending", "Skipped", "Unknown") for e in events):
                failures[("", "NotRun")] += 1
            continue
        diagnostics = failed.get("diagnostics", {})
        key = (failed.get("lifecycleEventName", ""), diagnostics.get("errorCode", "UnknownError"))
        failures[key] += 1
        examples.setdefault(key, (target.get("targetId"), diagnostics))
    return failures, examples


def _cause_from_lifecycle(failures: Counter, hints: dict, failed: int, total: int) -> tuple[Cause, str]:
    (hook, code), count = failures.most_common(1)[0]
    hint = f"; {short(hints[(hook, code)], 100)}" if hints.get((hook, code)) else ""
    count = max(count, min(failed, total)) if len(failures) == 1 else count
    of = f"{count} of {total} instances" if total else f"{count} instance(s)"
    if code == "NotRun" or (code == "UnknownError" and not hook):
        return Cause("agent_not_running"), f"lifecycle events never ran on {of}; the CodeDeploy agent is not running"
    verb = "timed out" if code == "ScriptTimedOut" else "failed"
    if hook == "ValidateService" and code in ("ScriptFailed", "ScriptTimedOut"):
        hint = hint or "; the service did not become healthy"
        return Cause("health_check_failed", detail=hook), f"{hook} {verb} on {of}{hint}"
    if code in SCRIPT_CODES:
        what = f"{hook} hook (the bake of the last wave)" if hook == BAKE_HOOK else f"{hook} hook"
        return Cause("hook_script_failed", detail=hook), f"{what} {verb} on {of} ({code}){hint}"
    return Cause("unknown", raw_error=f"{hook}: {code}"), f"{hook} {code} on {of}"


def _hint(diagnostics: dict) -> str | None:
    """The most telling line of a hook's log tail: one naming the health endpoint, else the last line."""
    lines = [STREAM_PREFIX.sub("", line).strip() for line in (diagnostics.get("logTail") or "").splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if "healthz" in line or "health" in line.lower():
            return line
    return lines[-1] if lines else None


def _alarms_in_message(message: str) -> str:
    found = re.search(r"alarms?[^:]*:\s*\[?([^\]\.]+)", message)
    return found.group(1).strip() if found else ""


def classify_source(connection: dict | None, error: dict) -> tuple[Cause, str]:
    if connection and connection.get("ConnectionStatus") == "PENDING":
        arn = connection.get("ConnectionArn")
        return Cause("source_connection_pending", detail=arn), (
            f"source connection {connection.get('ConnectionName')} is PENDING (never confirmed in the console)")
    cause = _from_error_details(error)
    if cause.name == "missing_permissions":
        return cause, f"missing permission {cause.detail}"
    return cause, f"source action failed: {short(error.get('message'))}"


def _judge_stage_condition(findings: Findings, result: Diagnosis) -> None:
    stage = findings.failed_stage_state
    if not stage:
        summary = findings.latest.get("statusSummary") or findings.latest.get("stopTrigger", {}).get("reason")
        result.cause = Cause("unknown", raw_error=summary or f"execution {findings.latest['status']}")
        result.verdict = f"Execution {findings.latest['status'].lower()}: {short(summary) or 'no failed action found'}"
        return
    result.stage = stage["stageName"]
    failed_rules = []
    for kind in ("onSuccessConditionState", "onFailureConditionState", "beforeEntryConditionState"):
        for condition in stage.get(kind, {}).get("conditionStates", []):
            for rule in condition.get("ruleStates", []):
                execution = rule.get("latestExecution", {})
                if execution.get("status") in ("Failed", "Errored"):
                    failed_rules.append(rule)
                    result.evidence.append(evidence(
                        "condition", f"{kind.removesuffix('State')} rule {rule.get('ruleName')} "
                        f"{execution.get('status')}: {execution.get('summary') or ''}".strip(),
                        rule=rule.get("ruleName"), error=execution.get("errorDetails")))
    fired = _fired_alarms(result, "fired during the stage")
    if fired:
        names = ", ".join(a["name"] for a in fired)
        result.cause = Cause("stopped_by_alarm", detail=names)
        result.verdict = f"{result.stage} failed: stopped by alarm {names} during the bake"
        return
    summary = "; ".join(r.get("latestExecution", {}).get("summary", "") for r in failed_rules) or None
    result.cause = Cause("unknown", raw_error=summary or "stage failed with no failed action")
    result.verdict = f"{result.stage} failed: stage condition failed" + (f" ({short(summary)})" if summary else "")


def _locate(action: dict, result: Diagnosis) -> None:
    result.stage = action.get("stageName")
    result.action = views.action(action)


def _alarm(alarm: dict, window: tuple[datetime, datetime] | None) -> dict:
    """An alarm fired in the window if it went to ALARM inside it, or if it is in ALARM since before the window
    closed (already in ALARM when the window opened, it did not transition, but it did fire)."""
    to_alarm = [_to_alarm(t) for t in alarm.get("transitions", [])]
    held = bool(window) and alarm["state"] == "ALARM" and alarm["updated_at"] is not None and \
        alarm["updated_at"] <= window[1]
    return views.alarm(alarm, to_alarm, fired=bool(window) and (any(to_alarm) or held))


def _to_alarm(transition: dict) -> bool:
    try:
        return json.loads(transition.get("data") or "{}").get("newState", {}).get("stateValue") == "ALARM"
    except (ValueError, AttributeError):
        return transition.get("summary", "").rstrip().endswith("to ALARM")


def _matching_line(lines: list[str], pattern: re.Pattern) -> str | None:
    return next((line.strip() for line in reversed(lines) if pattern.search(line)), None)
