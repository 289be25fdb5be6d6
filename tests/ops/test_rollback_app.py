"""`ops rollback app`: moto server for the CodeDeploy calls it implements (applications, groups, listing and
creating deployments), botocore's Stubber for what moto cannot do (deployments that succeed or fail, waiting,
timeouts): choosing the revision, creating the deployment, following it."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from ops import cli, interrupts
from ops.aws import client
from ops.errors import OpsError
from ops.rollback import app
from tests.ops.fake_pulumi import FakePulumi

APP, GROUP = "delivery-app", "delivery-group"
GOOD = {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "app/build-1.zip", "bundleType": "zip"}}
BAD = {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "app/build-2.zip", "bundleType": "zip"}}
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def info(deployment_id, status, revision, minutes, overview=None, error=None):
    item = {
        "deploymentId": deployment_id,
        "applicationName": APP,
        "deploymentGroupName": GROUP,
        "status": status,
        "revision": revision,
        "createTime": T0 + timedelta(minutes=minutes),
        "deploymentOverview": overview or {"Pending": 0, "InProgress": 0, "Succeeded": 3, "Failed": 0, "Skipped": 0,
                                           "Ready": 0},
    }
    if error:
        item["errorInformation"] = error
    return item


def overview(succeeded, in_progress, pending, failed=0):
    return {"Pending": pending, "InProgress": in_progress, "Succeeded": succeeded, "Failed": failed, "Skipped": 0,
            "Ready": 0}


# --- moto ------------------------------------------------------------------------------------------------------------


def moto_group(with_deployment: bool) -> str | None:
    codedeploy = client("codedeploy")
    codedeploy.create_application(applicationName=APP, computePlatform="Server")
    codedeploy.create_deployment_group(
        applicationName=APP, deploymentGroupName=GROUP, serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy"
    )
    if with_deployment:
        return codedeploy.create_deployment(applicationName=APP, deploymentGroupName=GROUP, revision=GOOD)[
            "deploymentId"
        ]
    return None


def test_handles_come_from_the_stack_outputs_and_a_running_deployment_is_refused(aws, tmp_path, monkeypatch, capsys):
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack("prod", outputs={"codedeployApplication": APP, "codedeployDeploymentGroup": GROUP})
    deployment_id = moto_group(with_deployment=True)  # moto leaves it `Created`, i.e. still running
    assert cli.main(["rollback", "app", "-s", "prod", "--yes"]) == 2
    error = capsys.readouterr().err
    assert f"deployment {deployment_id} is still Created; wait for it to end or stop it" in error
    assert fake.commands() == ["stack output"]


def test_a_group_without_deployments_has_no_good_revision(aws, capsys):
    moto_group(with_deployment=False)
    assert cli.main(["rollback", "app", "--application", APP, "--deployment-group", GROUP, "--yes"]) == 2
    assert "the deployment group has no deployments" in capsys.readouterr().err


def test_flags_override_the_stack_outputs_and_need_no_pulumi(aws, tmp_path, monkeypatch, capsys):
    fake = FakePulumi(tmp_path).install(monkeypatch)
    moto_group(with_deployment=False)
    assert cli.main(["rollback", "app", "--application", APP, "--deployment-group", GROUP, "--dry-run"]) == 2
    assert fake.calls() == []


def test_a_missing_stack_output_names_the_flag(aws, tmp_path, monkeypatch, capsys):
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack("prod", outputs={"codedeployApplication": APP})
    assert cli.main(["rollback", "app", "-s", "prod"]) == 2
    assert "no output `codedeployDeploymentGroup`; pass --deployment-group" in capsys.readouterr().err


def test_listing_and_creating_against_moto(aws):
    first = moto_group(with_deployment=True)
    codedeploy = client("codedeploy")
    second = codedeploy.create_deployment(applicationName=APP, deploymentGroupName=GROUP, revision=BAD)["deploymentId"]
    listed = app.list_deployments(codedeploy, APP, GROUP)
    assert [item["deploymentId"] for item in listed] == [second, first]
    created = app.create(codedeploy, APP, GROUP, app.Choice(current=listed[0], target=listed[1]))
    new = codedeploy.get_deployment(deploymentId=created)["deploymentInfo"]
    assert new["revision"] == GOOD and new["deploymentGroupName"] == GROUP
    assert new["description"] == f"ops rollback app: redeploy the revision of {first} (replacing {second})"


def test_more_deployments_than_one_batch_are_all_read(aws):
    moto_group(with_deployment=False)
    codedeploy = client("codedeploy")
    ids = [
        codedeploy.create_deployment(applicationName=APP, deploymentGroupName=GROUP, revision=GOOD)["deploymentId"]
        for _ in range(app.BATCH_LIMIT + 5)
    ]
    listed = app.list_deployments(codedeploy, APP, GROUP)
    assert sorted(item["deploymentId"] for item in listed) == sorted(ids)
    assert [item["createTime"] for item in listed] == sorted((item["createTime"] for item in listed), reverse=True)


def test_no_region_is_a_clear_error(aws, monkeypatch, tmp_path, capsys):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    assert cli.main(["rollback", "app", "--application", APP, "--deployment-group", GROUP]) == 2
    assert capsys.readouterr().err == ("error: no AWS region configured; set AWS_REGION or use a profile with a "
                                       "region\n")


# --- Stubber ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch):
    codedeploy = boto3.client(
        "codedeploy", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setattr(app, "client", lambda service: codedeploy)
    with Stubber(codedeploy) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_listing(stubber, deployments):
    ids = [item["deploymentId"] for item in deployments]
    params = {"applicationName": APP, "deploymentGroupName": GROUP}
    stubber.add_response("list_deployments", {"deployments": ids}, params)
    stubber.add_response("batch_get_deployments", {"deploymentsInfo": deployments}, {"deploymentIds": ids})


def rollback(*extra):
    return cli.main(["rollback", "app", "--application", APP, "--deployment-group", GROUP, *extra])


HISTORY = [
    info("d-4", "Failed", BAD, 40),
    info("d-3", "Succeeded", BAD, 30),  # the same revision as the current one: redeploying it changes nothing
    info("d-2", "Failed", GOOD, 20),
    info("d-1", "Succeeded", GOOD, 10),
]


def test_chooses_the_last_success_with_another_revision_creates_it_and_waits_to_success(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    stubbed.add_response(
        "create_deployment",
        {"deploymentId": "d-5"},
        {
            "applicationName": APP,
            "deploymentGroupName": GROUP,
            "revision": GOOD,
            "description": "ops rollback app: redeploy the revision of d-1 (replacing d-4)",
        },
    )
    for status, counts in [("Created", overview(0, 0, 3)), ("InProgress", overview(1, 1, 1)),
                           ("InProgress", overview(1, 1, 1)), ("Succeeded", overview(3, 0, 0))]:
        stubbed.add_response("get_deployment", {"deploymentInfo": info("d-5", status, GOOD, 50, counts)},
                             {"deploymentId": "d-5"})
    assert rollback("--yes", "--poll-interval", "0.01", "--timeout", "10") == 0
    out = capsys.readouterr().out
    assert "target:  d-1 Succeeded" in out and "s3://artifacts/app/build-1.zip" in out
    assert "Created: instances 0/3 done" in out
    assert out.count("InProgress: instances 1/3 done") == 1  # printed when it changes, not on every poll
    assert "Succeeded: instances 3/3 done" in out and "deployment d-5 succeeded" in out


def test_a_failed_deployment_exits_non_zero_with_the_reason(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    stubbed.add_response("create_deployment", {"deploymentId": "d-5"})
    failed = info("d-5", "Failed", GOOD, 50, overview(1, 0, 0, failed=2),
                  error={"code": "HEALTH_CONSTRAINTS", "message": "too many instances failed"})
    stubbed.add_response("get_deployment", {"deploymentInfo": failed}, {"deploymentId": "d-5"})
    assert rollback("--yes", "--poll-interval", "0.01") == 1
    captured = capsys.readouterr()
    assert "Failed: instances 3/3 done, 2 failed" in captured.out
    assert "deployment d-5 ended Failed: HEALTH_CONSTRAINTS: too many instances failed" in captured.err


def test_waiting_is_bounded_by_the_timeout(stubbed):
    for _ in range(4):
        stubbed.add_response("get_deployment", {"deploymentInfo": info("d-5", "InProgress", GOOD, 50,
                                                                       overview(1, 1, 1))}, {"deploymentId": "d-5"})
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    codedeploy = app.client("codedeploy")
    with pytest.raises(OpsError, match="timed out after 30s waiting for deployment d-5") as raised:
        app.wait(codedeploy, "d-5", timeout=30, interval=10, clock=lambda: now[0], sleep=sleep)
    assert raised.value.exit_code == app.EXIT_TIMEOUT
    assert slept == [10, 10, 10]


def test_timeout_through_the_cli_exits_3(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    stubbed.add_response("create_deployment", {"deploymentId": "d-5"})
    # one poll at once, one at the deadline (the last sleep is cut to what is left of the timeout), then give up
    for _ in range(2):
        stubbed.add_response("get_deployment", {"deploymentInfo": info("d-5", "InProgress", GOOD, 50)})
    assert rollback("--yes", "--poll-interval", "5", "--timeout", "0.5") == 3
    assert "timed out after 0.5s waiting for deployment d-5 (last status InProgress)" in capsys.readouterr().err


def test_an_unknown_application_is_a_clear_error(stubbed, capsys):
    stubbed.add_client_error(
        "list_deployments", "ApplicationDoesNotExistException", "No application found for name: delivery-app"
    )
    assert rollback("--yes") == 2
    err = capsys.readouterr().err
    assert "error: listing the deployments of delivery-app/delivery-group failed: " in err
    assert "ApplicationDoesNotExistException: No application found" in err


def test_no_wait_returns_after_creating(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    stubbed.add_response("create_deployment", {"deploymentId": "d-5"})
    assert rollback("--yes", "--no-wait") == 0
    assert "follow it with: aws deploy get-deployment --deployment-id d-5" in capsys.readouterr().out


def test_dry_run_creates_nothing(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    assert rollback("--dry-run") == 0
    assert "dry run: nothing was changed" in capsys.readouterr().out


def test_to_deployment_picks_a_named_success(stubbed, capsys):
    expect_listing(stubbed, HISTORY)
    assert rollback("--to-deployment", "d-3", "--dry-run") == 0
    assert "target:  d-3 Succeeded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("history", "extra", "message"),
    [
        (HISTORY, ["--to-deployment", "d-2"], "deployment d-2 ended Failed; only a succeeded deployment"),
        (HISTORY, ["--to-deployment", "d-9"], "deployment d-9 is not a deployment of this deployment group"),
        ([info("d-2", "Succeeded", BAD, 20), info("d-1", "Succeeded", BAD, 10)], [],
         "no successful deployment with another revision precedes the current one (d-2)"),
        ([info("d-2", "InProgress", BAD, 20), info("d-1", "Succeeded", GOOD, 10)], [], "d-2 is still InProgress"),
    ],
)
def test_refusals_create_nothing(stubbed, capsys, history, extra, message):
    expect_listing(stubbed, history)
    assert rollback("--yes", *extra) == 2
    assert message in capsys.readouterr().err


def auto_rollback(deployment_id, status, revision, minutes, of):
    """A deployment CodeDeploy created to roll back deployment `of` (creator codeDeployRollback)."""
    return info(deployment_id, status, revision, minutes) | {
        "creator": "codeDeployRollback", "rollbackInfo": {"rollbackTriggeringDeploymentId": of}}


OLDER = {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "app/build-0.zip", "bundleType": "zip"}}


def test_a_succeeded_automatic_rollback_is_not_rolled_back_further(stubbed, capsys):
    expect_listing(stubbed, [auto_rollback("d-3", "Succeeded", GOOD, 30, of="d-2"), info("d-2", "Failed", BAD, 20),
                             info("d-1", "Succeeded", GOOD, 10), info("d-0", "Succeeded", OLDER, 0)])
    assert rollback("--yes") == 2
    error = capsys.readouterr().err
    assert "d-3 is CodeDeploy's automatic rollback of d-2 and it succeeded" in error
    assert "s3://artifacts/app/build-1.zip" in error


def test_after_a_failed_automatic_rollback_the_revision_it_tried_is_the_target(stubbed, capsys):
    expect_listing(stubbed, [auto_rollback("d-3", "Failed", GOOD, 30, of="d-2"), info("d-2", "Failed", BAD, 20),
                             info("d-1", "Succeeded", GOOD, 10), info("d-0", "Succeeded", OLDER, 0)])
    assert rollback("--dry-run") == 0
    assert "target:  d-1 Succeeded" in capsys.readouterr().out


def test_without_yes_a_non_interactive_run_creates_nothing(stubbed, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    expect_listing(stubbed, HISTORY)
    assert rollback() == 2
    assert "pass --yes" in capsys.readouterr().err


class Terminal:
    def isatty(self):
        return True


@pytest.mark.parametrize(("answer", "code", "created"), [("n", 1, False), ("y", 0, True)])
def test_the_operator_is_asked_before_the_deployment_is_created(stubbed, capsys, monkeypatch, answer, code, created):
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: print(prompt) or answer)
    expect_listing(stubbed, HISTORY)
    if created:
        stubbed.add_response("create_deployment", {"deploymentId": "d-5"})
    assert rollback("--no-wait") == code
    captured = capsys.readouterr()
    assert "Create this deployment? [y/N]" in captured.out
    assert ("created deployment d-5" in captured.out) is created
    assert ("cancelled: no deployment was created" in captured.err) is not created


def test_a_running_automatic_rollback_is_waited_for_not_doubled(stubbed, capsys):
    """CodeDeploy owns the automatic rollback; a second deployment into the group would be refused anyway."""
    expect_listing(stubbed, [auto_rollback("d-3", "InProgress", GOOD, 30, of="d-2"), info("d-2", "Stopped", BAD, 20),
                             info("d-1", "Succeeded", GOOD, 10)])
    assert rollback("--yes") == 2
    error = capsys.readouterr().err
    assert "CodeDeploy is already rolling back d-2: its automatic rollback d-3 is InProgress" in error
    assert "aws deploy get-deployment --deployment-id d-3" in error


def test_the_rollback_deployment_is_marked_so_the_bake_hook_skips_it():
    hook = (Path(__file__).resolve().parents[2] / "app" / "hooks" / "after_allow_traffic.sh").read_text()
    assert f'startswith("{app.DESCRIPTION_PREFIX}")' in hook


# --- faults while creating or following the deployment --------------------------------------------------------------


class Raising:
    """A CodeDeploy client whose `method` raises `error` (botocore's own exception, after its retries)."""

    def __init__(self, real, method: str, error: BaseException):
        self.real, self.method, self.error = real, method, error

    def __getattr__(self, name):
        if name == self.method:
            def fail(**_):
                raise self.error
            return fail
        return getattr(self.real, name)


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), interrupts.Interrupted(signal.SIGTERM)],
                         ids=["KeyboardInterrupt", "SIGTERM"])
