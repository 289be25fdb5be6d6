"""A failed Deploy action (provider CodeDeploy): diagnose reads the deployment's error and rollback, the failed
instances' lifecycle events, and the deployment alarms (the group's and the stage condition's) in its window."""

from __future__ import annotations

import pytest

from tests.ops.diagnose.account import COMPOSITE_ALARM, METRIC_ALARMS
from tests.ops.diagnose.builders import (
    DEPLOYMENT_ID,
    action,
    bad_run,
    build_ok,
    deploy_failed,
    deployment,
    diagnose_json,
    evidence_of,
    execution,
    good_run,
    hooks_until,
    instance_target,
    queue_alarms,
    queue_deployment_group,
    queue_run,
    source_ok,
)

ALARM_ORDER = [COMPOSITE_ALARM, *METRIC_ALARMS]  # the stage condition's first, then the deployment group's
HEALTHZ_TAIL = "[stdout]waiting for http://127.0.0.1:8080/healthz\n[stderr]/healthz did not return 200 within 120s\n"


def _approved(account) -> dict:
    return action("Approval", "Approve", "Approval", "Manual", "Succeeded", account.ago(18),
                  updated_by="arn:aws:iam::123456789012:user/lead")


def _deploy_scenario(account, info: dict | None, targets: list[dict], *, fired: dict | None = None,
                     newer: list[dict] | None = None, deploy_action: dict | None = None,
                     rollback_status: str | None = "Succeeded", denied: str | None = None) -> None:
    """Queues a run whose Deploy action failed with deployment `info`; `fired` maps alarm -> (minutes ago, reason);
    `denied` names the deployment-target read that is refused (list_deployment_targets, batch_get_...)."""
    good, good_actions = good_run(account)
    started = account.ago(20)
    actions = [source_ok(started), build_ok(started), _approved(account), deploy_action or deploy_failed(started)]
    queue_run(account, bad_run(account), actions, last_success=good, last_success_actions=good_actions,
              newer=newer)
    codedeploy = account.stub["codedeploy"]
    if info is not None:
        codedeploy.add_response("get_deployment", {"deploymentInfo": info}, {"deploymentId": DEPLOYMENT_ID})
        _queue_targets(account, targets, denied)
        rollback_id = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if rollback_id:  # diagnose checks whether CodeDeploy's automatic rollback finished
            rolled = {**info, "deploymentId": rollback_id, "status": rollback_status, "creator": "codeDeployRollback"}
            rolled.pop("errorInformation", None)
            rolled.pop("rollbackInfo", None)
            if rollback_status is None:
                codedeploy.add_client_error("get_deployment", "AccessDeniedException", "not allowed")
            else:
                codedeploy.add_response("get_deployment", {"deploymentInfo": rolled}, {"deploymentId": rollback_id})
    queue_deployment_group(account, METRIC_ALARMS)
    queue_alarms(account, ALARM_ORDER, fired, composite=COMPOSITE_ALARM)


def _queue_targets(account, targets: list[dict], denied: str | None) -> None:
    codedeploy = account.stub["codedeploy"]
    ids = [t["instanceTarget"]["targetId"] for t in targets]
    for operation, answer, params in [
        ("list_deployment_targets", {"targetIds": ids},
         {"deploymentId": DEPLOYMENT_ID, "targetFilters": {"TargetStatus": ["Failed"]}}),
        ("batch_get_deployment_targets", {"deploymentTargets": targets}, {"deploymentId": DEPLOYMENT_ID,
                                                                          "targetIds": ids}),
    ]:
        if operation == "batch_get_deployment_targets" and not ids:
            return
        if operation == denied:
            action = "".join(word.title() for word in operation.split("_"))
            codedeploy.add_client_error(operation, "AccessDeniedException", (
                f"User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: codedeploy:{action} on "
                f"resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app-prod/app-prod-fleet"))
            return
        codedeploy.add_response(operation, answer, params)


def _targets(account, count: int, hook: str, diagnostics: dict) -> list[dict]:
    return [instance_target(f"i-0{n}aaaaaaaaaaaaaa", account.ago(10), hooks_until(hook, diagnostics))
            for n in range(count)]


