"""Builders for the botocore-shaped answers the Stubber gives (each is validated against the service model
when queued), and `queue_run`, which queues one pipeline run's reads in the order CodePipeline is asked."""

from __future__ import annotations

import json
from datetime import datetime

import jsonschema
from botocore.stub import ANY

from ops.cli import main
from ops.diagnose.render import SCHEMA_PATH
from tests.ops.diagnose.account import (
    APPLICATION,
    BUILD_LOG_GROUP,
    BUILD_PROJECT,
    CONNECTION_ARN,
    GROUP,
    METRIC_ALARMS,
    PIPELINE,
    Account,
)

GOOD_SHA = "1111111111111111111111111111111111111111"
BAD_SHA = "2222222222222222222222222222222222222222"
GOOD_DIGEST = "sha256:" + "a" * 64
BAD_DIGEST = "sha256:" + "b" * 64
BUILD_ID = f"{BUILD_PROJECT}:5b1f6c0e-0000-4000-8000-000000000001"
DEPLOYMENT_ID = "d-ABCDEF123"


def execution(execution_id: str, status: str, started: datetime, sha: str, message: str, **extra) -> dict:
    summary = {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": started,
        "lastUpdateTime": started,
        "executionType": "STANDARD",
        "trigger": {"triggerType": "WebhookV2", "triggerDetail": "arn:aws:codeconnections:push"},
        "sourceRevisions": [{
            "actionName": "Source",
            "revisionId": sha,
            "revisionSummary": json.dumps({"ProviderType": "GitHub", "CommitMessage": message}),
            "revisionUrl": f"https://github.com/acme/app/commit/{sha}",
        }],
    }
    summary.update(extra)
    return summary


def action(stage: str, name: str, category: str, provider: str, status: str, started: datetime, *,
           execution_id: str = "exec-bad", external_id: str | None = None, error: tuple[str, str] | None = None,
           configuration: dict | None = None, updated_by: str | None = None, summary: str | None = None,
           output_variables: dict | None = None) -> dict:
    result: dict = {}
    if external_id:
        result["externalExecutionId"] = external_id
    if error:
        result["errorDetails"] = {"code": error[0], "message": error[1]}
    if summary:
        result["externalExecutionSummary"] = summary
    detail = {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{execution_id}-{name}",
        "pipelineVersion": 1,
        "stageName": stage,
        "actionName": name,
        "startTime": started,
        "lastUpdateTime": started,
        "status": status,
        "input": {
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration or {},
        },
        "output": {"executionResult": result, "outputVariables": output_variables or {}},
    }
    if updated_by:
        detail["updatedBy"] = updated_by
    return detail


def source_ok(started: datetime, execution_id: str = "exec-bad") -> dict:
    return action("Source", "Source", "Source", "CodeStarSourceConnection", "Succeeded", started,
                  execution_id=execution_id, configuration={"ConnectionArn": CONNECTION_ARN})


def build_ok(started: datetime, execution_id: str = "exec-bad", digest: str = BAD_DIGEST) -> dict:
    return action("Build", "Build", "Build", "CodeBuild", "Succeeded", started, execution_id=execution_id,
                  external_id=BUILD_ID, configuration={"ProjectName": BUILD_PROJECT},
                  output_variables={"IMAGE_DIGEST": digest})


def build_failed(started: datetime) -> dict:
    return action("Build", "Build", "Build", "CodeBuild", "Failed", started, external_id=BUILD_ID,
                  configuration={"ProjectName": BUILD_PROJECT},
                  error=("JobFailed", "Build terminated with state: FAILED"))


def deploy_failed(started: datetime, external_id: str | None = DEPLOYMENT_ID,
                  message: str = f"Deployment {DEPLOYMENT_ID} failed") -> dict:
    return action("Deploy", "Deploy", "Deploy", "CodeDeploy", "Failed", started, external_id=external_id,
                  configuration={"ApplicationName": APPLICATION, "DeploymentGroupName": GROUP},
                  error=("JobFailed", message))


