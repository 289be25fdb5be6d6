"""`python -m ops rollback app`: redeploy the revision of the deployment group's last successful deployment before
the current one, as a new CodeDeploy deployment of the same group, and (with --wait) follow it to the end.

Why CodeDeploy and not CodePipeline's RollbackStage: see docs/rollback.md ("Which app mechanism, and why")."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ops import interrupts
from ops.argtypes import positive_seconds
from ops.aws import AwsError, client, explain, utc_iso
from ops.errors import OpsError
from ops.pulumi_cli import stack_handle, stack_outputs
from ops.rollback.confirm import confirm

ACTIVE = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
SUCCEEDED = "Succeeded"
BATCH_LIMIT = 25  # BatchGetDeployments takes at most 25 IDs (botocore model)
EXIT_FAILED = 1
EXIT_TIMEOUT = 3
# The bake hook (app/hooks/after_allow_traffic.sh) skips deployments whose description starts with this: an
# operator's rollback goes to a known-good revision and should end as soon as it is installed.
DESCRIPTION_PREFIX = "ops rollback app:"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "app",
        description="Find the deployment group's last successful deployment before the current one and deploy "
        "its revision again as a new deployment of the same group.",
    )
    parser.add_argument("-s", "--stack", help="the stack whose outputs name the CodeDeploy application and group")
    parser.add_argument("--application", help="the CodeDeploy application (default: stack output)")
    parser.add_argument("--deployment-group", help="the CodeDeploy deployment group (default: stack output)")
    parser.add_argument("--to-deployment", metavar="ID", help="redeploy this succeeded deployment's revision")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--yes", action="store_true", help="create the deployment without asking for confirmation")
    parser.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=True, help="follow the deployment to its end"
    )
    parser.add_argument("--timeout", type=positive_seconds, default=1800.0, help="seconds to wait (default 1800)")
    parser.add_argument(
        "--poll-interval", type=positive_seconds, default=15.0, help="seconds between status checks (default 15)"
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Choice:
    current: dict
    target: dict


def run(args: argparse.Namespace) -> int:
    application, group = resolve_handles(args)
    codedeploy = client("codedeploy")  # timeouts and bounded retries (ops/aws.py); a bad profile or region: one line
    choice = choose(list_deployments(codedeploy, application, group), args.to_deployment)
    print_plan(application, group, choice)
    if args.dry_run:
        print("\ndry run: nothing was changed")
        return 0
    confirm(args.yes, "Create this deployment?", "create the deployment", "no deployment was created")
    deployment_id = create(codedeploy, application, group, choice)
    print(f"\ncreated deployment {deployment_id}")
    if not args.wait:
        print(f"not waiting; follow it with: aws deploy get-deployment --deployment-id {deployment_id}")
        return 0
    info = wait(codedeploy, deployment_id, args.timeout, args.poll_interval)
    return 0 if info["status"] == SUCCEEDED else EXIT_FAILED


def resolve_handles(args: argparse.Namespace) -> tuple[str, str]:
    """The flags win; the stack outputs fill in what they leave out (the Pulumi CLI is needed only then)."""
    if args.application and args.deployment_group:
        return args.application, args.deployment_group
    if not args.stack:
        raise OpsError("pass -s/--stack to read the stack outputs, or both --application and --deployment-group")
    outputs = stack_outputs(args.stack)
    application = stack_handle(outputs, "codedeployApplication", args.application, "--application")
    group = stack_handle(outputs, "codedeployDeploymentGroup", args.deployment_group, "--deployment-group")
    return application, group


def _explained(error: Exception, codedeploy) -> AwsError:
    return explain(error, "codedeploy", codedeploy.meta.region_name)


def _answer(failure: AwsError) -> str:
    """AWS's own answer to the call, or what ops.aws says when there was none worth reading (unreachable, timed out,
    still throttled)."""
    return failure.reply or str(failure)


def _stopped(interrupt: KeyboardInterrupt, during: str, detail: str) -> interrupts.Interrupted:
    """The signal, with what was running and the state it left, for the CLI's one line (exit 128 + signal)."""
    if not isinstance(interrupt, interrupts.Interrupted):  # raised where no ops.interrupts handler was installed
        interrupt = interrupts.Interrupted(signal.SIGINT)
    interrupt.during, interrupt.detail = during, detail
    return interrupt