def test_validate_service_timing_out_is_a_failed_health_check(account, capsys):
    diagnostics = {"errorCode": "ScriptTimedOut", "scriptName": "hooks/validate_service.sh",
                   "message": "Script at specified location: hooks/validate_service.sh failed to complete in 180 "
                              "seconds", "logTail": HEALTHZ_TAIL}
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed because too many individual instances "
                      "failed deployment, too few healthy instances are available for deployment, or some instances "
                      "in your deployment group are experiencing problems.", account.ago(15), account.ago(3),
                      {"Succeeded": 2, "Failed": 2})
    _deploy_scenario(account, info, _targets(account, 2, "ValidateService", diagnostics))

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"] == {"class": "health_check_failed", "title": "health check failed",
                                 "detail": "ValidateService", "raw_error": None}
    assert document["verdict"] == ("Deploy failed: ValidateService timed out on 2 of 4 instances; "
                                   "/healthz did not return 200 within 120s")
    assert document["stage"] == "Deploy" and document["action"]["external_execution_id"] == DEPLOYMENT_ID
    [lifecycle] = evidence_of(document, "lifecycle_event")  # one item per distinct failure, with its count
    assert lifecycle["summary"].startswith("i-00aaaaaaaaaaaaaa (and 1 more instance): ValidateService ScriptTimedOut")
    event = lifecycle["detail"]
    assert event["instances"] == 2
    assert event["hook"] == "ValidateService" and event["error_code"] == "ScriptTimedOut"
    assert event["script"] == "hooks/validate_service.sh" and event["log_tail"] == HEALTHZ_TAIL
    assert "python -m ops rollback app -s prod" in document["next_step"]
    assert [a["name"] for a in document["alarms"]] == ALARM_ORDER
    assert not any(a["fired_in_window"] for a in document["alarms"])


def test_another_hook_failing_is_a_hook_script_failure_naming_the_hook(account, capsys):
    diagnostics = {"errorCode": "ScriptFailed", "scriptName": "hooks/start.sh",
                   "message": "Script at specified location: hooks/start.sh run as user root failed with exit code 125",
                   "logTail": "[stderr]docker: Error response from daemon: manifest unknown.\n"}
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed because too many individual instances "
                      "failed deployment", account.ago(15), account.ago(3), {"Succeeded": 2, "Failed": 1})
    _deploy_scenario(account, info, _targets(account, 1, "ApplicationStart", diagnostics))

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "hook_script_failed"
    assert document["cause"]["detail"] == "ApplicationStart"
    assert document["verdict"] == ("Deploy failed: ApplicationStart hook failed on 1 of 3 instances (ScriptFailed); "
                                   "docker: Error response from daemon: manifest unknown.")
    assert "ApplicationStart hook script" in document["next_step"]


def test_lifecycle_events_that_never_ran_mean_the_agent_is_not_running(account, capsys):
    pending = [(hook, "Pending", None) for hook in ("ApplicationStop", "DownloadBundle", "BeforeInstall")]
    targets = [instance_target(f"i-0{n}bbbbbbbbbbbbbb", account.ago(10), pending) for n in range(3)]
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed because too many individual instances "
                      "failed deployment", account.ago(15), account.ago(3), {"Failed": 3})
    _deploy_scenario(account, info, targets)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "agent_not_running"
    assert document["verdict"] == ("Deploy failed: lifecycle events never ran on 3 of 3 instances; "
                                   "the CodeDeploy agent is not running")
    assert "systemctl start codedeploy-agent" in document["next_step"]


