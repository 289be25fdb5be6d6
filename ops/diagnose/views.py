"""How a diagnosis shows what collect.py read: the plain dicts of the JSON document (an execution, the action, an
alarm, what changed) and the evidence items, each from botocore-shaped data. No rule lives here: classify.py decides
(the status, the cause, which alarms fired, what the rollback did) and advice.py words the next step; render.py
prints the result as text, markdown or JSON."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from ops.aws import utc_iso
from ops.diagnose.collect import FAILED_PHASE, Findings, external_id, provider_of


def evidence(kind: str, summary: str, **detail) -> dict:
    return {"kind": kind, "summary": summary, "detail": {k: v for k, v in detail.items() if v not in (None, "")}}


def when(value: datetime | None) -> str | None:
    return utc_iso(value)  # botocore gives the machine's own zone and fractions of a second


def short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def execution(summary: dict) -> dict:
    revisions = summary.get("sourceRevisions", [])
    return {
        "id": summary["pipelineExecutionId"],
        "status": summary["status"],
        "trigger": summary.get("trigger", {}).get("triggerType"),
        "trigger_detail": summary.get("trigger", {}).get("triggerDetail"),
        "started_at": when(summary.get("startTime")),
        "updated_at": when(summary.get("lastUpdateTime")),
        "source_revisions": [
            {"action": r.get("actionName"), "revision_id": r.get("revisionId"),
             "message": commit_message(r.get("revisionSummary")), "url": r.get("revisionUrl")}
            for r in revisions
        ],
    }


def commit_message(summary: str | None) -> str | None:
    """Connection sources put JSON ({"ProviderType": ..., "CommitMessage": ...}) in revisionSummary."""
    if not summary:
        return None
    try:
        parsed = json.loads(summary)
    except ValueError:
        return summary
    return parsed.get("CommitMessage", summary) if isinstance(parsed, dict) else summary


def execution_line(summary: dict) -> str:
    trigger = summary.get("trigger", {}).get("triggerType", "unknown trigger")
    return f"execution {summary['pipelineExecutionId']} {summary['status']} (trigger {trigger}, " \
           f"started {when(summary.get('startTime'))})"


def revision_line(execution_view: dict) -> str:
    revisions = execution_view.get("source_revisions") or []
    if not revisions or not revisions[0].get("revision_id"):
        return f"execution {execution_view['id']}"
    first = revisions[0]
    message = f" \"{short(first['message'], 60)}\"" if first.get("message") else ""
    return f"commit {first['revision_id'][:12]}{message}"


def changes(findings: Findings) -> dict | None:
    if not findings.latest:
        return None
    now = execution(findings.latest)
    good = execution(findings.last_success) if findings.last_success else None
    now_rev = now["source_revisions"][0] if now["source_revisions"] else {}
    good_rev = (good or {}).get("source_revisions", [{}])[0] if good and good["source_revisions"] else {}
    return {
        "revision": now_rev.get("revision_id"),
        "message": now_rev.get("message"),
        "last_good_execution": good["id"] if good else None,
        "last_good_revision": good_rev.get("revision_id"),
        "last_good_message": good_rev.get("message"),
        "same_revision": bool(now_rev) and now_rev.get("revision_id") == good_rev.get("revision_id"),
        "image_digest": findings.image_digest,
        "last_good_image_digest": findings.last_success_image_digest,
    }


def action(detail: dict) -> dict:
    category, provider = provider_of(detail)
    result = detail.get("output", {}).get("executionResult", {})
    error = result.get("errorDetails", {})
    return {
        "name": detail.get("actionName"),
        "category": category,
        "provider": provider,
        "status": detail.get("status"),
        "external_execution_id": external_id(detail),
        "external_execution_url": result.get("externalExecutionUrl"),
        "error_code": error.get("code"),
        "error_message": error.get("message"),
    }


def alarm(read: dict, to_alarm: list[bool], fired: bool) -> dict:
    """An alarm as read, with whether each transition went to ALARM and whether it fired in the window (classify.py
    decides both)."""
    transitions = [{"at": when(t["at"]), "summary": t["summary"], "to_alarm": went}
                   for t, went in zip(read.get("transitions", []), to_alarm, strict=True)]
    return {
        "name": read["name"],
        "type": read["type"],
        "state": read["state"],
        "reason": read["reason"],
        "updated_at": when(read["updated_at"]),
        "fired_in_window": fired,
        "transitions": transitions,
    }


def build_evidence(build: dict, log_lines: list[str]) -> list[dict]:
    """Each failed phase's contexts, and the log tail read."""
    items = []
    for phase in build.get("phases", []):
        if phase.get("phaseStatus") in FAILED_PHASE:
            for context in phase.get("contexts", []):
                items.append(evidence(
                    "build_phase", f"{phase['phaseType']} {phase['phaseStatus']}: {context.get('statusCode', '')} "
                    f"{context.get('message', '')}".strip(), build_id=build.get("id"), phase=phase["phaseType"]))
    if log_lines:
        logs = build.get("logs", {})
        items.append(evidence(
            "log_tail", f"last {len(log_lines)} log lines of build {build.get('id')}",
            lines=log_lines, group=logs.get("groupName"), stream=logs.get("streamName"), link=logs.get("deepLink")))
    return items


def deployment_evidence(deployment: dict, rollback_deployment: dict | None) -> list[dict]:
    """The deployment's outcome, and CodeDeploy's own rollback of it when there is one."""
    error = deployment.get("errorInformation", {})
    code, message = error.get("code", ""), error.get("message", "")
    items = [evidence(
        "deployment", f"deployment {deployment.get('deploymentId')} {deployment.get('status')}: {code}: {message}",
        deployment_id=deployment.get("deploymentId"), error_code=code,
        overview=deployment.get("deploymentOverview") or None, rollback=deployment.get("rollbackInfo"))]
    rollback = deployment.get("rollbackInfo", {})
    if rollback.get("rollbackDeploymentId") or rollback.get("rollbackMessage"):
        status = (rollback_deployment or {}).get("status")
        items.append(evidence(
            "rollback", f"CodeDeploy rollback {rollback.get('rollbackDeploymentId', '')}"
            f"{f' {status}' if status else ''}: {rollback.get('rollbackMessage', '')}".strip().rstrip(":"),
            deployment_id=rollback.get("rollbackDeploymentId"), status=status, owner="codedeploy"))
    return items


def lifecycle_evidence(failures: Counter, examples: dict, hints: dict) -> list[dict]:
    """One item per distinct (hook, error code): the first instance that shows it, with its script and log tail;
    and one for the instances whose lifecycle events never ran."""
    items = []
    for key, (instance, diagnostics) in examples.items():
        others = failures[key] - 1
        more = f" (and {others} more instance{'s' if others > 1 else ''})" if others else ""
        items.append(evidence(
            "lifecycle_event", f"{instance}{more}: {key[0]} {key[1]}: {diagnostics.get('message', '')}",
            instance=instance, instances=failures[key], hook=key[0], error_code=key[1],
            script=diagnostics.get("scriptName"), log_tail=diagnostics.get("logTail"), hint=hints[key]))
    if failures.get(("", "NotRun")):
        items.append(evidence(
            "lifecycle_event", f"{failures[('', 'NotRun')]} instance(s) failed without running any lifecycle event "
            "(the CodeDeploy agent did not pick the deployment up)"))
    return items
