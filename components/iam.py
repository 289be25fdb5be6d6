"""Small helpers for IAM documents, so each component states its grants as (actions, resources) pairs.

Documents are built as Outputs of plain dicts and serialized once, which keeps them readable in tests and
in `pulumi preview`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

# Actions granted on "*": AWS has no resource-level permission for them, or (cited in docs/aws-behaviour.md)
# AWS documents "*" as the only scope under which they fully work.
AWS_STAR_ONLY_ACTIONS = frozenset({
    "ecr:GetAuthorizationToken",
    "cloudwatch:DescribeAlarms",  # composite alarms are returned only on "*" (docs/aws-behaviour.md, B1)
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLifecycleHooks",
    "autoscaling:DescribeNotificationConfigurations",
    "autoscaling:DescribePolicies",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeScheduledActions",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "tag:GetResources",
})


def statement(actions: Sequence[str], resources: Sequence[pulumi.Input[str]], sid: str | None = None) -> dict:
    """One Allow statement. Actions are sorted so diffs stay stable."""
    entry: dict = {"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}
    if sid:
        entry["Sid"] = sid
    return entry


def condition(entry: dict, conditions: dict) -> dict:
    """`entry` (a statement) that applies only when `conditions` hold."""
    return {**entry, "Condition": conditions}


def policy_json(statements: Sequence[dict]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def assume_role_policy(service: str, source_account: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust policy for one AWS service principal; with `source_account`, only on behalf of this account
    (the confused-deputy guard AWS recommends for service roles)."""
    trust: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return policy_json([trust])


def service_role(name: str, service: str, parent: pulumi.Resource, description: str,
                 source_account: pulumi.Input[str] | None = None) -> aws.iam.Role:
    return aws.iam.Role(
        name,
        assume_role_policy=assume_role_policy(service, source_account),
        description=description,
        max_session_duration=3600,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def inline_policy(name: str, role: aws.iam.Role, statements: Sequence[dict],
                  parent: pulumi.Resource) -> aws.iam.RolePolicy:
    """Attaches `statements` to `role` as its own inline policy resource."""
    return aws.iam.RolePolicy(name, role=role.id, policy=policy_json(statements),
                              opts=pulumi.ResourceOptions(parent=parent))