def test_an_alarm_stopping_the_deployment_is_named_with_its_reason(account, capsys):
    reason = "Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0)."
    info = deployment("ALARM_ACTIVE", "The deployment was stopped because one or more alarms were activated.",
                      account.ago(15), account.ago(2), {"Succeeded": 1, "Pending": 2, "Skipped": 0},
                      status="Stopped", rollback={"rollbackDeploymentId": "d-ROLLBACK1",
                                                  "rollbackMessage": "Deployment rolled back on alarm"})
    rollback = execution("exec-rollback", "Succeeded", account.ago(1), "1" * 40, "Add quotes endpoint",
                         executionType="ROLLBACK", trigger={"triggerType": "AutomatedRollback"})
    _deploy_scenario(account, info, [], fired={"app-prod-5xx": (5, reason)}, newer=[rollback])

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["execution"]["id"] == "exec-bad"  # the rollback execution is not the deployment diagnosed
    assert document["cause"]["class"] == "stopped_by_alarm" and document["cause"]["detail"] == "app-prod-5xx"
    assert document["verdict"] == "Deploy failed: stopped by alarm app-prod-5xx"
    fired = [a for a in document["alarms"] if a["fired_in_window"]]
    assert [a["name"] for a in fired] == ["app-prod-5xx"] and fired[0]["reason"] == reason
    assert fired[0]["transitions"][0]["to_alarm"] is True
    summaries = " | ".join(e["summary"] for e in evidence_of(document, "rollback"))
    assert "d-ROLLBACK1" in summaries and "exec-rollback" in summaries
    assert evidence_of(document, "alarm")[0]["detail"]["name"] == "app-prod-5xx"


ROLLS_BACK = ("roll back", "rollback app", "if it did not", "confirm")  # what no step says after a success


