"""The pipeline and registry guardrails judge the promotion shapes right, over the Analyzer protocol:

- `codepipeline-approval-before-deploy`: the approval must come before the first Deploy action. In the promoted
  pipeline (S3 source, Approval, CodeDeploy, then an S3 Deploy action that records what is live) and in the building
  one (its Publish stage writes to S3 after CodeDeploy) the S3 writes come after the approval and pass; an approval
  after the CodeDeploy action does not.
- `codepipeline-one-rollback-owner`: the CodeDeploy stage fails (FAIL) and leaves rollback to CodeDeploy.
- `ecr-lifecycle-keeps-rollback-targets`: the registry's three rules (release images kept by count, untagged
  expired after a day, builds never published kept by count) keep at least `minTaggedImages` release images."""

from __future__ import annotations

import json

import pytest

from .conftest import of_policy, stack_config_file
from .test_promotion import (
    APPROVAL,
    BUILD,
    BUILDING_STAGES,
    DEPLOY,
    LIFECYCLE,
    PROMOTED_STAGES,
    PUBLISH,
    RECORD,
    SOURCE_GITHUB,
    SOURCE_S3,
    action,
    pipeline,
    resource,
    s3_write,
    stack,
)

APPROVAL_POLICY = "codepipeline-approval-before-deploy"
ROLLBACK_POLICY = "codepipeline-one-rollback-owner"
LIFECYCLE_POLICY = "ecr-lifecycle-keeps-rollback-targets"
CODEDEPLOY = DEPLOY["actions"][0]
MANUAL = APPROVAL["actions"][0]


def only(policy: str, **settings) -> dict:
    """Every other policy disabled; this one mandatory, with these settings."""
    return {"all": "disabled", policy: {"enforcementLevel": "mandatory", **settings}}


def stage(name: str, *actions: dict, **settings) -> dict:
    return {"name": name, "actions": list(actions), **settings}


def at(run_order: int, item: dict) -> dict:
    return {**item, "runOrder": run_order}


APPROVED_FIRST = [
    ("the promoted pipeline", PROMOTED_STAGES),
    ("the building pipeline with its approval", BUILDING_STAGES),
    ("the record written in the deploy stage after CodeDeploy",
     [SOURCE_S3, APPROVAL, stage("Deploy", at(1, CODEDEPLOY), s3_write("RecordLive", "live/prod.zip", 2))]),
    ("the approval in the deploy stage before CodeDeploy",
     [SOURCE_S3, stage("Deploy", at(1, MANUAL), at(2, CODEDEPLOY), s3_write("RecordLive", "live/prod.zip", 3))]),
]
NOT_APPROVED_FIRST = [
    ("the promoted pipeline without its approval", [SOURCE_S3, DEPLOY, RECORD]),
    ("the building pipeline without its approval (dev)", [SOURCE_GITHUB, BUILD, DEPLOY, PUBLISH]),
    ("an approval after CodeDeploy, before the record", [SOURCE_S3, DEPLOY, APPROVAL, RECORD]),
    ("an approval after CodeDeploy in the same stage", [SOURCE_S3, stage("Deploy", at(1, CODEDEPLOY), at(2, MANUAL))]),
    ("an approval that runs alongside CodeDeploy", [SOURCE_S3, stage("Deploy", at(1, CODEDEPLOY), at(1, MANUAL))]),
    # Strict on purpose: a release recorded as live before anyone approved it is a deploy before the approval too.
    ("an S3 write before the approval", [SOURCE_S3, RECORD, APPROVAL, DEPLOY]),
]


@pytest.mark.parametrize(("case", "stages"), APPROVED_FIRST, ids=[c[0] for c in APPROVED_FIRST])
def test_an_approval_before_the_first_deploy_action_passes(case, stages, analyze):
    assert analyze(stack(pipeline(stages)), only(APPROVAL_POLICY)).diagnostics == []


@pytest.mark.parametrize(("case", "stages"), NOT_APPROVED_FIRST, ids=[c[0] for c in NOT_APPROVED_FIRST])
def test_a_deploy_action_before_the_approval_is_a_violation(case, stages, analyze):
    report = analyze(stack(pipeline(stages)), only(APPROVAL_POLICY))

    assert of_policy(report, APPROVAL_POLICY) == [
        "pipeline 'pipeline' deploys without a manual approval before the deploy stage"]


def test_with_the_prod_config_both_pipelines_pass_the_pipeline_guardrails(analyze):
    for stages in (PROMOTED_STAGES, BUILDING_STAGES):
        report = analyze(stack(pipeline(stages)), stack_config_file("prod"))

        assert [d for d in report.diagnostics if d.policy.startswith("codepipeline-")] == [], stages