def test_a_signal_while_waiting_says_the_deployment_goes_on(stubbed, stop):
    stubbed.add_response("get_deployment", {"deploymentInfo": info("d-5", "InProgress", GOOD, 50)})

    def interrupted(_seconds):
        raise stop

    with pytest.raises(interrupts.Interrupted) as raised:
        app.wait(app.client("codedeploy"), "d-5", timeout=30, interval=10, sleep=interrupted)

    name, code = ("SIGTERM", 143) if isinstance(stop, interrupts.Interrupted) else ("SIGINT", 130)
    assert raised.value.exit_code == code
    assert raised.value.message() == (f"interrupted ({name}) during the wait for deployment d-5: it goes on in "
                                      "CodeDeploy (only the wait stopped); follow it with: aws deploy "
                                      "get-deployment --deployment-id d-5")


def test_losing_sight_of_the_deployment_says_it_goes_on_and_exits_3(stubbed, capsys):
    timeout = ReadTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/")
    codedeploy = Raising(app.client("codedeploy"), "get_deployment", timeout)

    with pytest.raises(OpsError) as raised:
        app.wait(codedeploy, "d-5", timeout=30, interval=10)

    assert raised.value.exit_code == app.EXIT_TIMEOUT
    message = str(raised.value)
    assert message.startswith("could not follow deployment d-5: AWS did not answer")
    assert message.endswith("; it goes on in CodeDeploy: aws deploy get-deployment --deployment-id d-5")