@pytest.mark.parametrize(("status", "says", "never_says"), [
    ("Succeeded", "CodeDeploy's automatic rollback d-ROLLBACK1 succeeded: the last good revision runs again, so "
                  "there is nothing to roll back.", ROLLS_BACK),
    ("InProgress", "CodeDeploy's automatic rollback d-ROLLBACK1 is InProgress: wait for it to end and start no other "
                   "deployment meanwhile", ("python -m ops rollback app",)),
    ("Failed", "CodeDeploy's automatic rollback d-ROLLBACK1 ended Failed: roll back yourself "
               "(python -m ops rollback app -s prod).", ("succeeded",)),
    (None, "CodeDeploy started rollback d-ROLLBACK1 but it could not be read: check it with aws deploy get-deployment "
           "--deployment-id d-ROLLBACK1, and only if it did not succeed roll back (python -m ops rollback app -s "
           "prod).", ("succeeded",)),
])
def test_the_next_step_follows_what_codedeploys_own_rollback_did(account, capsys, status, says, never_says):
    """CodeDeploy owns the automatic rollback: diagnose reads whether it finished and never asks for a second one
    after it succeeded, nor claims it finished when it could not read it."""
    info = deployment("ALARM_ACTIVE", "The deployment was stopped because one or more alarms were activated.",
                      account.ago(15), account.ago(2), {"Succeeded": 1, "Pending": 2}, status="Stopped",
                      rollback={"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "rolled back on alarm"})
    _deploy_scenario(account, info, [], fired={"app-prod-5xx": (5, "Threshold Crossed")}, rollback_status=status)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["next_step"].startswith(says)
    after = document["next_step"][len(says):]
    assert not [text for text in never_says if text in after]
    (rollback,) = evidence_of(document, "rollback")
    assert rollback["detail"].get("status") == status
    if status is None:
        assert any("codedeploy:GetDeployment" in gap or "GetDeployment" in gap for gap in document["gaps"])


@pytest.mark.parametrize(("code", "message", "cause", "detail", "verdict"), [
    ("IAM_ROLE_PERMISSIONS", "The IAM role arn:aws:iam::123456789012:role/codedeploy does not give you permission "
     "to perform operations in the following AWS service: AmazonAutoScaling. Contact your AWS administrator if you "
     "need help.", "missing_permissions", "AmazonAutoScaling actions for the CodeDeploy service role",
     "Deploy failed: missing permissions: AmazonAutoScaling actions for the CodeDeploy service role"),
    ("REVISION_MISSING", "The revision cannot be found: s3://app-prod-artifacts/app-prod/bundle/AbCd.zip",
     "revision_missing", None,
     "Deploy failed: revision missing: The revision cannot be found: s3://app-prod-artifacts/app-prod/bundle/AbCd.zip"),
    ("TIMEOUT", "The deployment timed out while waiting for the instances to finish.", "deploy_timed_out", None,
     "Deploy failed: deployment timed out: The deployment timed out while waiting for the instances to finish."),
    ("HEALTH_CONSTRAINTS_INVALID", "The minimum number of healthy instances cannot be satisfied by the deployment "
     "group.", "too_few_healthy_hosts", "HEALTH_CONSTRAINTS_INVALID",
     "Deploy failed: too few healthy hosts: The minimum number of healthy instances cannot be satisfied by the "
     "deployment group."),
    ("AGENT_ISSUE", "The deployment failed because of a problem with the CodeDeploy agent.", "agent_not_running",
     None, "Deploy failed: the CodeDeploy agent is not running on the instances"),
    ("INTERNAL_ERROR", "An internal error occurred.", "unknown", None,
     "Deploy failed: deployment failed: INTERNAL_ERROR"),
])
def test_a_deployment_error_code_decides_when_no_instance_says_more(account, capsys, code, message, cause, detail,
                                                                      verdict):
    info = deployment(code, message, account.ago(15), account.ago(3), {"Pending": 3})
    _deploy_scenario(account, info, [])

    exit_code, document = diagnose_json(capsys)

    assert exit_code == 1
    assert document["cause"]["class"] == cause
    assert document["cause"]["detail"] == detail
    assert document["verdict"] == verdict
    assert evidence_of(document, "deployment")[0]["detail"]["error_code"] == code
    if cause == "unknown":
        assert document["cause"]["raw_error"] == f"{code}: {message}"


def test_a_pipeline_role_that_cannot_create_deployments_is_missing_permissions(account, capsys):
    message = ("User: arn:aws:sts::123456789012:assumed-role/app-pipeline/123 is not authorized to perform: "
               "codedeploy:CreateDeployment on resource: arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup")
    _deploy_scenario(account, None, [], deploy_action=deploy_failed(account.ago(20), external_id=None,
                                                                   message=message))

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "missing_permissions"
    assert document["cause"]["detail"] == "codedeploy:CreateDeployment"
    assert "codedeploy:CreateDeployment" in document["next_step"]
    assert evidence_of(document, "action_error")[0]["summary"] == f"JobFailed: {message}"


def test_a_deployment_aws_no_longer_keeps_is_a_gap_not_a_crash(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(20)
    queue_run(account, bad_run(account), [source_ok(started), build_ok(started), deploy_failed(started)],
              last_success=good, last_success_actions=good_actions)
    account.stub["codedeploy"].add_client_error(
        "get_deployment", "DeploymentDoesNotExistException", f"The deployment {DEPLOYMENT_ID} could not be found.")

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "unknown"
    assert document["cause"]["raw_error"] == f"JobFailed: Deployment {DEPLOYMENT_ID} failed"
    assert document["gaps"] == [
        "could not read everything: codedeploy:GetDeployment failed: DeploymentDoesNotExistException: "
        f"The deployment {DEPLOYMENT_ID} could not be found."]


def test_a_deployment_group_that_cannot_be_read_leaves_a_gap_and_the_stage_alarms_are_still_checked(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(20)
    actions = [source_ok(started), build_ok(started), _approved(account), deploy_failed(started)]
    queue_run(account, bad_run(account), actions, last_success=good, last_success_actions=good_actions)
    codedeploy = account.stub["codedeploy"]
    info = deployment("HEALTH_CONSTRAINTS", "too many individual instances failed deployment", account.ago(15),
                      account.ago(3), {"Succeeded": 2, "Failed": 1})
    codedeploy.add_response("get_deployment", {"deploymentInfo": info}, {"deploymentId": DEPLOYMENT_ID})
    codedeploy.add_response("list_deployment_targets", {"targetIds": []},
                            {"deploymentId": DEPLOYMENT_ID, "targetFilters": {"TargetStatus": ["Failed"]}})
    codedeploy.add_client_error("get_deployment_group", "DeploymentGroupDoesNotExistException",
                                "No Deployment Group found for name: app-prod-fleet")
    queue_alarms(account, [COMPOSITE_ALARM], composite=COMPOSITE_ALARM)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert [a["name"] for a in document["alarms"]] == [COMPOSITE_ALARM]
    assert any("DeploymentGroupDoesNotExistException" in gap for gap in document["gaps"])


# --- the next step never contradicts the evidence ---------------------------------------------------------------------


def _validate_service_timeout(account) -> list[dict]:
    diagnostics = {"errorCode": "ScriptTimedOut", "scriptName": "hooks/validate_service.sh",
                   "message": "Script at specified location: hooks/validate_service.sh failed to complete in 300 "
                              "seconds", "logTail": HEALTHZ_TAIL}
    return _targets(account, 1, "ValidateService", diagnostics)


def _start_failed(account) -> list[dict]:
    diagnostics = {"errorCode": "ScriptFailed", "scriptName": "hooks/application_start.sh",
                   "message": "Script at specified location: hooks/application_start.sh run as user root failed "
                              "with exit code 125", "logTail": "[stderr]docker: manifest unknown.\n"}
    return _targets(account, 1, "ApplicationStart", diagnostics)


ROLLED_BACK = {"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "Deployment rolled back"}
CAUSES_WITH_A_ROLLBACK = {
    "health_check_failed": ("HEALTH_CONSTRAINTS", _validate_service_timeout,
                            "The new version never became healthy: run the image locally"),
    "hook_script_failed": ("HEALTH_CONSTRAINTS", _start_failed, "fix the ApplicationStart hook script"),
    "deploy_timed_out": ("TIMEOUT", lambda account: [], "Find the step that hung"),
    "too_few_healthy_hosts": ("HEALTH_CONSTRAINTS", lambda account: [], "Check the fleet"),
}


def _rolled_back(account, cause: str, rollback_status: str) -> str:
    """Queues a deployment that failed with `cause` and that CodeDeploy rolled back (the rollback now
    `rollback_status`); returns the fix the next step must name."""
    code, targets, fix = CAUSES_WITH_A_ROLLBACK[cause]
    info = deployment(code, "The overall deployment failed.", account.ago(15), account.ago(3),
                      {"Succeeded": 3, "Failed": 1}, rollback=ROLLED_BACK)
    _deploy_scenario(account, info, targets(account), rollback_status=rollback_status)
    return fix

@pytest.mark.parametrize("cause", sorted(CAUSES_WITH_A_ROLLBACK))
def test_after_a_succeeded_rollback_no_step_asks_to_roll_back(account, capsys, cause):
    fix = _rolled_back(account, cause, "Succeeded")

    _, document = diagnose_json(capsys)

    assert document["cause"]["class"] == cause
    step = document["next_step"]
    assert step.startswith("CodeDeploy's automatic rollback d-ROLLBACK1 succeeded: the last good revision runs again")
    assert fix.lower() in step.lower()
    assert not [text for text in ROLLS_BACK if text in step.split("nothing to roll back.", 1)[1].lower()]


@pytest.mark.parametrize("cause", sorted(CAUSES_WITH_A_ROLLBACK))
def test_while_the_rollback_runs_the_step_says_wait_before_anything_else(account, capsys, cause):
    fix = _rolled_back(account, cause, "InProgress")

    _, document = diagnose_json(capsys)

    step = document["next_step"]
    assert step.startswith("CodeDeploy's automatic rollback d-ROLLBACK1 is InProgress: wait for it to end and start "
                           "no other deployment meanwhile")
    assert "python -m ops rollback app" not in step
    assert step.lower().index(fix.lower()) > step.index("wait")


def test_without_any_rollback_the_step_says_so_and_gives_the_command(account, capsys):
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed.", account.ago(15), account.ago(3),
                      {"Succeeded": 3, "Failed": 1})
    _deploy_scenario(account, info, _validate_service_timeout(account))

    _, document = diagnose_json(capsys)

    assert document["next_step"].startswith("No automatic rollback is recorded: roll back "
                                            "(python -m ops rollback app -s prod).")
    assert "confirm" not in document["next_step"]


# --- a refused read of the deployment targets -------------------------------------------------------------------------


@pytest.mark.parametrize("fired", [None, {"app-prod-5xx": (5, "Threshold Crossed")}], ids=["no alarm", "an alarm"])
@pytest.mark.parametrize(("denied", "permission"), [("list_deployment_targets", "codedeploy:ListDeploymentTargets"),
                                                    ("batch_get_deployment_targets",
                                                     "codedeploy:BatchGetDeploymentTargets")])
def test_unreadable_targets_do_not_turn_an_instance_failure_into_too_few_healthy_hosts(account, capsys, denied,
                                                                                         permission, fired):
    """One instance failed its ValidateService hook; without the targets diagnose cannot say which hook, and must
    not say the fleet lacked healthy hosts either."""
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed because too many individual instances "
                      "failed deployment, too few healthy instances are available for deployment, or some instances "
                      "in your deployment group are experiencing problems.", account.ago(15), account.ago(3),
                      {"Succeeded": 3, "Failed": 1})
    _deploy_scenario(account, info, _validate_service_timeout(account), fired=fired, denied=denied)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "unknown"  # not too_few_healthy_hosts, and not the alarm either
    assert document["cause"]["detail"] == f"missing permission {permission}"
    assert document["cause"]["raw_error"].startswith("HEALTH_CONSTRAINTS: The overall deployment failed")
    assert document["verdict"] == (f"Deploy failed: 1 of 4 instances failed; which lifecycle event failed could not "
                                   f"be read (missing permission {permission})")
    assert f"could not read everything: missing permission {permission}" in document["gaps"]
    assert permission in document["next_step"]
    assert "aws deploy list-deployment-targets --deployment-id d-ABCDEF123 --target-filters TargetStatus=Failed" \
        in document["next_step"]
    assert "Check the fleet" not in document["next_step"]


# --- the bake: AfterAllowTraffic of the last wave ---------------------------------------------------------------------


def _bake_targets(account, error_code: str, message: str, tail: str) -> list[dict]:
    diagnostics = {"errorCode": error_code, "scriptName": "hooks/after_allow_traffic.sh", "message": message,
                   "logTail": tail}
    return _targets(account, 1, "AfterAllowTraffic", diagnostics)


def test_an_alarm_during_the_bake_is_stopped_by_alarm_during_the_bake_of_the_last_wave(account, capsys):
    info = deployment("ALARM_ACTIVE", "The deployment was stopped because one or more alarms were activated.",
                      account.ago(15), account.ago(2), {"Succeeded": 3, "Failed": 1}, status="Stopped",
                      rollback=ROLLED_BACK)
    targets = _bake_targets(account, "ScriptFailed", "Script at specified location: hooks/after_allow_traffic.sh "
                            "failed", "[stdout]AfterAllowTraffic: baked 120s of 600s\n")
    _deploy_scenario(account, info, targets, fired={"app-prod-5xx": (5, "Threshold Crossed")})

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "stopped_by_alarm" and document["cause"]["detail"] == "app-prod-5xx"
    assert document["verdict"] == "Deploy failed: stopped by alarm app-prod-5xx during the bake of the last wave"
    assert document["next_step"].startswith("CodeDeploy's automatic rollback d-ROLLBACK1 succeeded")
    assert "app-prod-5xx" in document["next_step"]


@pytest.mark.parametrize(("error_code", "verb"), [("ScriptTimedOut", "timed out"), ("ScriptFailed", "failed")])
def test_the_bake_hook_failing_by_itself_is_a_hook_failure_of_the_bake(account, capsys, error_code, verb):
    info = deployment("HEALTH_CONSTRAINTS", "The overall deployment failed.", account.ago(70), account.ago(3),
                      {"Succeeded": 3, "Failed": 1}, rollback=ROLLED_BACK)
    targets = _bake_targets(account, error_code, "Script at specified location: hooks/after_allow_traffic.sh failed "
                            "to complete in 3600 seconds", "[stderr]AfterAllowTraffic: cannot read deployment\n")
    _deploy_scenario(account, info, targets)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "hook_script_failed" and document["cause"]["detail"] == "AfterAllowTraffic"
    assert document["verdict"] == (f"Deploy failed: AfterAllowTraffic hook (the bake of the last wave) {verb} on 1 "
                                   f"of 4 instances ({error_code}); AfterAllowTraffic: cannot read deployment")
    assert "BAKE_MINUTES" in document["next_step"] and "after_allow_traffic.sh" in document["next_step"]
