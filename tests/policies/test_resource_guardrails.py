"""Each resource guardrail fires, with a message that says what to fix, when one property of the real prod plan is
made unsafe; and stays silent on the plan as the program writes it (test_stacks_pass) and on the safe variants
here. What only dev builds (the ECR repository and its lifecycle policy, the CodeBuild projects; prod is promoted
and builds nothing) is made unsafe in the dev plan and judged with prod's config (`prod_config_for_dev`). Every case
goes through the pack process over the Analyzer protocol."""

from __future__ import annotations

import json

import pytest

from ops.offline.model import Registration

from .conftest import add_resource, child_urn, edited, of_policy, prod_config_for_dev, stack_config_file

REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PROJECT = "aws:codebuild/project:Project"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
DEPLOY_CONFIG = "aws:codedeploy/deploymentConfig:DeploymentConfig"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROMOTION = "promoted-stack-builds-nothing"
EDITED = {
    # only dev builds (prod is promoted): edited in dev's plan
    REPO: ("dev", "registry-repo"), LIFECYCLE: ("dev", "registry-lifecycle"), PROJECT: ("dev", "build-project"),
    # a bucket's settings, named: dev has two buckets, and prod could get another
    PUBLIC_BLOCK: ("prod", "artifacts-public-access-block"), VERSIONING: ("prod", "artifacts-versioning"),
    ENCRYPTION: ("prod", "artifacts-encryption"),
}
"""The stack and resource a case of that type edits; other types: the first of the type in prod's plan."""


def setting(**values):
    def change(props: dict) -> None:
        props.update(values)

    return change


def nested(path: str, value):
    """Sets a dotted path (list indexes as numbers) in the properties."""

    def change(props: dict) -> None:
        *parents, last = [int(step) if step.isdigit() else step for step in path.split(".")]
        target = props
        for step in parents:
            target = target[step]
        target[last] = value

    return change


def removed(key: str):
    def change(props: dict) -> None:
        props.pop(key, None)

    return change


def lifecycle(count_type: str, count):
    rule = {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": count_type,
                                             "countNumber": count, "countUnit": "days"}, "action": {"type": "expire"}}
    return setting(policy=json.dumps({"rules": [rule]}))


def env_var(name: str, kind: str):
    def change(props: dict) -> None:
        props["environment"]["environmentVariables"].append({"name": name, "type": kind, "value": "x"})

    return change


def deploy_stage(change_stage):
    def change(props: dict) -> None:
        stage = next(s for s in props["stages"] if any(a["category"] == "Deploy" for a in s["actions"]))
        change_stage(stage)

    return change


def without_approval(props: dict) -> None:
    props["stages"] = [s for s in props["stages"] if not any(a["category"] == "Approval" for a in s["actions"])]


def rule_statement(action, resource="*"):
    def change(props: dict) -> None:
        document = json.loads(props["policy"])
        document["Statement"].append({"Sid": "Added", "Effect": "Allow", "Action": action, "Resource": resource})
        props["policy"] = json.dumps(document)

    return change