def test_a_create_that_got_no_answer_says_the_deployment_may_exist(stubbed):
    timeout = ReadTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/")
    codedeploy = Raising(app.client("codedeploy"), "create_deployment", timeout)
    listed = app.Choice(current=HISTORY[0], target=HISTORY[3])

    with pytest.raises(OpsError) as raised:
        app.create(codedeploy, APP, GROUP, listed)

    message = str(raised.value)
    assert message.startswith("creating the rollback deployment failed: AWS did not answer")
    assert message.endswith(f"; it may have been created all the same: look before running this again (aws deploy "
                            f"list-deployments --application-name {APP} --deployment-group-name {GROUP} "
                            f"--include-only-statuses Created Queued InProgress)")


def test_ctrl_c_while_creating_says_the_deployment_may_exist_and_exits_130(stubbed):
    codedeploy = Raising(app.client("codedeploy"), "create_deployment", KeyboardInterrupt())

    with pytest.raises(interrupts.Interrupted) as raised:
        app.create(codedeploy, APP, GROUP, app.Choice(current=HISTORY[0], target=HISTORY[3]))

    assert raised.value.exit_code == 130
    assert raised.value.message().startswith("interrupted (SIGINT) during CreateDeployment: the rollback "
                                             "deployment may have been created all the same; look before running "
                                             "this again (aws deploy list-deployments")


def test_the_plan_prints_times_in_utc_to_the_second(stubbed, capsys):
    local = timezone(timedelta(hours=-5))
    history = [dict(item, createTime=item["createTime"].astimezone(local).replace(microsecond=250000))
               for item in HISTORY]
    expect_listing(stubbed, history)

    assert rollback("--dry-run") == 0
    assert "target:  d-1 Succeeded at 2026-11-20T09:10:00+00:00" in capsys.readouterr().out
