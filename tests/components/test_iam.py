"""Every IAM document the program generates, parsed: least privilege, scoped to this stack's ARNs."""

from __future__ import annotations

import json
from pathlib import Path

from components.deployment import LEFT_OUT_OF_AWS_CODEDEPLOY_ROLE
from components.iam import AWS_STAR_ONLY_ACTIONS
from components.release_store import RELEASE_KEY, live_key
from ops.offline.mocks import ACCOUNT_ID, upstream_outputs
from ops.offline.model import MockRun
from tests.components.conftest import as_list, grants_of, one

AWS_CODEDEPLOY_ROLE = Path(__file__).with_name("data") / "aws_codedeploy_role_v11.json"
IDENTIFYING_OUTPUTS = ("arn", "name", "bucket", "alarmName", "deploymentGroupName", "deploymentConfigName")
ALLOWED_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
# AWS-owned resources a role must use: the regional bucket the CodeDeploy agent updates itself from, and the
# public AMIs a launch may start from (images carry no account in their ARN).
AGENT_BUCKET = "arn:aws:s3:::aws-codedeploy-us-east-1/*"
PUBLIC_IMAGES = "arn:aws:ec2:us-east-1::image/*"
AWS_OWNED = {AGENT_BUCKET, PUBLIC_IMAGES}


def identity_statements(run: MockRun) -> list[tuple[str, dict]]:
    found = []
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for entry in json.loads(policy.inputs["policy"])["Statement"]:
            found.append((policy.name, entry))
    return found


def stack_identifiers(run: MockRun) -> set[str]:
    """The names and ARNs of this stack's resources, and, for a promoted stack, of the upstream's it uses."""
    names = set()
    for resource in run.resources:
        if resource.type.startswith("aws:"):
            names |= {str(resource.outputs[k]) for k in IDENTIFYING_OUTPUTS if resource.outputs.get(k)}
    if "promotedFrom" in run.stack_outputs:
        upstream = upstream_outputs("us-east-1")
        names |= {upstream[key] for key in ("releaseBucketArn", "repositoryArn")}
    return {n for n in names if len(n) >= 6}


def test_the_checks_below_have_documents_to_read(run):
    assert len(identity_statements(run)) >= 20


def test_no_action_is_a_bare_star_or_a_whole_service(run):
    for name, entry in identity_statements(run):
        for action in as_list(entry["Action"]):
            assert action != "*", name
            assert not action.endswith(":*"), f"{name}: {action}"


def test_only_actions_aws_cannot_scope_are_granted_on_star(run):
    for name, entry in identity_statements(run):
        if "*" in as_list(entry["Resource"]):
            assert set(as_list(entry["Action"])) <= AWS_STAR_ONLY_ACTIONS, f"{name}: {entry}"
            assert as_list(entry["Resource"]) == ["*"], f"{name}: mixes * with ARNs"