VIOLATIONS = [
    ("ecr-immutable-tags", REPO, setting(imageTagMutability="MUTABLE"), "imageTagMutability MUTABLE"),
    ("ecr-immutable-tags", REPO, removed("imageTagMutability"), "set IMMUTABLE"),
    ("ecr-scan-on-push", REPO, nested("imageScanningConfiguration.scanOnPush", False), "does not scan on push"),
    ("ecr-encryption", REPO, removed("encryptionConfigurations"), "encrypted with AES256"),
    ("ecr-lifecycle-keeps-rollback-targets", LIFECYCLE, lifecycle("imageCountMoreThan", 3), "keeps only 3 tagged"),
    ("ecr-lifecycle-keeps-rollback-targets", LIFECYCLE, lifecycle("sinceImagePushed", 90), "by age"),
    ("ecr-lifecycle-keeps-rollback-targets", LIFECYCLE, lifecycle("imageCountMoreThan", "ten"), "keeps only ten"),
    ("s3-bucket-hardened", PUBLIC_BLOCK, setting(blockPublicPolicy=False), "blockPublicPolicy not true"),
    ("s3-bucket-hardened", VERSIONING, nested("versioningConfiguration.status", "Suspended"), "Suspended"),
    ("s3-bucket-hardened", ENCRYPTION, setting(rules=[{"bucketKeyEnabled": True}]), "sets no default algorithm"),
    ("codebuild-no-plaintext-secrets", PROJECT, env_var("DB_PASSWORD", "PLAINTEXT"), "DB_PASSWORD as a PLAINTEXT"),
    ("codebuild-no-plaintext-secrets", PROJECT, env_var("GITHUB_TOKEN", None), "GITHUB_TOKEN"),
    ("codebuild-pinned-image", PROJECT, nested("environment.image", "aws/codebuild/standard:latest"), "floats"),
    ("codebuild-pinned-image", PROJECT, nested("environment.image", "public.ecr.aws/x/builder"), "floats"),
    ("codebuild-bounded-timeout", PROJECT, setting(buildTimeout=480), "buildTimeout 480 minutes"),
    ("codedeploy-auto-rollback", GROUP, nested("autoRollbackConfiguration.events", ["DEPLOYMENT_FAILURE"]),
     "DEPLOYMENT_STOP_ON_ALARM"),
    ("codedeploy-auto-rollback", GROUP, nested("autoRollbackConfiguration.enabled", False), "does not roll back"),
    ("codedeploy-alarm-gate", GROUP, nested("alarmConfiguration.alarms", []), "no alarms"),
    ("codedeploy-alarm-gate", GROUP, removed("alarmConfiguration"), "does not watch alarms"),
    ("codedeploy-wave-size", GROUP, setting(deploymentConfigName="CodeDeployDefault.AllAtOnce"), "AllAtOnce"),
    ("codedeploy-wave-size", GROUP, setting(deploymentConfigName="CodeDeployDefault.HalfAtATime"), "only 50%"),
    ("codedeploy-wave-size", DEPLOY_CONFIG, nested("minimumHealthyHosts.value", 50), "only 50%"),
    ("codepipeline-v2", PIPELINE, setting(pipelineType="V1"), "is V1"),
    ("codepipeline-one-rollback-owner", PIPELINE, deploy_stage(lambda s: s.update(onFailure={"result": "ROLLBACK"})),
     "also rolls back through the pipeline (onFailure.result ROLLBACK)"),
    ("codepipeline-one-rollback-owner", PIPELINE,
     deploy_stage(lambda s: s.update(onSuccess={"condition": {"result": "ROLLBACK", "rules": []}})),
     "(onSuccess.condition.result ROLLBACK)"),
    ("codepipeline-not-parallel", PIPELINE, setting(executionMode="PARALLEL"), "PARALLEL"),
    ("codepipeline-approval-before-deploy", PIPELINE, without_approval, "without a manual approval"),
    ("launch-template-imdsv2", TEMPLATE, nested("metadataOptions.httpTokens", "optional"), "optional"),
    ("launch-template-imdsv2", TEMPLATE, removed("metadataOptions"), "not set"),
    ("launch-template-encrypted-volumes", TEMPLATE, nested("blockDeviceMappings.0.ebs.encrypted", "false"),
     "/dev/xvda is not encrypted"),
    ("launch-template-encrypted-volumes", TEMPLATE, removed("blockDeviceMappings"), "declares no block device"),
    ("iam-least-privilege", ROLE_POLICY, rule_statement("s3:*"), "allows s3:* on *"),
    ("iam-least-privilege", ROLE_POLICY, rule_statement(["*"]), "allows * on *"),
    ("iam-least-privilege", ROLE_POLICY, rule_statement("iam:PassRole"), "iam:PassRole on *"),
    ("iam-least-privilege", ROLE_POLICY, rule_statement("s3:GetObject"), "s3:GetObject on * (scope it"),
]


ALSO_TRIPS = {("iam-least-privilege", "allows * on *"): PROMOTION}
"""Where one unsafe setting legitimately trips a second policy: `*` on `*` is also a grant to push an image, which a
promoted stack (prod) must not have."""


def unsafe_plan(policy_runs, type_: str, change) -> tuple:
    """The plan with `change` made, and the config to judge it with: prod's, or for what only dev builds, dev's plan
    with prod's config (`prod_config_for_dev`)."""
    stack, name = EDITED.get(type_, ("prod", None))
    config = prod_config_for_dev() if stack == "dev" else stack_config_file("prod")
    return edited(policy_runs[stack], type_, change, name=name), config


