"""CloudWatch log groups with bounded retention, and the grant to write to one."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import iam

STREAM_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")  # scoped to log streams (AWS's catalogue)
GROUP_ACTIONS = ("logs:DescribeLogStreams",)  # scoped to the log group itself


def log_group(name: str, retention_days: int, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    # Logs are encrypted at rest by CloudWatch Logs itself; the group is protected like other stateful data.
    return aws.cloudwatch.LogGroup(name, retention_in_days=retention_days,
                                   opts=pulumi.ResourceOptions(parent=parent, protect=True))


def grant_write(name: str, role: aws.iam.Role, group: aws.cloudwatch.LogGroup,
                parent: pulumi.Resource) -> aws.iam.RolePolicy:
    """Create streams in, and write to, this one group. Each action gets the resource type AWS authorizes it on:
    a grant on another type would silently allow nothing (tests/components/test_iam_catalogue.py)."""
    return iam.inline_policy(name, role, [
        iam.statement(STREAM_ACTIONS, [pulumi.Output.concat(group.arn, ":log-stream:*")], sid="OwnLogStreams"),
        iam.statement(GROUP_ACTIONS, [group.arn], sid="OwnLogGroup"),
    ], parent=parent)