def test_pass_role_passes_only_the_instance_role_and_only_to_ec2(run):
    """CodeDeploy launches through the group's launch template, which names the instance profile (B11, B12)."""
    instance_role = one(run, "aws:iam/role:Role", name="fleet-instance-role").outputs["arn"]
    passes = [(name, entry) for name, entry in identity_statements(run) if "iam:PassRole" in as_list(entry["Action"])]
    assert [name for name, _ in passes] == ["deployment-fleet"]
    entry = passes[0][1]
    assert as_list(entry["Action"]) == ["iam:PassRole"]
    assert entry["Resource"] == [instance_role]
    assert entry["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_codedeploy_role_grants_what_aws_documents(run):
    """AWSCodeDeployRole's actions (tests/components/data), each granted or left out with a reason (B11)."""
    documented = json.loads(AWS_CODEDEPLOY_ROLE.read_text())
    published = {a for statement in documented["statements"] for a in as_list(statement["Action"])}
    granted = {a for name, entry in identity_statements(run) if name in ("deployment-fleet", "deployment-alarms")
               for a in as_list(entry["Action"])}
    launch_template_note = {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"}
    assert published - granted == set(LEFT_OUT_OF_AWS_CODEDEPLOY_ROLE)
    assert granted - published <= launch_template_note | {"autoscaling:DescribeAutoScalingInstances"}  # v12
    assert launch_template_note <= granted


def test_codedeploy_may_terminate_only_the_instances_of_its_group(run):
    statement = next(entry for name, entry in identity_statements(run)
                     if name == "deployment-fleet" and "ec2:TerminateInstances" in as_list(entry["Action"]))
    group = run.stack_outputs["autoScalingGroupName"]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": group}}


def test_every_scoped_resource_is_an_arn_of_this_stack(run):
    identifiers = stack_identifiers(run)
    for name, entry in identity_statements(run):
        for resource in as_list(entry["Resource"]):
            if resource == "*" or resource in AWS_OWNED:
                continue
            assert resource.startswith("arn:aws:"), f"{name}: {resource}"
            assert ACCOUNT_ID in resource or resource.startswith("arn:aws:s3:::"), f"{name}: {resource}"
            if resource.endswith("/*") and entry.get("Condition"):
                continue  # every such resource of this account, narrowed by the statement's Condition
            assert any(identifier in resource for identifier in identifiers), f"{name}: {resource} is not ours"


def test_all_statements_allow_nothing_is_denied_by_accident(run):
    assert {entry["Effect"] for _, entry in identity_statements(run)} == {"Allow"}


ROLES = {"dev": {"build-role": "codebuild.amazonaws.com", "publisher-role": "codebuild.amazonaws.com"},
         "prod": {"pipeline-on-release-role": "events.amazonaws.com"}}
COMMON_ROLES = {"deployment-role": "codedeploy.amazonaws.com", "pipeline-role": "codepipeline.amazonaws.com",
                "fleet-instance-role": "ec2.amazonaws.com"}


def test_each_role_trusts_exactly_one_service(run):
    roles = {**COMMON_ROLES, **ROLES[run.stack]}
    assert {r.name for r in run.of_type("aws:iam/role:Role")} == set(roles)
    for role, service in roles.items():
        assert_trusts_one_service(run, role, service)


def assert_trusts_one_service(run: MockRun, role: str, service: str) -> None:
    trust = json.loads(one(run, "aws:iam/role:Role", role).inputs["assumeRolePolicy"])["Statement"]
    assert len(trust) == 1
    assert trust[0]["Principal"] == {"Service": service}
    assert trust[0]["Action"] == "sts:AssumeRole"
    if service != "ec2.amazonaws.com":  # service roles act for this account only (confused deputy guard)
        assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_only_the_ssm_core_managed_policy_is_attached(run):
    attached = {a.inputs["policyArn"] for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == ALLOWED_MANAGED_POLICIES


def test_the_build_pushes_to_its_own_repository_only(dev):
    run = dev
    grants = grants_of(run, "build-role")
    repository_arn = one(run, "aws:ecr/repository:Repository").outputs["arn"]
    assert grants["ecr:PutImage"] == {repository_arn}
    assert grants["ecr:GetAuthorizationToken"] == {"*"}
    bucket_arn = one(run, "aws:s3/bucket:Bucket", "artifacts-bucket").outputs["arn"]
    assert grants["s3:PutObject"] == {bucket_arn + "/*"}
    releases_arn = one(run, "aws:s3/bucket:Bucket", "releases-bucket").outputs["arn"]
    assert grants["s3:GetObject"] == {bucket_arn + "/*", releases_arn + "/live/*"}  # the live contracts
    build_logs = one(run, "aws:cloudwatch/logGroup:LogGroup", "build-logs").outputs["arn"]
    assert grants["logs:PutLogEvents"] == {build_logs + ":log-stream:*"}
    assert grants["logs:DescribeLogStreams"] == {build_logs}


def test_instances_pull_and_read_but_never_push_or_write_artifacts(run):
    grants = grants_of(run, "fleet-instance-role")
    repository_arn = (one(run, "aws:ecr/repository:Repository").outputs["arn"] if run.stack == "dev"
                      else upstream_outputs("us-east-1")["repositoryArn"])  # prod pulls what dev built
    assert grants["ecr:BatchGetImage"] == {repository_arn}
    assert "ecr:PutImage" not in grants
    assert "s3:PutObject" not in grants
    bucket_arn = one(run, "aws:s3/bucket:Bucket", "artifacts-bucket").outputs["arn"]
    assert grants["s3:GetObject"] == {bucket_arn + "/*", AGENT_BUCKET}


def test_aws_owned_resources_are_read_by_the_instances_and_launched_from_by_codedeploy_only(run):
    for name, entry in identity_statements(run):
        owned = set(as_list(entry["Resource"])) & AWS_OWNED
        if owned == {AGENT_BUCKET}:
            assert name == "fleet-agent-updates" and entry["Action"] == ["s3:GetObject"]
        elif owned:
            assert owned == {PUBLIC_IMAGES} and name == "deployment-fleet" and entry["Action"] == ["ec2:RunInstances"]


def test_the_pipeline_may_start_only_its_build_and_publisher_and_deploy_only_its_group(run):
    grants = grants_of(run, "pipeline-role")
    (group_arn,) = grants["codedeploy:CreateDeployment"]
    assert group_arn.endswith(f":deploymentgroup:{run.stack_outputs['codedeployApplication']}/app-{run.stack}")
    if run.stack == "prod":  # builds nothing, uses no GitHub connection
        assert not [action for action in grants if action.startswith(("codebuild:", "codeconnections:"))]
        return
    projects = {p.outputs["arn"] for p in run.of_type("aws:codebuild/project:Project")}
    assert len(projects) == 2 and grants["codebuild:StartBuild"] == projects
    assert grants["codeconnections:UseConnection"] == {run.stack_outputs["connectionArn"]}


def test_the_topic_key_policy_grants_cloudwatch_use_only_for_this_account(run):
    statements = json.loads(one(run, "aws:kms/key:Key").inputs["policy"])["Statement"]
    for entry in statements:
        assert "kms:*" not in as_list(entry["Action"])
    cloudwatch = next(s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_only_the_pipeline_may_set_object_acls_and_only_on_what_it_writes(run):
    """AWS's documented CodePipeline service-role policy has s3:PutObjectAcl on the artifact objects (B15), and the
    S3 deploy action's on the objects it writes (B28)."""
    artifacts = one(run, "aws:s3/bucket:Bucket", "artifacts-bucket").outputs["arn"]
    releases = (one(run, "aws:s3/bucket:Bucket", "releases-bucket").outputs["arn"] if run.stack == "dev"
                else upstream_outputs("us-east-1")["releaseBucketArn"])
    written = {"dev": {f"{releases}/{RELEASE_KEY}", f"{releases}/{live_key('dev')}"},
               "prod": {f"{releases}/{live_key('prod')}"}}[run.stack]
    assert grants_of(run, "pipeline-role")["s3:PutObjectAcl"] == {artifacts + "/*"} | written
    for role in set(COMMON_ROLES) - {"pipeline-role"} | set(ROLES[run.stack]):
        assert "s3:PutObjectAcl" not in grants_of(run, role), role


def test_the_policy_pack_allows_on_star_every_action_the_program_grants_there(monkeypatch):
    """The pack runs apart from the program, so it keeps its own list; it must not fall behind the program's."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "policies"))
    from guardrails.iam import POLICIES  # the pack's own import path

    (policy,) = [p for p in POLICIES if p.name == "iam-least-privilege"]
    allowed = set(policy.config_schema.properties["actionsAllowedOnAnyResource"]["default"])
    assert allowed >= AWS_STAR_ONLY_ACTIONS, sorted(AWS_STAR_ONLY_ACTIONS - allowed)
