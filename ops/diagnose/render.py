"""The three ways to print a diagnosis: text for a terminal, markdown for an incident or pull request, and JSON
in the documented schema (schema.json, docs/diagnose.md)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from ops.aws import utc_iso
from ops.diagnose.advice import title
from ops.diagnose.classify import Diagnosis
from ops.errors import printable

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.json")


def as_document(diagnosis: Diagnosis) -> dict:
    cause = diagnosis.cause
    return {
        "schema_version": SCHEMA_VERSION,
        "pipeline": diagnosis.pipeline,
        "status": diagnosis.status,
        "verdict": diagnosis.verdict,
        "cause": None if cause is None else {
            "class": cause.name, "title": title(cause.name), "detail": cause.detail, "raw_error": cause.raw_error,
        },
        "stage": diagnosis.stage,
        "action": diagnosis.action,
        "execution": diagnosis.execution,
        "last_successful_execution": diagnosis.last_success,
        "evidence": diagnosis.evidence,
        "alarms": diagnosis.alarms,
        "changes": diagnosis.changes,
        "next_step": diagnosis.next_step,
        "gaps": diagnosis.gaps,
        "exit_code": diagnosis.exit_code,
        **({"dashboardUrl": diagnosis.dashboard_url} if diagnosis.dashboard_url else {}),
    }


def as_json(diagnosis: Diagnosis) -> str:
    return json.dumps(as_document(diagnosis), indent=2, default=_plain)


def _plain(value) -> str:
    """What JSON has no type for: a time (in UTC, to the second, like every other time), else its text."""
    return utc_iso(value) if isinstance(value, datetime) else str(value)


def error_document(pipeline: str | None, message: str) -> str:
    """What --json prints when diagnose could not tell (exit 2): status `unknown` and the reason."""
    document = {
        "schema_version": SCHEMA_VERSION, "pipeline": pipeline, "status": "unknown", "verdict": message,
        "cause": None, "stage": None, "action": None, "execution": None, "last_successful_execution": None,
        "evidence": [], "alarms": [], "changes": None, "next_step": "", "gaps": [message], "exit_code": 2,
    }
    return json.dumps(document, indent=2)


def as_text(diagnosis: Diagnosis) -> str:
    lines = [diagnosis.verdict, ""]
    lines += _facts(diagnosis)
    if diagnosis.dashboard_url:
        lines += ["", f"Dashboard: {printable(diagnosis.dashboard_url)}"]
    if diagnosis.evidence:
        lines += ["", "evidence:"]
        for item in diagnosis.evidence:
            lines.append(f"  - [{item['kind']}] {item['summary']}")
            lines += [f"      {line}" for line in _evidence_lines(item)]  # all of them: the summary counts them
    if diagnosis.alarms:
        lines += ["", "alarms:"]
        lines += [f"  - {_alarm_line(alarm)}" for alarm in diagnosis.alarms]
    lines += _changes_lines(diagnosis, prefix="  - ", header=["", "what changed:"])
    if diagnosis.gaps:
        lines += ["", "not read:"] + [f"  - {gap}" for gap in diagnosis.gaps]
    if diagnosis.next_step:
        lines += ["", "next step:", f"  {diagnosis.next_step}"]
    return "\n".join(lines)


def as_markdown(diagnosis: Diagnosis) -> str:
    lines = [f"### Pipeline `{diagnosis.pipeline}`: {diagnosis.status}", "", f"**{diagnosis.verdict}**", ""]
    lines += [f"- {fact.strip()}" for fact in _facts(diagnosis)]
    if diagnosis.dashboard_url:
        lines += ["", f"Dashboard: {printable(diagnosis.dashboard_url)}"]
    if diagnosis.evidence:
        lines += ["", "#### Evidence", ""]
        for item in diagnosis.evidence:
            lines.append(f"- **{item['kind']}**: {item['summary']}")
            extra = _evidence_lines(item)
            if extra:
                lines += ["", "  ```", *[f"  {line}" for line in extra], "  ```"]
    if diagnosis.alarms:
        lines += ["", "#### Alarms", "", "| alarm | state | fired in window | reason |", "|---|---|---|---|"]
        for alarm in diagnosis.alarms:
            reason = alarm["reason"].replace("|", "\\|")
            lines.append(f"| `{alarm['name']}` | {alarm['state']} | {'yes' if alarm['fired_in_window'] else 'no'} "
                         f"| {reason} |")
    lines += _changes_lines(diagnosis, prefix="- ", header=["", "#### What changed", ""])
    if diagnosis.gaps:
        lines += ["", "#### Not read", ""] + [f"- {gap}" for gap in diagnosis.gaps]
    if diagnosis.next_step:
        lines += ["", "#### Next step", "", diagnosis.next_step]
    return "\n".join(lines)


def _facts(diagnosis: Diagnosis) -> list[str]:
    facts = [f"pipeline:  {diagnosis.pipeline} ({diagnosis.status})"]
    execution = diagnosis.execution
    if execution:
        trigger = execution.get("trigger") or "unknown"
        facts.append(f"execution: {execution['id']} {execution['status']}, trigger {trigger}, "
                     f"started {execution.get('started_at')}")
    if diagnosis.stage:
        action = diagnosis.action or {}
        where = f"{diagnosis.stage} / {action['name']} ({action['provider']})" if action else diagnosis.stage
        if action.get("external_execution_id"):
            where += f", {action['external_execution_id']}"
        facts.append(f"failing:   {where}")
    if diagnosis.cause:
        detail = f" ({diagnosis.cause.detail})" if diagnosis.cause.detail else ""
        facts.append(f"cause:     {title(diagnosis.cause.name)}{detail} [{diagnosis.cause.name}]")
        if diagnosis.cause.raw_error:
            facts.append(f"raw error: {diagnosis.cause.raw_error}")
    return [f"  {fact}" for fact in facts]


def _evidence_lines(item: dict) -> list[str]:
    detail = item.get("detail", {})
    return list(detail.get("lines") or (detail.get("log_tail") or "").splitlines())


def _alarm_line(alarm: dict) -> str:
    fired = " (fired in the window)" if alarm["fired_in_window"] else ""
    return f"{alarm['name']}: {alarm['state']}{fired}, since {alarm['updated_at']}: {alarm['reason']}"


def _changes_lines(diagnosis: Diagnosis, prefix: str, header: list[str]) -> list[str]:
    changes = diagnosis.changes
    if not changes or diagnosis.status == "healthy":
        return []
    lines = list(header)
    now = f"{(changes['revision'] or '?')[:12]} \"{changes['message'] or ''}\""
    if changes["last_good_execution"] is None:
        lines.append(f"{prefix}source: {now}; no successful execution to compare with")
    elif changes["same_revision"]:
        lines.append(f"{prefix}source: {now}, the same revision as the last success (the code did not change: "
                     "look at the environment)")
    else:
        good = f"{(changes['last_good_revision'] or '?')[:12]} \"{changes['last_good_message'] or ''}\""
        lines.append(f"{prefix}source: {now}; last success {changes['last_good_execution']} ran {good}")
    if changes["image_digest"] or changes["last_good_image_digest"]:
        lines.append(f"{prefix}image: {changes['image_digest'] or 'unknown'}; last success "
                     f"{changes['last_good_image_digest'] or 'unknown'}")
    return lines