@pytest.mark.parametrize(("policy", "type_", "change", "fragment"), VIOLATIONS,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(VIOLATIONS)])
def test_an_unsafe_setting_is_a_mandatory_violation_that_says_what_to_fix(policy, type_, change, fragment,
                                                                           policy_runs, analyze):
    report = analyze(*unsafe_plan(policy_runs, type_, change))

    messages = of_policy(report, policy)
    assert any(fragment in message for message in messages), messages
    assert {d.level for d in report.diagnostics} == {"mandatory"}
    also = ALSO_TRIPS.get((policy, fragment))
    assert {d.policy for d in report.diagnostics} == {policy} | ({also} if also else set()), \
        "one unsafe setting trips one policy"
    if also == PROMOTION:
        assert all("statement Added allows pushing images" in m for m in of_policy(report, PROMOTION))


def test_a_disabled_policy_stays_silent_and_an_advisory_one_does_not_block(policy_runs, analyze):
    run = edited(policy_runs["prod"], PIPELINE, setting(executionMode="PARALLEL"))

    assert of_policy(analyze(run, {"codepipeline-not-parallel": "disabled"}), "codepipeline-not-parallel") == []
    report = analyze(run, {"codepipeline-not-parallel": "advisory"})
    assert [d.level for d in report.diagnostics] == ["advisory"]


@pytest.mark.parametrize(("stack", "type_", "name"), [
    ("dev", REPO, "registry-repo"),
    ("dev", BUCKET, "artifacts-bucket"),
    ("dev", BUCKET, "releases-bucket"),
    ("prod", BUCKET, "artifacts-bucket"),
])
def test_an_unprotected_repository_or_bucket_is_a_violation(stack, type_, name, policy_runs, analyze):
    copy = edited(policy_runs[stack], type_, lambda props: None, name=name)
    next(r for r in copy.resources if r.type == type_ and r.name == name).protect = False

    messages = of_policy(analyze(copy), "stateful-resources-protected")

    assert len(messages) == 1 and f"{type_} '{name}' holds state" in messages[0] and "is not protected" in messages[0]


def test_a_bucket_without_its_settings_resources_misses_all_three(policy_runs, analyze):
    run = policy_runs["prod"]
    bucket = Registration(urn=child_urn(run, BUCKET, "loose"), type=BUCKET, name="loose", protect=True,
                          inputs={}, outputs={"bucket": "loose-123", "id": "loose-123"})

    messages = of_policy(analyze(add_resource(run, bucket)), "s3-bucket-hardened")

    assert sorted(m.split(" has no ")[1].split(";")[0] for m in messages) == [
        "BucketPublicAccessBlock", "BucketServerSideEncryptionConfiguration", "BucketVersioning"]


def test_the_deprecated_v2_bucket_token_is_checked_too(policy_runs, analyze):
    run = policy_runs["prod"]
    token = "aws:s3/bucketV2:BucketV2"
    bucket = Registration(urn=child_urn(run, token, "old"), type=token, name="old", protect=True,
                          inputs={}, outputs={"bucket": "old-123"})

    assert len(of_policy(analyze(add_resource(run, bucket)), "s3-bucket-hardened")) == 3


def test_secrets_from_parameter_store_and_allowed_names_are_fine(policy_runs, analyze):
    run = edited(policy_runs["dev"], PROJECT, env_var("DB_PASSWORD", "PARAMETER_STORE"), name="build-project")
    run = edited(run, PROJECT, env_var("PUBLIC_KEY_ID", "PLAINTEXT"), name="build-project")

    report = analyze(run, {**prod_config_for_dev(),
                           "codebuild-no-plaintext-secrets": {"allowedNames": ["PUBLIC_KEY_ID"]}})

    assert report.diagnostics == []


def test_a_digest_pinned_image_passes_even_when_digests_are_required(policy_runs, analyze):
    image = "public.ecr.aws/x/builder@sha256:" + "a" * 64
    projects = [r.name for r in policy_runs["dev"].resources if r.type == PROJECT]
    run = policy_runs["dev"]
    for name in projects:  # the build project and the publisher
        run = edited(run, PROJECT, nested("environment.image", image), name=name)
    config = {**prod_config_for_dev(), "codebuild-pinned-image": {"requireDigest": True}}

    assert len(projects) == 2
    assert analyze(run, config).diagnostics == []
    assert len(of_policy(analyze(policy_runs["dev"], config), "codebuild-pinned-image")) == len(projects)


