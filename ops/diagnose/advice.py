"""What to do next, in words. classify.py decides (the cause class, what the rollback's state is); this module only
words it, so that the next step says nothing the evidence does not: it starts with what the rollback did, and the
class's fix never asks for a rollback of its own.

The rollback, one owner at a time (docs/rollback.md, "Who owns a rollback"): CodeDeploy's automatic rollback, named
by the failed deployment's rollbackInfo.rollbackDeploymentId and read with GetDeployment (RollbackInfo, "The ID of
the deployment rollback": https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_RollbackInfo.html), or, on
a pipeline outside this program, a CodePipeline execution of type ROLLBACK (PipelineExecutionSummary executionType
"STANDARD | ROLLBACK": https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecutionSummary.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.diagnose.classify import Cause, Rollback

# class id -> (title, fix). The fix never speaks of rolling back: the lead (below) does, from the evidence.
# {detail} is what the class names, {pipeline} the pipeline, {deployment} the failed deployment.
CAUSES: dict[str, tuple[str, str]] = {
    "source_connection_pending": (
        "source connection pending",
        "Finish the connection handshake: in the console open Developer Tools > Settings > Connections, choose "
        "{detail}, click 'Update pending connection' and authorize the app; then release a change: "
        "aws codepipeline start-pipeline-execution --name {pipeline}",
    ),
    "dependency_install_failed": (
        "dependency install failed",
        "Fix the dependency install shown in the log tail (a missing or yanked version, a registry outage); "
        "pin a version that exists, push, and the pipeline runs again",
    ),
    "unit_tests_failed": (
        "unit tests failed",
        "Run the unit tests locally, fix the failing test named in the log tail, and push the fix",
    ),
    "contract_check_failed": (
        "contract check failed",
        "The change breaks the API contract: keep the old fields and endpoints (add, do not remove or rename), "
        "or version the API; rerun the contract check locally before pushing",
    ),
    "image_build_failed": (
        "image build failed",
        "Reproduce with `docker build` on the same commit, fix the Dockerfile step shown in the log tail, push",
    ),
    "image_push_denied": (
        "image push denied",
        "Let the build role push to the repository ({detail}); in this program registry.grant_push(role) grants "
        "it; run `pulumi up`, then retry the Build stage",
    ),
    "image_tag_exists": (
        "image tag already exists",
        "Tags are immutable and this commit's image was already pushed: push a new commit, or retry the stages "
        "after Build to deploy the image that exists",
    ),
    "build_timed_out": (
        "build timed out",
        "Find the slow step in the log tail (a hung test, a slow download); fix it, or raise the build "
        "project's timeout only if the build really needs longer",
    ),
    "hook_script_failed": (
        "hook script failed",
        "Fix the {detail} hook script using its log tail and push the fix",
    ),
    "health_check_failed": (
        "health check failed",
        "The new version never became healthy: run the image locally and check /healthz before pushing a fix",
    ),
    "too_few_healthy_hosts": (
        "too few healthy hosts",
        "Check the fleet: Auto Scaling group instance health and the target group's healthy hosts; replace "
        "unhealthy instances, then retry the Deploy stage",
    ),
    "stopped_by_alarm": (
        "stopped by alarm",
        "The new version tripped {detail}: read the alarm's metric for the deployment window, fix the regression, "
        "push",
    ),
    "agent_not_running": (
        "CodeDeploy agent not running",
        "Start the CodeDeploy agent on the instances (`sudo systemctl start codedeploy-agent`), check the "
        "instance profile lets it reach CodeDeploy and S3, then retry the Deploy stage",
    ),
    "missing_permissions": (
        "missing permissions",
        "Grant {detail} to the role named in the evidence (in the Pulumi program, then `pulumi up`), "
        "then retry the failed stage",
    ),
    "revision_missing": (
        "revision missing",
        "The deployment bundle is gone from the artifact store: release the change again "
        "(aws codepipeline start-pipeline-execution --name {pipeline})",
    ),
    "deploy_timed_out": (
        "deploy timed out",
        "Find the step that hung in the lifecycle events (often a hook waiting on the network), fix it, push",
    ),
    "approval_rejected": (
        "approval rejected",
        "Read the reviewer's comment in the evidence, address it, push; the next change asks again",
    ),
    "approval_pending": (
        "approval pending",
        "A reviewer must approve or reject the {detail} action: in the console, or with "
        "aws codepipeline put-approval-result (the token is in get-pipeline-state)",
    ),
    "release_not_published": (
        "release not published",
        "This stack runs the release (its deploy and bake succeeded), but it was not offered to the stacks promoted "
        "from it: {detail}. Fix that (a drill release is never published; a downstream about to lose its image "
        "needs a newer release or a larger keepImages), then retry the Publish stage "
        "(aws codepipeline retry-stage-execution --pipeline-name {pipeline} --stage-name Publish "
        "--pipeline-execution-id ID --retry-mode FAILED_ACTIONS)",
    ),
    "live_record_not_written": (
        "live record not written",
        "This stack runs the release, but its live record (which the upstream's contract gate reads) was not "
        "written: {detail}. Fix the grant or the bucket, then retry the Record stage "
        "(aws codepipeline retry-stage-execution --pipeline-name {pipeline} --stage-name Record "
        "--pipeline-execution-id ID --retry-mode FAILED_ACTIONS)",
    ),
    "unknown": (
        "unknown",
        "No known cause matched; read the raw error in the evidence and the action's console link",
    ),
}

# A fix more specific than the class's, for one hook.
HOOK_FIXES = {
    "AfterAllowTraffic": (
        "The bake hook (AfterAllowTraffic, app/hooks/after_allow_traffic.sh in this program) failed by itself, "
        "not by an alarm: read its log tail; ScriptTimedOut means the bake outlasted the hook's timeout in "
        "appspec.yml, so keep BAKE_MINUTES (at most 55) under it; fix and push"
    ),
}
# `unknown` with a detail: the failed instances could not be read (detail: the missing permission).
UNREAD_TARGETS_FIX = (
    "Read the failed instances' lifecycle events, which diagnose could not ({detail}): grant it, or run aws deploy "
    "list-deployment-targets --deployment-id {deployment} --target-filters TargetStatus=Failed and aws deploy "
    "batch-get-deployment-targets --deployment-id {deployment} --target-ids ID ...; then run diagnose again"
)
# Classes whose bad version may still serve users when nothing rolled back: how to say "roll back" for each.
ROLL_BACK_WHEN_NOTHING_DID = {
    "health_check_failed": "roll back",
    "stopped_by_alarm": "roll back",
    "hook_script_failed": "roll back if users are affected",
    "deploy_timed_out": "roll back if users are affected",
}
OWNERS = {"codedeploy": "CodeDeploy's automatic rollback", "pipeline": "Pipeline rollback execution"}
RUNS_AGAIN = {"codedeploy": "the last good revision runs again",
              "pipeline": "the stage runs the last good execution's revision again"}


def title(cause_name: str) -> str:
    return CAUSES[cause_name][0]


def next_step(cause: Cause, rollback: Rollback, *, stack: str | None, pipeline: str, deployment: str | None) -> str:
    """What the rollback did (or that nothing did), then the fix of the cause."""
    command = f"python -m ops rollback app -s {stack or 'STACK'}"
    lead = rollback_lead(rollback, cause.name, command, deployment)
    return f"{lead} {fix(cause, pipeline, deployment)}".strip()


def fix(cause: Cause, pipeline: str, deployment: str | None) -> str:
    text = CAUSES[cause.name][1]
    if cause.name == "hook_script_failed" and cause.detail in HOOK_FIXES:
        text = HOOK_FIXES[cause.detail]
    if cause.name == "unknown" and cause.detail:
        text = UNREAD_TARGETS_FIX
    return text.format(detail=cause.detail or "it", pipeline=pipeline, deployment=deployment or "DEPLOYMENT_ID")


def rollback_lead(rollback: Rollback, cause_name: str, command: str, deployment: str | None) -> str:
    name = f"{OWNERS.get(rollback.owner, '')} {rollback.id}"
    if rollback.state == "succeeded":
        return f"{name} succeeded: {RUNS_AGAIN[rollback.owner]}, so there is nothing to roll back."
    if rollback.state == "running" and rollback.owner == "codedeploy":
        return (f"{name} is {rollback.status}: wait for it to end and start no other deployment meanwhile (run "
                "diagnose again to see how it ended).")
    if rollback.state == "running":
        return f"{name} is {rollback.status}: wait for it to end before anything else."
    if rollback.state == "failed":
        return f"{name} ended {rollback.status}: roll back yourself ({command})."
    if rollback.state == "unread" and rollback.id:
        return (f"CodeDeploy started rollback {rollback.id} but it could not be read: check it with aws deploy "
                f"get-deployment --deployment-id {rollback.id}, and only if it did not succeed roll back ({command}).")
    if rollback.state == "unread":
        return (f"Whether CodeDeploy rolled back could not be read: check aws deploy get-deployment --deployment-id "
                f"{deployment or 'DEPLOYMENT_ID'}, and roll back ({command}) only if nothing did.")
    how = ROLL_BACK_WHEN_NOTHING_DID.get(cause_name)
    return f"No automatic rollback is recorded: {how} ({command})." if how else ""
