"""`promoted-stack-builds-nothing`, driven over the Analyzer protocol with synthetic stacks in the shapes the program
plans (camelCase, as the engine sends them): a promoted stack (prod: its pipeline takes the upstream's published
release from S3, approves, deploys with CodeDeploy and records what is live) passes; each way of building in it
is one mandatory violation that says what to remove and why; preview unknowns are named, never judged.

The shapes here are shared with test_promotion_existing_checks.py."""

from __future__ import annotations

import copy
import json

import pytest

from ops.offline.model import STACK_TYPE, MockRun, Registration

from .conftest import UNKNOWN_STRING, of_policy, stack_config_file

POLICY = "promoted-stack-builds-nothing"
ONLY_THIS = {"all": "disabled", POLICY: "mandatory"}
WHY = "(prod deploys what baked in dev; it builds nothing)"

PROJECT = "delivery"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
PROJECT_TYPE = "aws:codebuild/project:Project"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
UPSTREAM_BUCKET = "releases-bucket-0123abc"
RELEASE_KEY = "releases/latest.zip"
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PUSH_ACTIONS = ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
UPSTREAM_REPOSITORY_ARN = "arn:aws:ecr:us-east-1:123456789012:repository/registry-repo-0123abc"


def stack(*resources: Registration, name: str = "prod") -> MockRun:
    root = Registration(urn=f"urn:pulumi:{name}::{PROJECT}::{STACK_TYPE}::{PROJECT}-{name}", type=STACK_TYPE,
                        name=f"{PROJECT}-{name}", custom=False)
    adopted = [Registration(**{**vars(r), "urn": r.urn.replace("urn:pulumi:prod::", f"urn:pulumi:{name}::"),
                               "parent": root.urn}) for r in resources]
    return MockRun(project=PROJECT, stack=name, resources=[root, *adopted], stack_outputs={})


def resource(type_: str, name: str, props: dict, **options) -> Registration:
    """A planned resource: the engine sends the inputs to Analyze and the planned outputs to AnalyzeStack."""
    return Registration(urn=f"urn:pulumi:prod::{PROJECT}::{type_}::{name}", type=type_, name=name,
                        inputs=json.loads(json.dumps(props)), outputs=json.loads(json.dumps(props)), **options)


def action(category: str, provider: str, name: str, configuration: dict | None = None, run_order: int = 1,
           owner: str = "AWS") -> dict:
    return {"category": category, "owner": owner, "provider": provider, "version": "1", "name": name,
            "configuration": configuration or {}, "runOrder": run_order}


def s3_write(name: str, key: str, run_order: int = 1) -> dict:
    return action("Deploy", "S3", name, {"BucketName": UPSTREAM_BUCKET, "ObjectKey": key, "Extract": "false"},
                  run_order=run_order)


SOURCE_S3 = {"name": "Source", "actions": [action("Source", "S3", "Release", {
    "S3Bucket": UPSTREAM_BUCKET, "S3ObjectKey": RELEASE_KEY, "PollForSourceChanges": "false"})]}
SOURCE_GITHUB = {"name": "Source", "actions": [action("Source", "CodeStarSourceConnection", "Code", {
    "ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/0123",
    "FullRepositoryId": "owner/app", "BranchName": "main"})]}
BUILD = {"name": "Build", "actions": [action("Build", "CodeBuild", "Build", {"ProjectName": "build-project"})]}
APPROVAL = {"name": "Approval", "actions": [action("Approval", "Manual", "Approve")]}
DEPLOY = {"name": "Deploy", "actions": [action("Deploy", "CodeDeploy", "Deploy", {
    "ApplicationName": "app", "DeploymentGroupName": "app-prod"})], "onFailure": {"result": "FAIL"}}
RECORD = {"name": "Record", "actions": [s3_write("RecordLive", "live/prod.zip")]}
PUBLISH = {"name": "Publish", "actions": [
    action("Build", "CodeBuild", "Tag", {"ProjectName": "release-publisher"}, run_order=1),
    s3_write("Release", RELEASE_KEY, run_order=2),
    s3_write("RecordLive", "live/dev.zip", run_order=2),
]}
PROMOTED_STAGES = [SOURCE_S3, APPROVAL, DEPLOY, RECORD]
BUILDING_STAGES = [SOURCE_GITHUB, BUILD, APPROVAL, DEPLOY, PUBLISH]


