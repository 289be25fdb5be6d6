"""CodePipeline: a V2 pipeline (only V2 has stage rollback and conditions), whose deploy stage rolls back on
failure, which does not run executions in PARALLEL (that mode disables stage rollback), and which (in prod) waits
for a manual approval before it deploys."""

from __future__ import annotations

from guardrails.aws_types import CODEPIPELINE
from guardrails.framework import Resource, resource_policy
from guardrails.values import UNKNOWN, Findings, get


def _stages(pipeline: Resource, findings: Findings) -> list[dict]:
    stages = get(pipeline.props, "stages", default=[])
    return stages if findings.known(stages, "stages") else []


def _actions(stage: object, index: int, findings: Findings) -> list[dict]:
    """The stage's actions; an unknown stage or action list is recorded and judged as empty."""
    actions = get(stage, "actions", default=[])
    return actions if findings.known(actions, f"stages[{index}].actions") else []


def check_v2(pipeline: Resource, config: dict, findings: Findings) -> None:
    kind = get(pipeline.props, "pipelineType", default="V1")
    if findings.known(kind, "pipelineType") and kind != "V2":
        findings.violation(f"pipeline '{pipeline.name}' is {kind}; set pipelineType V2 (stage rollback needs V2)")


def _deploys_with_codedeploy(actions: list[dict]) -> bool:
    return any(get(action, "category") == "Deploy" and get(action, "provider") == "CodeDeploy" for action in actions)


def check_one_rollback_owner(pipeline: Resource, config: dict, findings: Findings) -> None:
    """CodeDeploy rolls its own deployments back; a stage rollback would start a second deployment into a group
    that allows one active deployment, and the two would collide."""
    for index, stage in enumerate(_stages(pipeline, findings)):
        if not _deploys_with_codedeploy(_actions(stage, index, findings)):
            continue
        name = get(stage, "name", default="?")
        results = [("onFailure", get(stage, "onFailure", "result")),
                   ("onFailure.condition", get(stage, "onFailure", "condition", "result")),
                   ("onSuccess.condition", get(stage, "onSuccess", "condition", "result"))]
        for where, result in results:
            if findings.known(result, f"stages[{name}].{where}.result") and result == "ROLLBACK":
                findings.violation(
                    f"pipeline '{pipeline.name}': CodeDeploy stage '{name}' also rolls back through the pipeline "
                    f"({where}.result ROLLBACK); CodeDeploy's automatic rollback owns it: remove the stage rollback"
                )


def check_not_parallel(pipeline: Resource, config: dict, findings: Findings) -> None:
    mode = get(pipeline.props, "executionMode", default="SUPERSEDED")
    if findings.known(mode, "executionMode") and mode == "PARALLEL":
        findings.violation(f"pipeline '{pipeline.name}' runs in PARALLEL mode, which disables stage rollback; use "
                           "SUPERSEDED or QUEUED")


def _approval_before_deploy(stages: list[dict]) -> bool | None:
    """True if an Approval action runs before the first Deploy action (or nothing deploys); None if the order
    cannot be known yet."""
    for stage in stages:
        actions = get(stage, "actions", default=[])
        if actions is UNKNOWN or any(
            get(action, "category") is UNKNOWN or get(action, "runOrder") is UNKNOWN for action in actions
        ):
            return None
        approvals = [get(a, "runOrder", default=1) for a in actions if get(a, "category") == "Approval"]
        deploys = [get(a, "runOrder", default=1) for a in actions if get(a, "category") == "Deploy"]
        if deploys:
            return bool(approvals) and min(approvals) < min(deploys)
        if approvals:
            return True
    return True


def check_approval(pipeline: Resource, config: dict, findings: Findings) -> None:
    verdict = _approval_before_deploy(_stages(pipeline, findings))
    if verdict is None:
        findings.unknown("stages[].actions[].category/runOrder")
    elif not verdict:
        findings.violation(f"pipeline '{pipeline.name}' deploys without a manual approval before the deploy stage")


POLICIES = [
    resource_policy("codepipeline-v2", "Pipelines are CodePipeline V2.", [CODEPIPELINE], check_v2),
    resource_policy(
        "codepipeline-one-rollback-owner",
        "A stage that deploys with CodeDeploy leaves rollback to CodeDeploy (no stage ROLLBACK on failure or "
        "condition): two owners would start two deployments into one group.",
        [CODEPIPELINE],
        check_one_rollback_owner,
    ),
    resource_policy(
        "codepipeline-not-parallel",
        "Pipelines do not use PARALLEL execution mode (it disables stage rollback).",
        [CODEPIPELINE],
        check_not_parallel,
    ),
    resource_policy(
        "codepipeline-approval-before-deploy",
        "A manual approval runs before the pipeline deploys.",
        [CODEPIPELINE],
        check_approval,
    ),
]