def list_deployments(codedeploy, application: str, group: str) -> list[dict]:
    """Every deployment of the group, newest first."""
    try:
        ids = []
        pages = codedeploy.get_paginator("list_deployments").paginate(
            applicationName=application, deploymentGroupName=group
        )
        for page in pages:
            ids.extend(page.get("deployments", []))
        infos = []
        for start in range(0, len(ids), BATCH_LIMIT):
            batch = codedeploy.batch_get_deployments(deploymentIds=ids[start : start + BATCH_LIMIT])
            infos.extend(batch.get("deploymentsInfo", []))
    except (ClientError, BotoCoreError) as error:
        failure = _explained(error, codedeploy)
        raise OpsError(f"listing the deployments of {application}/{group} failed: {_answer(failure)}") from error
    return sorted(infos, key=lambda info: info["createTime"], reverse=True)


def choose(deployments: list[dict], to_deployment: str | None = None) -> Choice:
    """The current (newest) deployment, and the one whose revision to redeploy."""
    if not deployments:
        raise OpsError("the deployment group has no deployments, so there is no earlier good revision")
    current = deployments[0]
    if current["status"] in ACTIVE and _rolled_back(current, deployments) is not None:
        triggering = current["rollbackInfo"]["rollbackTriggeringDeploymentId"]
        raise OpsError(
            f"CodeDeploy is already rolling back {triggering}: its automatic rollback {current['deploymentId']} is "
            f"{current['status']}, and a group runs one deployment at a time; wait for it (aws deploy "
            f"get-deployment --deployment-id {current['deploymentId']}) and run this again only if it fails"
        )
    if current["status"] in ACTIVE:
        raise OpsError(
            f"deployment {current['deploymentId']} is still {current['status']}; wait for it to end or stop it "
            f"(aws deploy stop-deployment --deployment-id {current['deploymentId']}) and retry"
        )
    if to_deployment:
        return Choice(current, _named(deployments, to_deployment))
    bad_revision = current.get("revision")
    rolled_back = _rolled_back(current, deployments)
    if rolled_back is not None:
        if current["status"] == SUCCEEDED:
            raise OpsError(
                f"the current deployment {current['deploymentId']} is CodeDeploy's automatic rollback of "
                f"{rolled_back['deploymentId']} and it succeeded: the group already runs the earlier revision "
                f"({describe_revision(current.get('revision'))}); to go further back, name a deployment with "
                "--to-deployment"
            )
        bad_revision = rolled_back.get("revision")  # the rollback failed: the revision to leave is still the bad one
    for info in deployments[1:]:
        if info["status"] == SUCCEEDED and info.get("revision") != bad_revision:
            return Choice(current, info)
    raise OpsError(
        f"no successful deployment with another revision precedes the current one ({current['deploymentId']}); "
        "there is no earlier good revision to roll back to"
    )


def _rolled_back(current: dict, deployments: list[dict]) -> dict | None:
    """The deployment `current` rolled back, when it is one of CodeDeploy's automatic rollbacks."""
    triggering = (current.get("rollbackInfo") or {}).get("rollbackTriggeringDeploymentId")
    if not triggering:
        return None
    return next((info for info in deployments if info["deploymentId"] == triggering), {"deploymentId": triggering})


def _named(deployments: list[dict], deployment_id: str) -> dict:
    info = next((info for info in deployments if info["deploymentId"] == deployment_id), None)
    if info is None:
        raise OpsError(f"deployment {deployment_id} is not a deployment of this deployment group")
    if info["status"] != SUCCEEDED:
        raise OpsError(
            f"deployment {deployment_id} ended {info['status']}; only a succeeded deployment can be a target"
        )
    return info


def describe_revision(revision: dict | None) -> str:
    revision = revision or {}
    kind = revision.get("revisionType")
    if kind == "S3":
        s3 = revision.get("s3Location", {})
        extra = ", ".join(f"{k} {s3[k]}" for k in ("bundleType", "version", "eTag") if s3.get(k))
        return f"s3://{s3.get('bucket')}/{s3.get('key')}" + (f" ({extra})" if extra else "")
    if kind == "GitHub":
        github = revision.get("gitHubLocation", {})
        return f"GitHub {github.get('repository')}@{github.get('commitId')}"
    return f"{kind or 'unknown'} revision"