def test_the_promoted_and_the_building_pipeline_leave_rollback_to_codedeploy(analyze):
    for stages in (PROMOTED_STAGES, BUILDING_STAGES):
        assert analyze(stack(pipeline(stages)), only(ROLLBACK_POLICY)).diagnostics == []


def test_a_promoted_deploy_stage_that_rolls_back_through_the_pipeline_is_a_violation(analyze):
    stages = [SOURCE_S3, APPROVAL, {**DEPLOY, "onFailure": {"result": "ROLLBACK"}}, RECORD]

    (message,) = of_policy(analyze(stack(pipeline(stages)), only(ROLLBACK_POLICY)), ROLLBACK_POLICY)

    assert "CodeDeploy stage 'Deploy' also rolls back through the pipeline (onFailure.result ROLLBACK)" in message


def test_only_a_stage_that_deploys_with_codedeploy_is_judged_for_rollback(analyze):
    stages = [SOURCE_S3, APPROVAL, DEPLOY, {**RECORD, "onFailure": {"result": "ROLLBACK"}}]

    assert analyze(stack(pipeline(stages)), only(ROLLBACK_POLICY)).diagnostics == []


def lifecycle(release_keep, builds_keep, release_count_type: str = "imageCountMoreThan") -> str:
    """The registry's lifecycle: release images first (a higher-priority rule protects what it selects from the rules
    below), untagged images after a day, then builds never published."""
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": "Keep the last release images (rollback targets)",
         "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"], "countType": release_count_type,
                       "countNumber": release_keep, **({"countUnit": "days"} if release_count_type ==
                                                       "sinceImagePushed" else {})},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Expire untagged images after 1 day(s)",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": 1},
         "action": {"type": "expire"}},
        {"rulePriority": 3, "description": "Keep the last builds that were never published",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": builds_keep},
         "action": {"type": "expire"}},
    ]})


def judge_lifecycle(analyze, policy_document: str, minimum: int) -> list[str]:
    run = stack(resource(LIFECYCLE, "registry-lifecycle", {"repository": "registry-repo", "policy": policy_document}))
    return of_policy(analyze(run, only(LIFECYCLE_POLICY, minTaggedImages=minimum)), LIFECYCLE_POLICY)


@pytest.mark.parametrize(("keep", "minimum"), [(30, 20), (20, 20), (10, 5)])
def test_the_three_rule_lifecycle_keeping_enough_release_images_passes(keep, minimum, analyze):
    assert judge_lifecycle(analyze, lifecycle(keep, keep), minimum) == []


def test_the_stacks_thresholds_accept_the_registrys_own_counts(analyze):
    """dev's registry keeps prod's rollback targets too, so dev is held to prod's minimum (Pulumi.dev.yaml: 30)."""
    for config_stack in ("dev", "prod"):
        minimum = stack_config_file(config_stack)[LIFECYCLE_POLICY]["minTaggedImages"]
        assert minimum == 20, config_stack
        assert judge_lifecycle(analyze, lifecycle(30, 30), minimum) == [], config_stack


def test_a_lifecycle_that_keeps_too_few_is_a_violation_for_each_rule_that_does(analyze):
    messages = judge_lifecycle(analyze, lifecycle(10, 10), 20)

    assert sorted(messages) == [
        f"lifecycle policy 'registry-lifecycle' rule {priority} keeps only 10 tagged images; keep at least 20 as "
        "rollback targets" for priority in (1, 3)]


def test_too_few_release_images_is_a_violation_even_when_builds_are_kept_long(analyze):
    (message,) = judge_lifecycle(analyze, lifecycle(3, 100), 20)

    assert "rule 1 keeps only 3 tagged images; keep at least 20" in message


def test_release_images_expired_by_age_are_a_violation(analyze):
    (message,) = judge_lifecycle(analyze, lifecycle(90, 30, release_count_type="sinceImagePushed"), 20)

    assert "rule 1 expires tagged images by age (sinceImagePushed)" in message


def test_the_untagged_rule_is_not_judged_as_keeping_release_images(analyze):
    document = json.loads(lifecycle(30, 30))
    document["rules"][1]["selection"]["countNumber"] = 1  # expire layers of failed pushes after a day

    assert judge_lifecycle(analyze, json.dumps(document), 20) == []


def test_an_action_that_is_neither_deploy_nor_approval_does_not_decide_the_order(analyze):
    stages = [SOURCE_S3, stage("Check", action("Test", "CodeBuild", "Smoke")), APPROVAL, DEPLOY, RECORD]

    assert analyze(stack(pipeline(stages)), only(APPROVAL_POLICY)).diagnostics == []
