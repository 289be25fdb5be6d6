"""During preview some values are unknown (the engine sends a sentinel). A policy never crashes on one: it judges
what is known, reports known violations at their level, and adds one advisory note naming what it could not judge.
What only dev builds (the ECR repository and lifecycle policy, the CodeBuild projects) is tried in dev's plan with
prod's config (`prod_config_for_dev`); everything else in prod's plan."""

from __future__ import annotations

import copy
import json

from ops.offline.analyzer import analyze_resources
from ops.offline.model import Registration

from .conftest import (
    UNKNOWN_STRING,
    add_resource,
    child_urn,
    edited,
    of_policy,
    prod_config_for_dev,
    stack_config_file,
)

REPO = "aws:ecr/repository:Repository"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def test_an_unknown_value_gives_an_advisory_note_not_a_crash_or_a_block(policy_runs, analyze):
    def unknown_scan(props):
        props["imageScanningConfiguration"]["scanOnPush"] = UNKNOWN_STRING

    report = analyze(edited(policy_runs["dev"], REPO, unknown_scan, name="registry-repo"), prod_config_for_dev())

    notes = of_policy(report, "ecr-scan-on-push")
    assert len(notes) == 1 and "imageScanningConfiguration.scanOnPush" in notes[0]
    assert "during preview" in notes[0]
    assert [d.level for d in report.diagnostics] == ["advisory"]


def test_known_violations_are_still_reported_next_to_what_could_not_be_judged(policy_runs, analyze):
    def half_known(props):
        props["autoRollbackConfiguration"]["enabled"] = UNKNOWN_STRING
        props["autoRollbackConfiguration"]["events"] = ["DEPLOYMENT_FAILURE"]

    report = analyze(edited(policy_runs["prod"], GROUP, half_known), stack_config_file("prod"))

    levels = sorted((d.level, d.message) for d in report.diagnostics if d.policy == "codedeploy-auto-rollback")
    assert [level for level, _ in levels] == ["advisory", "mandatory"]
    assert "DEPLOYMENT_STOP_ON_ALARM" in levels[1][1]
    assert "autoRollbackConfiguration.enabled" in levels[0][1]


def test_an_unknown_policy_document_is_not_judged(policy_runs, analyze):
    """Both policies that read IAM documents name it: least privilege, and (prod is promoted) the push grants."""
    run = edited(policy_runs["prod"], ROLE_POLICY, lambda props: props.update(policy=UNKNOWN_STRING), name="fleet-pull")

    report = analyze(run, stack_config_file("prod"))

    assert [(d.policy, d.level) for d in report.diagnostics] == [("iam-least-privilege", "advisory"),
                                                                 ("promoted-stack-builds-nothing", "advisory")]
    (note,) = of_policy(report, "promoted-stack-builds-nothing")
    assert "RolePolicy 'fleet-pull' policy" in note and "during preview" in note


def test_unknown_settings_of_a_bucket_are_named_by_the_stack_policy(policy_runs, analyze):
    versioning = "aws:s3/bucketVersioning:BucketVersioning"
    run = edited(policy_runs["prod"], versioning,
                 lambda props: props.update(versioningConfiguration={"status": UNKNOWN_STRING}),
                 name="artifacts-versioning")

    notes = of_policy(analyze(run, stack_config_file("prod")), "s3-bucket-hardened")

    assert len(notes) == 1 and "versioningConfiguration.status" in notes[0]


def test_an_unknown_list_of_source_cidrs_is_named_not_a_crash(policy_runs, analyze):
    run = policy_runs["prod"]
    rule_type = "aws:ec2/securityGroupRule:SecurityGroupRule"
    rule = {"type": "ingress", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": UNKNOWN_STRING}
    report = analyze(add_resource(run, Registration(urn=child_urn(run, rule_type, "later"), type=rule_type,
                                                    name="later", inputs=rule, outputs=rule)))

    notes = of_policy(report, "security-group-no-world-ingress")
    assert len(notes) == 1 and "cidr blocks" in notes[0]
    assert [d.level for d in report.diagnostics] == ["advisory"]


def test_unknown_parts_of_a_policy_object_are_named_and_known_statements_still_judged(policy_runs, analyze):
    run = policy_runs["prod"]
    policy_type = "aws:iam/policy:Policy"
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Later", "Effect": "Allow", "Action": "s3:GetObject", "Resource": UNKNOWN_STRING},
        {"Sid": "Wide", "Effect": "Allow", "Action": [UNKNOWN_STRING, "s3:*"], "Resource": "*"},
    ]}
    report = analyze(add_resource(run, Registration(urn=child_urn(run, policy_type, "obj"), type=policy_type,
                                                    name="obj", inputs={"policy": document})))

    levels = sorted((d.level, d.message) for d in report.diagnostics if d.policy == "iam-least-privilege")
    assert [level for level, _ in levels] == ["advisory", "mandatory"]
    assert "statement Wide allows s3:* on *" in levels[1][1]
    assert "statement Later.Resource" in levels[0][1] and "statement Wide.Action" in levels[0][1]