def build(status: str, phase: str, phase_status: str, context: tuple[str, str], started: datetime,
          stream: str = "5b1f6c0e-0000-4000-8000-000000000001", timeout: int = 20) -> dict:
    order = ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"]
    phases = [{"phaseType": p, "phaseStatus": "SUCCEEDED", "startTime": started, "durationInSeconds": 3,
               "contexts": [{"statusCode": "", "message": ""}]} for p in order[: order.index(phase)]]
    phases.append({"phaseType": phase, "phaseStatus": phase_status, "startTime": started, "durationInSeconds": 40,
                   "contexts": [{"statusCode": context[0], "message": context[1]}]})
    return {
        "id": BUILD_ID, "arn": f"arn:aws:codebuild:us-east-1:123456789012:build/{BUILD_ID}",
        "buildStatus": status, "currentPhase": phase, "projectName": BUILD_PROJECT, "buildComplete": True,
        "startTime": started, "endTime": started, "phases": phases, "timeoutInMinutes": timeout,
        "resolvedSourceVersion": BAD_SHA,
        "logs": {"groupName": BUILD_LOG_GROUP, "streamName": stream,
                 "deepLink": "https://console.aws.amazon.com/cloudwatch/home#logEvent"},
    }


def command_failed(command: str, status: int = 1) -> tuple[str, str]:
    return "COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {status}"


def deployment(code: str, message: str, started: datetime, ended: datetime | None, overview: dict,
               status: str = "Failed", rollback: dict | None = None) -> dict:
    info = {
        "applicationName": APPLICATION, "deploymentGroupName": GROUP, "deploymentId": DEPLOYMENT_ID,
        "deploymentConfigName": "CodeDeployDefault.OneAtATime", "status": status,
        "errorInformation": {"code": code, "message": message},
        "createTime": started, "startTime": started,
        "deploymentOverview": overview, "creator": "user",
    }
    if ended:
        info["completeTime"] = ended
    if rollback:
        info["rollbackInfo"] = rollback
    return info


def instance_target(instance: str, started: datetime, events: list[tuple[str, str, dict | None]]) -> dict:
    """events: (hook, status, diagnostics or None)."""
    lifecycle = []
    for hook, status, diagnostics in events:
        event = {"lifecycleEventName": hook, "status": status, "startTime": started, "endTime": started}
        if diagnostics:
            event["diagnostics"] = diagnostics
        lifecycle.append(event)
    return {"deploymentTargetType": "InstanceTarget", "instanceTarget": {
        "deploymentId": DEPLOYMENT_ID, "targetId": instance,
        "targetArn": f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}",
        "status": "Failed", "lastUpdatedAt": started, "lifecycleEvents": lifecycle}}


# In-place behind a load balancer: the traffic events around the hooks, AfterAllowTraffic (the bake) last.
HOOKS = ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle",
         "BeforeInstall", "Install", "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic",
         "AllowTraffic", "AfterAllowTraffic"]


def hooks_until(failed_hook: str, diagnostics: dict) -> list[tuple[str, str, dict | None]]:
    events = []
    for hook in HOOKS:
        if hook == failed_hook:
            events.append((hook, "Failed", diagnostics))
        elif events and events[-1][1] in ("Failed", "Skipped"):
            events.append((hook, "Skipped", None))
        else:
            events.append((hook, "Succeeded", None))
    return events


def queue_run(account: Account, latest: dict, actions: list[dict], *, last_success: dict | None = None,
              last_success_actions: list[dict] | None = None, newer: list[dict] | None = None,
              stage_state: dict | None = None) -> None:
    """Creates the pipeline (in moto) and queues the reads of one diagnosis, in the order diagnose makes them."""
    account.create_pipeline()
    codepipeline = account.stub["codepipeline"]
    codepipeline.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": [*(newer or []), latest, *([last_success] if last_success else [])]},
        {"pipelineName": PIPELINE, "maxResults": 10},
    )
    if latest["status"] == "Succeeded":
        return
    codepipeline.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": [last_success] if last_success else []},
        {"pipelineName": PIPELINE, "maxResults": 10, "filter": {"succeededInStage": {"stageName": "Deploy"}}},
    )
    codepipeline.add_response(
        "list_action_executions", {"actionExecutionDetails": actions},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": latest["pipelineExecutionId"]}},
    )
    if stage_state is not None:
        codepipeline.add_response("get_pipeline_state", stage_state, {"name": PIPELINE})
    if last_success:
        codepipeline.add_response(
            "list_action_executions", {"actionExecutionDetails": last_success_actions or []},
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": last_success["pipelineExecutionId"]}},
        )


