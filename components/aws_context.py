"""Where the stack runs: account, region and partition, looked up once and handed to every component so
each can write exact ARNs for its grants."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    account_id: pulumi.Output[str]
    region: str
    partition: pulumi.Output[str]

    def arn(self, service: str, resource: str, region: bool = True) -> pulumi.Output[str]:
        """arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE for this stack's account."""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", self.region if region else "", ":", self.account_id, ":",
            resource,
        )


def lookup(provider: aws.Provider, region: str) -> AwsContext:
    options = pulumi.InvokeOutputOptions(provider=provider)
    identity = aws.get_caller_identity_output(opts=options)
    partition = aws.get_partition_output(opts=options)
    return AwsContext(account_id=identity.account_id, region=region, partition=partition.partition)
