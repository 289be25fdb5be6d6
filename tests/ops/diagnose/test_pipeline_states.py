"""The pipeline as a whole: healthy, never run, running, waiting for approval, stopped by a stage condition,
failed at Source or Approval; and the faults where diagnose cannot tell (exit 2, a clear message, no traceback)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta, timezone

import jsonschema
import pytest
from botocore.awsrequest import AWSResponse

from tests.ops.diagnose.account import COMPOSITE_ALARM, CONNECTION_ARN, METRIC_ALARMS, PIPELINE
from tests.ops.diagnose.builders import (
    SCHEMA,
    action,
    bad_run,
    build_ok,
    diagnose_json,
    evidence_of,
    execution,
    good_run,
    queue_alarms,
    queue_run,
    run_cli,
    source_ok,
)
from tests.ops.fake_pulumi import FakePulumi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _cli_process(*argv: str) -> subprocess.CompletedProcess:
    """`python -m ops ARGV` as its own process, reaching moto through AWS_ENDPOINT_URL like any user."""
    return subprocess.run([sys.executable, "-m", "ops", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_succeeded_latest_execution_is_healthy_and_needs_one_list_call(account, capsys):
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, document = diagnose_json(capsys)

    assert code == 0
    assert document["status"] == "healthy"
    assert document["verdict"] == 'Latest execution succeeded (commit 111111111111 "Add quotes endpoint")'
    assert document["cause"] is None and document["evidence"] == []
    assert document["last_successful_execution"]["id"] == "exec-good"


def test_a_pipeline_that_never_ran_says_so_and_exits_0(account):
    account.create_pipeline()  # moto: the pipeline exists and has no executions

    result = _cli_process("diagnose", "--pipeline", PIPELINE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Pipeline {PIPELINE} has never run"
    assert "start-pipeline-execution --name app-prod" in result.stdout


def test_never_run_in_json_has_no_execution_and_no_cause(account, capsys):
    account.create_pipeline()
    account.stub["codepipeline"].add_response("list_pipeline_executions", {"pipelineExecutionSummaries": []})

    code, document = diagnose_json(capsys)

    assert code == 0
    assert document["status"] == "never_run"
    assert document["execution"] is None and document["cause"] is None and document["changes"] is None


def test_a_pipeline_that_does_not_exist_exits_2_with_one_clear_line(aws):
    result = _cli_process("diagnose", "--pipeline", "no-such-pipeline")

    assert result.returncode == 2
    assert result.stderr == "error: pipeline `no-such-pipeline` was not found in this account and region\n"
    assert "Traceback" not in result.stdout + result.stderr


def test_a_running_deployment_is_in_progress_and_exits_0(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(5)
    deploying = action("Deploy", "Deploy", "Deploy", "CodeDeploy", "InProgress", started, external_id="d-RUNNING1")
    queue_run(account, bad_run(account, "InProgress"), [source_ok(started), build_ok(started), deploying],
              last_success=good, last_success_actions=good_actions)

    code, document = diagnose_json(capsys)

    assert code == 0
    assert document["status"] == "in_progress"
    assert document["verdict"] == "Deploy in progress: Deploy (CodeDeploy) is running"
    assert document["cause"] is None


def test_a_pending_approval_is_in_progress_with_cause_approval_pending(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(30)
    waiting = action("Approval", "Approve", "Approval", "Manual", "InProgress", started,
                     configuration={"CustomData": "Check the dev dashboards first"})
    queue_run(account, bad_run(account, "InProgress"), [source_ok(started), build_ok(started), waiting],
              last_success=good, last_success_actions=good_actions)

    code, document = diagnose_json(capsys)

    assert code == 0
    assert document["status"] == "in_progress"
    assert document["cause"]["class"] == "approval_pending" and document["cause"]["detail"] == "Approve"
    assert document["verdict"] == "Approval waiting: approval Approve is pending"
    assert evidence_of(document, "approval")[0]["detail"]["custom_data"] == "Check the dev dashboards first"
    assert "put-approval-result" in document["next_step"]


def test_a_rejected_approval_names_who_and_why(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(30)
    reviewer = "arn:aws:iam::123456789012:user/lead"
    rejected = action("Approval", "Approve", "Approval", "Manual", "Failed", started, updated_by=reviewer,
                      summary="p99 latency doubled in dev; hold until fixed")
    queue_run(account, bad_run(account), [source_ok(started), build_ok(started), rejected],
              last_success=good, last_success_actions=good_actions)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "approval_rejected"
    assert document["verdict"] == (f"Approval failed: approval Approve rejected by {reviewer} "
                                   "(p99 latency doubled in dev; hold until fixed)")
    assert evidence_of(document, "approval")[0]["detail"] == {
        "by": reviewer, "comment": "p99 latency doubled in dev; hold until fixed"}


def test_a_connection_never_confirmed_is_source_connection_pending(account, capsys):
    started = account.ago(2)
    failed_source = action("Source", "Source", "Source", "CodeStarSourceConnection", "Failed", started,
                           configuration={"ConnectionArn": CONNECTION_ARN, "FullRepositoryId": "acme/app"},
                           error=("JobFailed", f"Connection {CONNECTION_ARN} is not available."))
    first_run = execution("exec-first", "Failed", started, "3" * 40, "Initial commit",
                          trigger={"triggerType": "CreatePipeline"})
    queue_run(account, first_run, [failed_source])
    account.stub["codeconnections"].add_response("get_connection", {"Connection": {
        "ConnectionName": "app-prod-github", "ConnectionArn": CONNECTION_ARN, "ProviderType": "GitHub",
        "OwnerAccountId": "123456789012", "ConnectionStatus": "PENDING"}}, {"ConnectionArn": CONNECTION_ARN})

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "source_connection_pending"
    assert document["cause"]["detail"] == CONNECTION_ARN
    assert document["verdict"] == ("Source failed: source connection app-prod-github is PENDING "
                                   "(never confirmed in the console)")
    assert evidence_of(document, "connection")[0]["summary"] == "connection app-prod-github is PENDING"
    assert document["changes"]["last_good_execution"] is None
    assert "Update pending connection" in document["next_step"]


def _stage_condition_failed(account, newer: list[dict] | None = None) -> None:
    """A pipeline (not this program's) whose Deploy stage has an onSuccess CloudWatchAlarm condition: the deployment
    succeeded, then the condition's alarm failed the stage."""
    good, good_actions = good_run(account)
    started = account.ago(25)
    latest = execution("exec-bad", "Failed", started, "2" * 40, "Rework the quotes handler",
                       lastUpdateTime=account.ago(1))
    deployed = action("Deploy", "Deploy", "Deploy", "CodeDeploy", "Succeeded", account.ago(20),
                      external_id="d-DEPLOYED1")
    stage_state = {"pipelineName": PIPELINE, "stageStates": [
        {"stageName": "Build", "latestExecution": {"pipelineExecutionId": "exec-bad", "status": "Succeeded"}},
        {"stageName": "Deploy", "latestExecution": {"pipelineExecutionId": "exec-bad", "status": "Failed"},
         "onSuccessConditionState": {
             "latestExecution": {"status": "Failed", "summary": "Condition failed"},
             "conditionStates": [{"latestExecution": {"status": "Failed"}, "ruleStates": [{
                 "ruleName": "bake",
                 "latestExecution": {"status": "Failed", "summary": f"Alarm {COMPOSITE_ALARM} is in ALARM state"},
             }]}]}},
    ]}
    queue_run(account, latest, [source_ok(started), build_ok(started), deployed], last_success=good,
              last_success_actions=good_actions, stage_state=stage_state, newer=newer)
    reason = "app-prod-latency-p99 transitioned to ALARM"
    queue_alarms(account, [COMPOSITE_ALARM], {COMPOSITE_ALARM: (6, reason)}, composite=COMPOSITE_ALARM)


def test_the_bake_alarm_failing_the_deploy_stage_condition_is_stopped_by_alarm(account, capsys):
    _stage_condition_failed(account)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["stage"] == "Deploy" and document["action"] is None
    assert document["cause"]["class"] == "stopped_by_alarm" and document["cause"]["detail"] == COMPOSITE_ALARM
    assert document["verdict"] == f"Deploy failed: stopped by alarm {COMPOSITE_ALARM} during the bake"
    assert evidence_of(document, "condition")[0]["detail"]["rule"] == "bake"
    assert document["alarms"][0]["type"] == "composite" and document["alarms"][0]["fired_in_window"]
    # Nothing rolled back (no CodeDeploy rollback, no pipeline rollback execution): the step must not say one did.
    assert document["next_step"].startswith("No automatic rollback is recorded: roll back "
                                            "(python -m ops rollback app -s prod).")
    assert "confirm" not in document["next_step"] and "if it did not" not in document["next_step"]


@pytest.mark.parametrize(("status", "says", "never_says"), [
    ("Succeeded", "Pipeline rollback execution exec-rollback succeeded: the stage runs the last good execution's "
                  "revision again, so there is nothing to roll back.", ("rollback app", "confirm", "if it did not")),
    ("InProgress", "Pipeline rollback execution exec-rollback is InProgress: wait for it to end before anything else",
     ("rollback app", "succeeded")),
    ("Failed", "Pipeline rollback execution exec-rollback ended Failed: roll back yourself "
               "(python -m ops rollback app -s prod).", ("succeeded", "confirm")),
])
def test_a_pipeline_rollback_execution_words_the_step_by_its_status(account, capsys, status, says, never_says):
    rollback = execution("exec-rollback", status, account.ago(1), "1" * 40, "Add quotes endpoint",
                         executionType="ROLLBACK", trigger={"triggerType": "AutomatedRollback"})
    _stage_condition_failed(account, newer=[rollback])

    _, document = diagnose_json(capsys)

    assert document["execution"]["id"] == "exec-bad"
    assert document["next_step"].startswith(says)
    assert not [text for text in never_says if text in document["next_step"][len(says):]]
    (evidence,) = evidence_of(document, "rollback")
    assert evidence["summary"] == f"pipeline rolled back by execution exec-rollback ({status})"


def test_throttling_is_answered_by_a_retry(account, capsys):
    good, _ = good_run(account)
    queue_run(account, good, [])
    sent = []

    def throttle_first(request, **_):
        sent.append(request.url)
        if len(sent) == 1:
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            return AWSResponse(request.url, 400, {"x-amzn-RequestId": "r1"}, _Raw(body))
        return None  # the retry goes to moto

    account.clients["codepipeline"].meta.events.register("before-send.codepipeline.GetPipeline", throttle_first)

    code, document = diagnose_json(capsys)

    assert code == 0 and document["status"] == "healthy"
    assert len(sent) == 2


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def test_access_denied_exits_2_naming_the_missing_permission(account, capsys):
    account.create_pipeline()
    message = ("User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: "
               "codepipeline:ListPipelineExecutions on resource: arn:aws:codepipeline:us-east-1:123456789012:app-prod "
               "because no identity-based policy allows the codepipeline:ListPipelineExecutions action")
    account.stub["codepipeline"].add_client_error("list_pipeline_executions", "AccessDeniedException", message)

    code, out, err = run_cli(capsys, "diagnose", "--pipeline", PIPELINE, "--json")

    assert code == 2
    assert err.startswith("error: access denied: missing permission codepipeline:ListPipelineExecutions ")
    document = json.loads(out)
    assert document["status"] == "unknown" and document["exit_code"] == 2
    jsonschema.validate(document, SCHEMA)


def test_access_denied_without_details_names_the_operation_refused(account, capsys):
    account.create_pipeline()
    account.stub["codepipeline"].add_client_error("list_pipeline_executions", "AccessDeniedException", "")

    code, _, err = run_cli(capsys, "diagnose", "--pipeline", PIPELINE)

    assert code == 2
    assert err.startswith("error: access denied: missing permission codepipeline:ListPipelineExecutions")


def test_the_stack_outputs_name_the_pipeline_and_extra_alarms(account, capsys, tmp_path, monkeypatch):
    pulumi = FakePulumi(tmp_path).install(monkeypatch)
    pulumi.add_stack("prod", outputs={"pipelineName": PIPELINE, "alarmNames": METRIC_ALARMS,
                                      "compositeAlarmName": COMPOSITE_ALARM})
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, out, _ = run_cli(capsys, "diagnose", "-s", "prod")

    assert code == 0
    assert out.startswith("Latest execution succeeded")
    assert pulumi.commands() == ["stack output"]


def test_flags_alone_never_call_pulumi(account, capsys, tmp_path, monkeypatch):
    pulumi = FakePulumi(tmp_path).install(monkeypatch)
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, _, _ = run_cli(capsys, "diagnose", "-s", "prod", "--pipeline", PIPELINE)

    assert code == 0
    assert pulumi.calls() == []


def test_without_a_stack_or_a_pipeline_it_asks_for_one(capsys):
    code, _, err = run_cli(capsys, "diagnose")

    assert code == 2
    assert err == "error: name the pipeline: pass -s STACK (to read its outputs) or --pipeline NAME\n"


@pytest.mark.parametrize("flag", ["--markdown", None])
def test_text_and_markdown_lead_with_the_verdict_and_end_with_the_next_step(account, capsys, flag):
    good, good_actions = good_run(account)
    started = account.ago(30)
    rejected = action("Approval", "Approve", "Approval", "Manual", "Failed", started,
                      updated_by="arn:aws:iam::123456789012:user/lead", summary="not today")
    queue_run(account, bad_run(account), [rejected], last_success=good, last_success_actions=good_actions)

    code, out, _ = run_cli(capsys, "diagnose", "--pipeline", PIPELINE, "-s", "prod", *([flag] if flag else []))

    assert code == 1
    verdict = "Approval failed: approval Approve rejected by arn:aws:iam::123456789012:user/lead (not today)"
    lines = out.rstrip().splitlines()
    if flag == "--markdown":
        assert lines[0] == f"### Pipeline `{PIPELINE}`: failing"
        assert f"**{verdict}**" in lines
        assert "#### Next step" in lines and "#### What changed" in lines
    else:
        assert lines[0] == verdict
        assert "next step:" in lines
        assert any(line.startswith("  - source: 222222222222") for line in lines)
    assert lines[-1].strip().startswith("Read the reviewer's comment")


def test_missing_credentials_exit_2_with_a_clear_message(aws, capsys, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service

    code, _, err = run_cli(capsys, "diagnose", "--pipeline", PIPELINE)

    assert code == 2
    assert err == "error: no AWS credentials found; configure a profile or set AWS_PROFILE\n"


UTC_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
ANY_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")


def _times_in(value) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times_in(v)]
    return [value] if isinstance(value, str) and ANY_TIME.fullmatch(value) else []


@pytest.mark.parametrize("flag", ["--json", "--markdown", None])
def test_every_time_is_utc_iso_8601_to_the_second(account, capsys, monkeypatch, flag):
    """botocore hands back timestamps in the machine's own zone (tzinfo=tzlocal()), with fractions of a second."""
    local = timezone(timedelta(hours=-5))
    monkeypatch.setattr(account, "ago", lambda minutes: (account.now - timedelta(minutes=minutes)).astimezone(
        local).replace(microsecond=654321))
    _stage_condition_failed(account)

    code, out, _ = run_cli(capsys, "diagnose", "--pipeline", PIPELINE, "-s", "prod", *([flag] if flag else []))

    assert code == 1
    times = _times_in(json.loads(out)) if flag == "--json" else ANY_TIME.findall(out)
    # JSON: execution start and update, last success, the alarm and its transition; text: the start, the alarm
    assert len(times) >= (4 if flag == "--json" else 2)
    assert [t for t in times if not UTC_SECONDS.match(t)] == []