def test_a_host_count_config_is_judged_against_the_auto_scaling_group_min_size(policy_runs, analyze):
    run = edited(policy_runs["prod"], "aws:autoscaling/group:Group", setting(minSize=3))

    def with_hosts(count: int):
        return edited(run, DEPLOY_CONFIG, setting(minimumHealthyHosts={"type": "HOST_COUNT", "value": count}))

    assert of_policy(analyze(with_hosts(2)), "codedeploy-wave-size") == []
    assert any("only 33%" in m for m in of_policy(analyze(with_hosts(1)), "codedeploy-wave-size"))


@pytest.mark.parametrize(("form", "type_", "rule"), [
    ("inline IPv4", SG, {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("inline IPv6", SG, {"ingress": [{"protocol": "tcp", "fromPort": 3389, "toPort": 3389,
                                      "ipv6CidrBlocks": ["::/0"]}]}),
    ("default group inline", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
     {"vpcId": "vpc-1", "ingress": [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432,
                                     "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("inline all", SG, {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("ec2 rule", "aws:ec2/securityGroupRule:SecurityGroupRule",
     {"type": "ingress", "protocol": "tcp", "fromPort": 8080, "toPort": 8080, "cidrBlocks": ["0.0.0.0/0"]}),
    ("vpc rule IPv4", INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}),
    ("vpc rule IPv6 all", INGRESS_RULE, {"ipProtocol": "-1", "cidrIpv6": "::/0"}),
    ("ec2 rule protocol all IPv6", "aws:ec2/securityGroupRule:SecurityGroupRule",
     {"type": "ingress", "protocol": "all", "fromPort": 0, "toPort": 65535, "ipv6CidrBlocks": ["::/0"]}),
    ("range spanning the public ports", SG, {"ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": 443,
                                                         "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("vpc rule IPv6 spelled 0::/0", INGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 8443, "toPort": 8443,
                                                    "cidrIpv6": "0::/0"}),
])
def test_world_open_ingress_outside_the_public_ports_is_a_violation_in_every_form(form, type_, rule, policy_runs,
                                                                                 analyze):
    run = policy_runs["prod"]
    group = Registration(urn=child_urn(run, type_, "open"), type=type_, name="open", inputs=rule, outputs=rule)

    messages = of_policy(analyze(add_resource(run, group)), "security-group-no-world-ingress")

    assert messages and all("only ports [80, 443] may be public" in m for m in messages), form


def test_a_whole_tcp_range_is_reported_as_all_ports(policy_runs, analyze):
    run = policy_runs["prod"]
    rule = {"ingress": [{"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"]}]}
    group = Registration(urn=child_urn(run, SG, "wide"), type=SG, name="wide", inputs=rule, outputs=rule)

    messages = of_policy(analyze(add_resource(run, group)), "security-group-no-world-ingress")

    assert len(messages) == 1 and "opens all ports to 0.0.0.0/0" in messages[0]


@pytest.mark.parametrize(("type_", "rule"), [
    ("aws:ec2/securityGroupRule:SecurityGroupRule",
     {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}),
    (SG, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"],
                      "ipv6CidrBlocks": ["::/0"]}]}),
])
def test_egress_to_the_world_is_not_judged_as_ingress(type_, rule, policy_runs, analyze):
    run = policy_runs["prod"]
    group = Registration(urn=child_urn(run, type_, "out"), type=type_, name="out", inputs=rule, outputs=rule)

    assert analyze(add_resource(run, group)).diagnostics == []


