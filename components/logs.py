"""CloudWatch log groups with bounded retention, and the grant to write to one."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import iam

WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def log_group(name: str, retention_days: int, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    # Logs are encrypted at rest by CloudWatch Logs itself; the group is protected like other stateful data.
    return aws.cloudwatch.LogGroup(name, retention_in_days=retention_days,
                                   opts=pulumi.ResourceOptions(parent=parent, protect=True))


def grant_write(name: str, role: aws.iam.Role, group: aws.cloudwatch.LogGroup,
                parent: pulumi.Resource) -> aws.iam.RolePolicy:
    """Create streams in, and write to, this one group (the ARN with `:*` covers its streams)."""
    return iam.inline_policy(name, role, [
        iam.statement(WRITE_ACTIONS, [group.arn, pulumi.Output.concat(group.arn, ":*")], sid="OwnLogs"),
    ], parent=parent)