def print_plan(application: str, group: str, choice: Choice) -> None:
    current, target = choice.current, choice.target
    print(f"App rollback plan for {application}/{group}")
    print(f"  current: {current['deploymentId']} {current['status']}, {describe_revision(current.get('revision'))}")
    ended = target.get("completeTime") or target["createTime"]
    print(f"  target:  {target['deploymentId']} {target['status']} at {utc_iso(ended)}")
    print(f"  revision to deploy: {describe_revision(target.get('revision'))}")
    print("  steps:")
    print(f"    1. create a deployment of {group} with that revision (the group's config, alarms and auto-rollback)")
    print("    2. follow it until it succeeds, fails or stops (unless --no-wait)")


def create(codedeploy, application: str, group: str, choice: Choice) -> str:
    """CreateDeployment takes no idempotency token, so when no answer came back (a timeout, a dropped connection,
    Ctrl-C) or a retry found the group busy, the deployment may exist all the same: the error says where to look.
    A second one cannot start meanwhile: a group runs one deployment at a time (docs/aws-behaviour.md, B8)."""
    description = (
        f"{DESCRIPTION_PREFIX} redeploy the revision of {choice.target['deploymentId']} "
        f"(replacing {choice.current['deploymentId']})"
    )
    look = (f"look before running this again (aws deploy list-deployments --application-name {application} "
            f"--deployment-group-name {group} --include-only-statuses Created Queued InProgress)")
    try:
        response = codedeploy.create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision=choice.target["revision"],
            description=description,
        )
    except KeyboardInterrupt as stop:
        raise _stopped(stop, "CreateDeployment", f"the rollback deployment may have been created all the same; "
                                                 f"{look}") from None
    except (ClientError, BotoCoreError) as error:
        failure = _explained(error, codedeploy)
        message = f"creating the rollback deployment failed: {_answer(failure)}"
        # No answer reached us, or a retry met the group busy (perhaps with the deployment the first try created).
        if failure.reply is None or failure.code == "DeploymentLimitExceededException":
            message += f"; it may have been created all the same: {look}"
        raise OpsError(message) from error
    return response["deploymentId"]


def progress(info: dict) -> str:
    overview = info.get("deploymentOverview") or {}
    total = sum(overview.values())
    done = sum(overview.get(key, 0) for key in ("Succeeded", "Failed", "Skipped"))
    failed = overview.get("Failed", 0)
    line = f"{info['status']}: instances {done}/{total} done"
    return line + (f", {failed} failed" if failed else "")


def wait(
    codedeploy,
    deployment_id: str,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Polls the deployment, printing each change of status or progress, until it ends; raises on timeout. A signal,
    or AWS no longer answering, stops only the waiting: the deployment goes on, and the error says how to follow it."""
    follow = f"aws deploy get-deployment --deployment-id {deployment_id}"
    try:
        return _poll(codedeploy, deployment_id, timeout, interval, clock, sleep)
    except KeyboardInterrupt as stop:
        goes_on = f"it goes on in CodeDeploy (only the wait stopped); follow it with: {follow}"
        raise _stopped(stop, f"the wait for deployment {deployment_id}", goes_on) from None
    except (ClientError, BotoCoreError) as error:
        answer = _answer(_explained(error, codedeploy))
        raise OpsError(f"could not follow deployment {deployment_id}: {answer}; it goes on in CodeDeploy: {follow}",
                       exit_code=EXIT_TIMEOUT) from error


def _poll(codedeploy, deployment_id: str, timeout: float, interval: float, clock: Callable[[], float],
          sleep: Callable[[float], None]) -> dict:
    deadline = clock() + timeout
    last_line = None
    while True:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        line = progress(info)
        if line != last_line:
            print(f"  {line}", flush=True)
            last_line = line
        if info["status"] not in ACTIVE:
            _report_end(info)
            return info
        if clock() >= deadline:
            raise OpsError(
                f"timed out after {timeout:g}s waiting for deployment {deployment_id} (last status "
                f"{info['status']}); it goes on in CodeDeploy: aws deploy get-deployment --deployment-id "
                f"{deployment_id}",
                exit_code=EXIT_TIMEOUT,
            )
        sleep(min(interval, max(deadline - clock(), 0)))


def _report_end(info: dict) -> None:
    if info["status"] == SUCCEEDED:
        print(f"deployment {info['deploymentId']} succeeded")
        return
    error = info.get("errorInformation") or {}
    reason = f": {error.get('code')}: {error.get('message')}" if error else ""
    print(f"error: deployment {info['deploymentId']} ended {info['status']}{reason}", file=sys.stderr)