def good_run(account: Account) -> tuple[dict, list[dict]]:
    started = account.ago(180)
    summary = execution("exec-good", "Succeeded", started, GOOD_SHA, "Add quotes endpoint")
    actions = [source_ok(started, "exec-good"), build_ok(started, "exec-good", GOOD_DIGEST)]
    return summary, actions


def bad_run(account: Account, status: str = "Failed") -> dict:
    return execution("exec-bad", status, account.ago(20), BAD_SHA, "Rework the quotes handler")


SCHEMA = json.loads(SCHEMA_PATH.read_text())


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`python -m ops ARGV` in process (the real entry point), returning (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def diagnose_json(capsys, *extra: str) -> tuple[int, dict]:
    """`python -m ops diagnose --pipeline app-prod --json`; the document is validated against schema.json."""
    code, out, _ = run_cli(capsys, "diagnose", "--pipeline", PIPELINE, "-s", "prod", "--json", *extra)
    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["exit_code"] == code
    return code, document


def kinds(document: dict) -> list[str]:
    return [item["kind"] for item in document["evidence"]]


def evidence_of(document: dict, kind: str) -> list[dict]:
    return [item for item in document["evidence"] if item["kind"] == kind]


def queue_alarms(account: Account, names: list[str], fired: dict | None = None, composite: str | None = None) -> None:
    """Queues DescribeAlarms for `names` and, for each alarm in `fired` (name -> (minutes ago, reason)), the
    DescribeAlarmHistory read that follows: only alarms that changed inside the window have their history read."""
    fired = fired or {}
    metric, composites = [], []
    for name in names:
        minutes, reason = fired.get(name, (600, "Threshold Crossed: no datapoints were breaching"))
        alarm = {"AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
                 "StateValue": "ALARM" if name in fired else "OK", "StateReason": reason,
                 "StateUpdatedTimestamp": account.ago(minutes)}
        if name == composite:
            composites.append(alarm | {"AlarmRule": " OR ".join(f'ALARM("{n}")' for n in METRIC_ALARMS)})
        else:
            metric.append(alarm | {"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB"})
    cloudwatch = account.stub["cloudwatch"]
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": metric, "CompositeAlarms": composites},
                            {"AlarmNames": names, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    for name in names:
        if name not in fired:
            continue
        minutes, reason = fired[name]
        item = {
            "AlarmName": name, "AlarmType": "CompositeAlarm" if name == composite else "MetricAlarm",
            "Timestamp": account.ago(minutes), "HistoryItemType": "StateUpdate",
            "HistorySummary": "Alarm updated from OK to ALARM",
            "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": "OK"},
                                       "newState": {"stateValue": "ALARM", "stateReason": reason}}),
        }
        cloudwatch.add_response(
            "describe_alarm_history", {"AlarmHistoryItems": [item]},
            {"AlarmName": name, "AlarmTypes": [item["AlarmType"]], "HistoryItemType": "StateUpdate",
             "StartDate": ANY, "EndDate": ANY,
             "MaxRecords": 20, "ScanBy": "TimestampDescending"})


def queue_deployment_group(account: Account, alarms: list[str]) -> None:
    account.stub["codedeploy"].add_response("get_deployment_group", {"deploymentGroupInfo": {
        "applicationName": APPLICATION, "deploymentGroupName": GROUP, "deploymentGroupId": "3f1c9a2e-group",
        "deploymentConfigName": "CodeDeployDefault.OneAtATime", "computePlatform": "Server",
        "serviceRoleArn": "arn:aws:iam::123456789012:role/app-prod-codedeploy",
        "alarmConfiguration": {"enabled": True, "ignorePollAlarmFailure": False,
                               "alarms": [{"name": name} for name in alarms]},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
    }}, {"applicationName": APPLICATION, "deploymentGroupName": GROUP})
