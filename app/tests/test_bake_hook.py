"""The bake (AfterAllowTraffic): the last wave of a release keeps its deployment in progress for the bake time, so
CodeDeploy's alarm watch and automatic rollback cover it; nothing else bakes, and a stopped deployment is never
held up. Run from a bundle as the agent runs it, on an instance whose deploy.env sets the bake time, with a
stand-in `aws` answering GetDeployment."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml

from app.tests.conftest import APP, run_hook

DEPLOYMENT_ID = "d-ABCDEFGHI"


def deployment(status="InProgress", creator="user", pending=0, description="") -> dict:
    return {"deploymentId": DEPLOYMENT_ID, "status": status, "creator": creator, "description": description,
            "deploymentOverview": {"Pending": pending, "InProgress": 1, "Succeeded": 2, "Failed": 0,
                                   "Skipped": 0, "Ready": 0}}


def bake(bundle, instance, answers, **env):
    settings = instance.env(DEPLOYMENT_ID=DEPLOYMENT_ID, HOOK_BAKE_POLL_SECONDS="0.1",
                            STANDIN_DEPLOYMENTS=json.dumps(answers), **env)
    started = time.monotonic()
    result = run_hook(bundle(), "after_allow_traffic.sh", settings)
    return result, time.monotonic() - started


def test_the_last_wave_bakes_for_the_bake_time_while_the_deployment_stays_in_progress(bundle, instance, standins):
    result, took = bake(bundle, instance, [deployment()], HOOK_BAKE_SECONDS="1")
    assert result.returncode == 0, result.stderr
    assert took >= 1
    assert "AfterAllowTraffic: last wave of d-ABCDEFGHI: baking for 1s" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "AfterAllowTraffic: baked 1s and CodeDeploy saw no alarm: the release is good")
    reads = standins.commands("aws")
    assert len(reads) >= 3  # it keeps asking, so it would notice a stop
    assert reads[0] == ["deploy", "get-deployment", "--region", "us-east-1", "--deployment-id", DEPLOYMENT_ID,
                        "--output", "json"]


def test_the_bake_time_comes_from_the_instances_deploy_env(bundle, instance):
    result = run_hook(bundle(), "after_allow_traffic.sh", instance.env(
        bake_minutes=7, DEPLOYMENT_ID=DEPLOYMENT_ID, HOOK_BAKE_POLL_SECONDS="0.1",
        STANDIN_DEPLOYMENTS=json.dumps([deployment(), deployment(status="Stopped")])))
    assert result.returncode == 0, result.stderr
    assert "baking for 420s" in result.stdout


@pytest.mark.parametrize("status", ["Stopped", "Failed"])
def test_the_bake_ends_at_once_when_codedeploy_stops_the_deployment(bundle, instance, status):
    """An alarm stops the deployment; CodeDeploy's rollback must not wait for the bake on this instance."""
    answers = [deployment(), deployment(), deployment(status=status)]
    result, took = bake(bundle, instance, answers, HOOK_BAKE_SECONDS="60")
    assert result.returncode == 0, result.stderr
    assert took < 10
    assert result.stdout.splitlines()[-1] == (
        f"AfterAllowTraffic: deployment {DEPLOYMENT_ID} is {status}: the bake ends here")


def test_an_earlier_wave_does_not_bake(bundle, instance):
    result, took = bake(bundle, instance, [deployment(pending=2)], HOOK_BAKE_SECONDS="60")
    assert result.returncode == 0, result.stderr
    assert took < 10
    assert result.stdout.strip() == (
        "AfterAllowTraffic: no bake on this wave: 2 instance(s) of deployment d-ABCDEFGHI still to go")


@pytest.mark.parametrize("creator", ["autoscaling", "codeDeployRollback"])
def test_new_instances_and_codedeploys_own_rollbacks_do_not_bake(bundle, instance, creator):
    result, took = bake(bundle, instance, [deployment(creator=creator)], HOOK_BAKE_SECONDS="60")
    assert result.returncode == 0, result.stderr
    assert took < 10
    assert result.stdout.strip() == f"AfterAllowTraffic: no bake: deployment {DEPLOYMENT_ID} was started by {creator}"


def test_an_operators_app_rollback_does_not_bake(bundle, instance):
    answer = deployment(description="ops rollback app: redeploy the revision of d-OLD (replacing d-NEW)")
    result, took = bake(bundle, instance, [answer], HOOK_BAKE_SECONDS="60")
    assert result.returncode == 0, result.stderr
    assert took < 10
    assert "is an operator's rollback" in result.stdout


def test_an_unreadable_deployment_fails_the_hook_with_one_line(bundle, instance):
    result, _ = bake(bundle, instance, [], STANDIN_AWS_EXIT="254")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "AfterAllowTraffic: cannot read deployment d-ABCDEFGHI (codedeploy:GetDeployment)")


def test_a_read_error_during_the_bake_does_not_end_it(bundle, instance):
    """Losing sight of the deployment for a poll is no reason to cut the bake short (CodeDeploy still watches)."""
    result, took = bake(bundle, instance, [deployment(), {"not": "a deployment"}], HOOK_BAKE_SECONDS="1")
    assert result.returncode == 0, result.stderr
    assert took >= 1
    assert "could not read deployment d-ABCDEFGHI; baking on" in result.stderr


def test_the_hook_needs_the_deployment_id_the_agent_sets(bundle, instance):
    result = run_hook(bundle(), "after_allow_traffic.sh", instance.env(STANDIN_DEPLOYMENTS="[]"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "AfterAllowTraffic: DEPLOYMENT_ID is not set (CodeDeploy's agent sets it for every hook)")


def test_the_appspec_gives_the_bake_the_longest_hook_aws_allows():
    hooks = yaml.safe_load((APP / "appspec.yml").read_text())["hooks"]
    bake_hook = hooks["AfterAllowTraffic"][0]
    max_bake_minutes = int(re.search(r"^MAX_BAKE_MINUTES=(\d+)", (APP / "hooks" / "common.sh").read_text(),
                                     re.MULTILINE).group(1))
    assert bake_hook["location"] == "hooks/after_allow_traffic.sh"
    assert max_bake_minutes * 60 + 60 <= bake_hook["timeout"] <= 3600
    assert list(hooks)[-1] == "AfterAllowTraffic"