@pytest.mark.parametrize("rule", [
    {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"},
    {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "10.0.0.0/16"},
    {"ipProtocol": "-1", "referencedSecurityGroupId": "sg-0123"},
])
def test_public_ports_and_private_sources_are_fine(rule, policy_runs, analyze):
    run = policy_runs["prod"]
    ingress = Registration(urn=child_urn(run, INGRESS_RULE, "ok"), type=INGRESS_RULE, name="ok", inputs=rule,
                           outputs=rule)

    assert analyze(add_resource(run, ingress)).diagnostics == []


def test_iam_in_every_form_role_inline_policies_and_managed_policies(policy_runs, analyze):
    run = policy_runs["prod"]
    admin = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    role = Registration(urn=child_urn(run, "aws:iam/role:Role", "wide"), type="aws:iam/role:Role", name="wide",
                        inputs={"inlinePolicies": [{"name": "all", "policy": admin}]})
    managed = Registration(urn=child_urn(run, "aws:iam/policy:Policy", "wide"), type="aws:iam/policy:Policy",
                           name="wide", inputs={"policy": admin})

    messages = of_policy(analyze(add_resource(add_resource(run, role), managed)), "iam-least-privilege")

    assert any("Role 'wide' inline policy 'all'" in m for m in messages)
    assert any("Policy 'wide' policy" in m for m in messages)


@pytest.mark.parametrize(("statement", "fragment"), [
    ({"Effect": "Allow", "Action": "ec2:*", "Resource": ["*"]}, "allows ec2:* on *"),
    ({"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "IAM:PassRole"], "Resource": "*"},
     "IAM:PassRole on * (lets the holder pass any role"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "Allow with NotAction/NotResource"),
])
def test_a_policy_given_as_an_object_with_a_single_statement_is_judged(statement, fragment, policy_runs, analyze):
    run = policy_runs["prod"]
    managed = Registration(urn=child_urn(run, "aws:iam/policy:Policy", "obj"), type="aws:iam/policy:Policy",
                           name="obj", inputs={"policy": {"Version": "2012-10-17", "Statement": statement}})

    messages = of_policy(analyze(add_resource(run, managed)), "iam-least-privilege")

    assert len(messages) == 1 and fragment in messages[0], messages


@pytest.mark.parametrize(("type_", "inputs", "fragment"), [
    ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
     {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
     "RolePolicyAttachment 'admin' attaches the AWS-managed policy AdministratorAccess (policyArn)"),
    ("aws:iam/role:Role", {"managedPolicyArns": ["arn:aws-us-gov:iam::aws:policy/PowerUserAccess"]},
     "Role 'admin' attaches the AWS-managed policy PowerUserAccess (managedPolicyArns)"),
])
def test_attaching_an_admin_like_aws_managed_policy_is_a_violation(type_, inputs, fragment, policy_runs, analyze):
    run = policy_runs["prod"]
    attachment = Registration(urn=child_urn(run, type_, "admin"), type=type_, name="admin", inputs=inputs)

    messages = of_policy(analyze(add_resource(run, attachment)), "iam-least-privilege")

    assert len(messages) == 1 and fragment in messages[0], messages


def test_scoped_and_customer_managed_policy_attachments_are_fine(policy_runs, analyze):
    run = policy_runs["prod"]
    type_ = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    for name, arn in [("ssm", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"),
                      ("own", "arn:aws:iam::123456789012:policy/AdministratorAccess")]:  # its document is judged
        run = add_resource(run, Registration(urn=child_urn(run, type_, name), type=type_, name=name,
                                             inputs={"role": "r", "policyArn": arn}))

    assert analyze(run).diagnostics == []


def trust(principal, condition=None) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Condition": condition} if condition
                                                              else statement]})


@pytest.mark.parametrize(("principal", "condition", "violates"), [
    ({"AWS": "*"}, None, True),
    ("*", None, True),
    ({"AWS": ["arn:aws:iam::123456789012:root", "*"]}, None, True),
    ({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
    ({"AWS": "arn:aws:iam::123456789012:root"}, None, False),
])
def test_a_role_anyone_may_assume_is_a_violation(principal, condition, violates, policy_runs, analyze):
    run = policy_runs["prod"]
    role = Registration(urn=child_urn(run, "aws:iam/role:Role", "open"), type="aws:iam/role:Role", name="open",
                        inputs={"assumeRolePolicy": trust(principal, condition)})

    messages = of_policy(analyze(add_resource(run, role)), "iam-least-privilege")

    assert messages == (["Role 'open' assumeRolePolicy statement #0 lets any AWS principal assume it (Principal *); "
                         "name the service or account, or add a Condition"] if violates else [])


def test_deny_statements_and_scoped_resources_are_fine(policy_runs, analyze):
    run = edited(policy_runs["prod"], ROLE_POLICY, rule_statement("s3:*", "arn:aws:s3:::bucket/*"))
    document = json.loads(next(r for r in run.resources if r.type == ROLE_POLICY).inputs["policy"])
    document["Statement"].append({"Effect": "Deny", "Action": "*", "Resource": "*"})
    run = edited(run, ROLE_POLICY, setting(policy=json.dumps(document)))

    assert analyze(run).diagnostics == []