def pipeline(stages: list[dict], name: str = "pipeline") -> Registration:
    return resource(PIPELINE, name, {"name": name, "pipelineType": "V2", "executionMode": "SUPERSEDED",
                                     "stages": stages})


def statement(actions, resources, effect: str = "Allow", sid: str | None = None, key: str = "Action") -> dict:
    found = {"Effect": effect, key: actions, "Resource": resources}
    return {"Sid": sid, **found} if sid else found


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def role_policy(name: str, *statements: dict) -> Registration:
    return resource(ROLE_POLICY, name, {"role": f"{name}-role", "policy": document(*statements)})


def pull_grant(name: str = "fleet-pull") -> Registration:
    """What a promoted stack's instances get: pull from the upstream's repository, and the registry login."""
    return role_policy(name, statement(PULL_ACTIONS, [UPSTREAM_REPOSITORY_ARN], sid="ThisRepository"),
                       statement(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"))


def pipeline_grant(name: str = "pipeline-releases") -> Registration:
    bucket = f"arn:aws:s3:::{UPSTREAM_BUCKET}"
    return role_policy(name, statement(["s3:GetObject", "s3:GetObjectVersion"], [f"{bucket}/{RELEASE_KEY}"]),
                       statement(["s3:PutObject"], [f"{bucket}/live/prod.zip"]),
                       statement(["codedeploy:CreateDeployment"], ["arn:aws:codedeploy:us-east-1:123456789012:"
                                                                   "deploymentgroup:app/app-prod"]))


def push_grant(name: str = "build-push") -> Registration:
    return role_policy(name, statement([*PULL_ACTIONS, *PUSH_ACTIONS, "ecr:DescribeImages"],
                                       [UPSTREAM_REPOSITORY_ARN], sid="ThisRepository"))


def promoted_stack() -> MockRun:
    return stack(pipeline(PROMOTED_STAGES), pull_grant(), pipeline_grant())


def building_stack() -> MockRun:
    return stack(pipeline(BUILDING_STAGES),
                 resource(PROJECT_TYPE, "build-project", {"name": "build-project", "buildTimeout": 30}),
                 resource(PROJECT_TYPE, "release-publisher", {"name": "release-publisher", "buildTimeout": 10}),
                 resource(REPOSITORY, "registry-repo", {"imageTagMutability": "IMMUTABLE"}, protect=True),
                 pull_grant(), push_grant(), name="dev")


# -- the tests


def with_stages(stages: list[dict]) -> MockRun:
    return stack(pipeline(stages), pull_grant(), pipeline_grant())


def replaced(stages: list[dict], name: str, stage: dict) -> list[dict]:
    return [stage if s["name"] == name else s for s in stages]


def messages(report) -> list[str]:
    return of_policy(report, POLICY)


def test_it_is_a_stack_policy_mandatory_in_prod_and_disabled_in_dev(pack):
    (info,) = [p for p in pack.info()[1] if p.name == POLICY]
    prod = {name: level for name, (level, _) in pack.configure(stack_config_file("prod")).items()}
    dev = {name: level for name, (level, _) in pack.configure(stack_config_file("dev")).items()}

    assert info.kind == "stack"
    assert info.description.startswith("A promoted stack deploys the upstream's release and builds nothing")
    assert (dev[POLICY], prod[POLICY]) == ("disabled", "mandatory")


def test_a_promoted_stack_passes(analyze):
    report = analyze(promoted_stack(), ONLY_THIS)

    assert report.diagnostics == []


def test_a_promoted_stack_passes_with_the_prod_config(analyze):
    assert messages(analyze(promoted_stack(), stack_config_file("prod"))) == []


def test_a_building_stack_judged_as_promoted_has_one_violation_per_thing_it_builds_with(analyze):
    report = analyze(building_stack(), ONLY_THIS)

    assert sorted(messages(report)) == sorted([
        f"CodeBuild project 'build-project': remove it; a promoted stack runs no builds {WHY}",
        f"CodeBuild project 'release-publisher': remove it; a promoted stack runs no builds {WHY}",
        "ECR repository 'registry-repo': remove it and pull the release image from the upstream's repository; a "
        f"promoted stack makes no images {WHY}",
        "pipeline 'pipeline' stage 'Source' action 'Code' takes its source from CodeStarSourceConnection: replace it "
        "with an S3 source action on the upstream's published release (its release bucket); a promoted pipeline "
        f"never reads the code {WHY}",
        "pipeline 'pipeline' stage 'Build' action 'Build' is a Build action (CodeBuild): remove it; a promoted "
        f"pipeline deploys the upstream's release as it is {WHY}",
        "pipeline 'pipeline' stage 'Publish' action 'Tag' is a Build action (CodeBuild): remove it; a promoted "
        f"pipeline deploys the upstream's release as it is {WHY}",
        "RolePolicy 'build-push' policy statement ThisRepository allows pushing images (ecr:PutImage, "
        "ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload): remove it; a promoted stack only "
        f"pulls the upstream's release image {WHY}",
    ])
    assert {d.level for d in report.diagnostics} == {"mandatory"}


def test_each_violation_is_attributed_to_the_resource_to_remove_or_change(analyze):
    report = analyze(building_stack(), ONLY_THIS)
    urns = {d.message.split(":")[0]: d.urn for d in report.diagnostics}

    assert urns["ECR repository 'registry-repo'"].endswith(f"::{REPOSITORY}::registry-repo")
    assert urns["CodeBuild project 'build-project'"].endswith(f"::{PROJECT_TYPE}::build-project")
    assert urns["RolePolicy 'build-push' policy statement ThisRepository allows pushing images (ecr"].endswith(
        f"::{ROLE_POLICY}::build-push")
    assert all(urn.endswith(f"::{PIPELINE}::pipeline") for message, urn in urns.items()
               if message.startswith("pipeline"))


def test_the_dev_config_leaves_a_building_stack_alone(analyze):
    assert messages(analyze(building_stack(), stack_config_file("dev"))) == []


VIOLATIONS = [
    ("a CodeBuild project", stack(pipeline(PROMOTED_STAGES), resource(PROJECT_TYPE, "smoke", {"name": "smoke"})),
     "CodeBuild project 'smoke': remove it"),
    ("an ECR repository", stack(pipeline(PROMOTED_STAGES), resource(REPOSITORY, "images", {}, protect=True)),
     "ECR repository 'images': remove it"),
    ("a Build action before the deploy", with_stages([SOURCE_S3, BUILD, APPROVAL, DEPLOY, RECORD]),
     "stage 'Build' action 'Build' is a Build action (CodeBuild): remove it"),
    ("a Build action after the deploy", with_stages([*PROMOTED_STAGES[:3], PUBLISH]),
     "stage 'Publish' action 'Tag' is a Build action (CodeBuild): remove it"),
    ("a Build action of another provider", with_stages(replaced(PROMOTED_STAGES, "Approval", {
        "name": "Approval", "actions": [action("Build", "Jenkins", "Bake", owner="Custom")]})),
     "action 'Bake' is a Build action (Jenkins)"),
    ("a CodeStar connection source", with_stages(replaced(PROMOTED_STAGES, "Source", SOURCE_GITHUB)),
     "takes its source from CodeStarSourceConnection: replace it with an S3 source action"),
    ("a GitHub (version 1) source", with_stages(replaced(PROMOTED_STAGES, "Source", {
        "name": "Source", "actions": [action("Source", "GitHub", "Code", owner="ThirdParty")]})),
     "takes its source from GitHub: replace it"),
    ("an ECR source next to the S3 one", with_stages(replaced(PROMOTED_STAGES, "Source", {
        "name": "Source", "actions": [SOURCE_S3["actions"][0], action("Source", "ECR", "Image")]})),
     "action 'Image' takes its source from ECR"),
]


@pytest.mark.parametrize(("case", "run", "fragment"), VIOLATIONS, ids=[case[0] for case in VIOLATIONS])
def test_each_way_of_building_is_one_mandatory_violation_that_says_what_to_remove_and_why(case, run, fragment,
                                                                                         analyze):
    report = analyze(run, ONLY_THIS)

    (message,) = messages(report)
    assert fragment in message and message.endswith(WHY), message
    assert [d.level for d in report.diagnostics] == ["mandatory"]


PUSHING = [
    ("every push action", statement(PUSH_ACTIONS, [UPSTREAM_REPOSITORY_ARN]), PUSH_ACTIONS),
    ("PutImage alone, as a string", statement("ecr:PutImage", UPSTREAM_REPOSITORY_ARN), ["ecr:PutImage"]),
    ("a layer upload", statement(["ecr:BatchGetImage", "ecr:UploadLayerPart"], "*"), ["ecr:UploadLayerPart"]),
    ("ecr:*", statement("ecr:*", [UPSTREAM_REPOSITORY_ARN]), PUSH_ACTIONS),
    ("*", statement("*", "*"), PUSH_ACTIONS),
    ("a wildcard within the name", statement(["ecr:Put*"], "*"), ["ecr:PutImage"]),
    ("a ? wildcard", statement(["ecr:?ploadLayerPart"], "*"), ["ecr:UploadLayerPart"]),
    ("another case (IAM actions are case-insensitive)", statement(["ECR:putimage"], "*"), ["ecr:PutImage"]),
    ("NotAction that leaves push out", statement(["ecr:BatchGetImage"], "*", key="NotAction"), PUSH_ACTIONS),
    ("NotAction that leaves one push action out",
     statement(["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:CompleteLayerUpload"], "*", key="NotAction"),
     ["ecr:UploadLayerPart"]),
]


@pytest.mark.parametrize(("case", "grant", "actions"), PUSHING, ids=[case[0] for case in PUSHING])
def test_an_inline_policy_that_allows_pushing_an_image_is_a_violation(case, grant, actions, analyze):
    run = stack(pipeline(PROMOTED_STAGES), pull_grant(), role_policy("instance-extra", {**grant, "Sid": "Extra"}))

    (message,) = messages(analyze(run, ONLY_THIS))

    expected = ", ".join(a for a in ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                                     "ecr:CompleteLayerUpload"] if a in actions)
    assert message.startswith(f"RolePolicy 'instance-extra' policy statement Extra allows pushing images ({expected}): "
                              "remove it"), message


@pytest.mark.parametrize(("case", "grant"), [
    ("pull only", statement(PULL_ACTIONS, [UPSTREAM_REPOSITORY_ARN])),
    ("the registry login", statement("ecr:GetAuthorizationToken", "*")),
    ("reads by wildcard", statement(["ecr:Get*", "ecr:Describe*", "ecr:List*", "ecr:BatchGet*"], "*")),
    ("a Deny of everything in ECR", statement("ecr:*", "*", effect="Deny")),
    ("NotAction that leaves out all of ECR", statement(["ecr:*"], "*", key="NotAction")),
    ("other services", statement(["s3:PutObject", "codedeploy:*"], "*")),
])
def test_grants_that_cannot_push_pass(case, grant, analyze):
    run = stack(pipeline(PROMOTED_STAGES), role_policy("extra", grant))

    assert messages(analyze(run, ONLY_THIS)) == []


def test_push_grants_in_a_roles_inline_policies_and_in_managed_policies_count_too(analyze):
    pushing = document(statement(["ecr:PutImage"], "*"))
    run = stack(pipeline(PROMOTED_STAGES),
                resource(ROLE, "builder", {"assumeRolePolicy": "{}", "inlinePolicies": [
                    {"name": "push", "policy": pushing}]}),
                resource(MANAGED_POLICY, "pusher", {"policy": json.loads(pushing)}))

    assert sorted(m.split(" allows")[0] for m in messages(analyze(run, ONLY_THIS))) == [
        "Policy 'pusher' policy statement #0", "Role 'builder' inline policy 'push' statement #0"]


def test_the_programs_own_stacks_the_promoted_one_passes_the_building_one_fails_every_rule(policy_runs, analyze):
    """The synthetic shapes above are the program's: its dev plan, judged as if promoted, trips every rule."""
    assert messages(analyze(policy_runs["prod"], ONLY_THIS)) == []
    found = messages(analyze(policy_runs["dev"], ONLY_THIS))
    for fragment in ("CodeBuild project '", "ECR repository '", "is a Build action (CodeBuild): remove it",
                     "takes its source from CodeStarSourceConnection", "allows pushing images (ecr:PutImage"):
        assert any(fragment in message for message in found), (fragment, found)


# -- preview: what is unknown is named (advisory), what is known is still judged


def unknown_at(run: MockRun, type_: str, change) -> MockRun:
    copied = copy.deepcopy(run)
    target = next(r for r in copied.resources if r.type == type_)
    change(target.inputs)
    change(target.outputs)
    return copied


def test_unknown_stages_are_named_not_judged(analyze):
    run = unknown_at(building_stack(), PIPELINE, lambda props: props.update(stages=UNKNOWN_STRING))
    report = analyze(run, ONLY_THIS)

    notes = [d.message for d in report.diagnostics if d.level == "advisory"]
    assert len(notes) == 1 and "pipeline 'pipeline' stages" in notes[0] and "during preview" in notes[0]
    assert not any(m.startswith("pipeline") for m in messages(report) if "during preview" not in m)
    assert any("ECR repository 'registry-repo'" in m for m in messages(report)), "known resources are still judged"


def test_an_unknown_category_or_source_provider_is_named_and_known_build_actions_still_judged(analyze):
    def half_known(props):
        props["stages"][0]["actions"][0]["provider"] = UNKNOWN_STRING  # the source
        props["stages"][4]["actions"][0]["category"] = UNKNOWN_STRING  # Publish's Tag

    report = analyze(unknown_at(stack(pipeline(BUILDING_STAGES)), PIPELINE, half_known), ONLY_THIS)

    levels = sorted((d.level, d.message) for d in report.diagnostics)
    assert [level for level, _ in levels] == ["advisory", "mandatory"]
    assert "stage 'Build' action 'Build' is a Build action" in levels[1][1]
    assert "stages[Source].actions[Code].provider" in levels[0][1]
    assert "stages[Publish].actions[Tag].category" in levels[0][1]


def test_an_unknown_action_list_is_named(analyze):
    def unknown_actions(props):
        props["stages"][1]["actions"] = UNKNOWN_STRING

    report = analyze(unknown_at(stack(pipeline(PROMOTED_STAGES)), PIPELINE, unknown_actions), ONLY_THIS)

    assert [(d.level, "stages[Approval].actions" in d.message) for d in report.diagnostics] == [("advisory", True)]


def test_an_unknown_policy_document_is_named_not_judged(analyze):
    run = unknown_at(stack(push_grant()), ROLE_POLICY, lambda props: props.update(policy=UNKNOWN_STRING))

    report = analyze(run, ONLY_THIS)

    assert [d.level for d in report.diagnostics] == ["advisory"]
    assert "RolePolicy 'build-push' policy" in report.diagnostics[0].message


def test_a_known_push_action_next_to_an_unknown_one_is_still_a_violation(analyze):
    grant = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Half", "Effect": "Allow", "Action": [UNKNOWN_STRING, "ecr:PutImage"], "Resource": "*"}]}
    run = stack(resource(MANAGED_POLICY, "half", {"policy": grant}))

    levels = sorted((d.level, d.message) for d in analyze(run, ONLY_THIS).diagnostics)

    assert [level for level, _ in levels] == ["advisory", "mandatory"]
    assert "statement Half allows pushing images (ecr:PutImage)" in levels[1][1]
    assert "statement Half.Action" in levels[0][1]


@pytest.mark.parametrize("statement_", [
    {"Sid": "S", "Effect": UNKNOWN_STRING, "Action": "ecr:PutImage", "Resource": "*"},
    {"Sid": "S", "Effect": "Allow", "NotAction": ["ecr:*", UNKNOWN_STRING], "Resource": "*"},
    {"Sid": "S", "Effect": "Allow", "Action": UNKNOWN_STRING, "Resource": "*"},
])
def test_a_statement_whose_grant_is_unknown_is_named_not_judged(statement_, analyze):
    run = stack(resource(MANAGED_POLICY, "later", {"policy": {"Version": "2012-10-17", "Statement": [statement_]}}))

    report = analyze(run, ONLY_THIS)

    assert [d.level for d in report.diagnostics] == ["advisory"]
    assert "Policy 'later' policy statement S." in report.diagnostics[0].message