def test_an_unknown_action_list_of_a_pipeline_stage_is_named_not_a_crash(policy_runs, analyze):
    def unknown_actions(props):
        props["stages"][-1]["actions"] = UNKNOWN_STRING

    report = analyze(edited(policy_runs["prod"], "aws:codepipeline/pipeline:Pipeline", unknown_actions),
                     stack_config_file("prod"))

    assert {d.level for d in report.diagnostics} == {"advisory"}
    assert any("actions" in m for m in of_policy(report, "codepipeline-one-rollback-owner"))
    assert of_policy(report, "codepipeline-approval-before-deploy") == [], "the approval stage is known to come first"


def test_an_unknown_count_in_a_lifecycle_policy_object_is_named_not_judged(policy_runs, analyze):
    rule = {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["*"],
                                             "countType": "imageCountMoreThan", "countNumber": UNKNOWN_STRING},
            "action": {"type": "expire"}}
    run = edited(policy_runs["dev"], "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                 lambda props: props.update(policy={"rules": [rule]}), name="registry-lifecycle")

    notes = of_policy(analyze(run, prod_config_for_dev()), "ecr-lifecycle-keeps-rollback-targets")

    assert len(notes) == 1 and "policy.rules[0].selection" in notes[0] and "during preview" in notes[0]


# The types the resource guardrails judge (stack guardrails are covered by the cases above).
JUDGED_TYPES = {
    "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:codebuild/project:Project",
    "aws:codedeploy/deploymentGroup:DeploymentGroup", "aws:codepipeline/pipeline:Pipeline",
    "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/role:Role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
}


def _paths(value, path=()):
    """Every path to a value inside `value` (not `value` itself)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        yield (*path, key)
        yield from _paths(child, (*path, key))


def _with_unknown(inputs: dict, path: tuple) -> dict:
    changed = copy.deepcopy(inputs)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = UNKNOWN_STRING
    return changed


def test_no_single_unknown_anywhere_in_the_plan_crashes_a_guardrail_or_becomes_a_violation(policy_runs, pack):
    """Each value of each judged resource of the prod plan, and of the dev plan (where the ECR repository, its
    lifecycle policy and the CodeBuild projects are), made unknown in turn (policy documents as objects, so the
    unknown can sit inside a statement), judged with prod's config: the pack answers, and only with advisory notes."""
    tried: dict[tuple[str, str], int] = {}
    for stack, config in (("prod", stack_config_file("prod")), ("dev", prod_config_for_dev())):
        levels = {name: level for name, (level, _) in pack.configure(config).items()}
        for resource in (r for r in policy_runs[stack].resources if r.type in JUDGED_TYPES):
            inputs = {key: json.loads(value) if key in ("policy", "assumeRolePolicy") and isinstance(value, str)
                      else value for key, value in resource.inputs.items()}
            for path in _paths(inputs):
                variant = copy.deepcopy(resource)
                variant.inputs = _with_unknown(inputs, path)
                report = analyze_resources(pack, [variant], None, levels)
                tried[stack, resource.type] = tried.get((stack, resource.type), 0) + 1
                assert {d.level for d in report.diagnostics} <= {"advisory"}, (stack, resource.name, path,
                                                                               report.diagnostics)
    assert sum(count for (stack, _), count in tried.items() if stack == "prod") > 500
    assert {("dev", "aws:ecr/repository:Repository"), ("dev", "aws:ecr/lifecyclePolicy:LifecyclePolicy"),
            ("dev", "aws:codebuild/project:Project")} <= set(tried)
