"""Promotion: a stack that takes its releases from another stack (`delivery:promoteFrom`) instead of building them.

`UpstreamRelease` reads the upstream stack's outputs through a StackReference: its release bucket and its image
repository. It is this stack's image source (instances pull the release's digest from the upstream repository) and
its pipeline's source (the published `releases/latest.zip`). `ReleaseTrigger` starts the pipeline when a new release
is published: S3's "Object Created" event for the release key, on this account's default event bus (the upstream
forwards it there when it runs in another account)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.aws_context import AwsContext
from components.registry import pull_statements
from components.release_store import (
    record_statements,
    release_event_pattern,
    source_statements,
)

# The upstream's outputs this stack reads (a test checks that a building stack exports every one).
UPSTREAM_OUTPUTS = ("region", "accountId", "promoteToAccounts", "releaseBucket", "releaseBucketArn",
                    "repositoryArn", "repositoryUrl")


class PromotionError(pulumi.RunError):
    """The upstream stack cannot serve this one; the message says why and what to change."""


def check_reachable(upstream: str, here_region: str, here_account: str, outputs: dict) -> None:
    """A promoted stack runs in its upstream's region (a pipeline's S3 source bucket must be in the pipeline's
    region), and in its account or in one the upstream grants (`promoteToAccounts`)."""
    if outputs["region"] != here_region:
        raise PromotionError(f"`{upstream}` runs in {outputs['region']} and this stack in {here_region}: a promoted "
                             "stack must run in its upstream's region (CodePipeline reads its S3 source there)")
    granted = outputs["promoteToAccounts"] or []
    if outputs["accountId"] != here_account and here_account not in granted:
        raise PromotionError(f"`{upstream}` does not grant account {here_account} its releases: add it to "
                             f"`delivery:promoteToAccounts` there and run `pulumi up` on it first")


@dataclass
class UpstreamReleaseArgs:
    context: AwsContext
    promote_from: str
    """The upstream stack, organization/project/stack."""


class UpstreamRelease(pulumi.ComponentResource):
    def __init__(self, name: str, args: UpstreamReleaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:promotion:UpstreamRelease", name, None, opts)
        self.promote_from = args.promote_from
        reference = pulumi.StackReference(args.promote_from, opts=pulumi.ResourceOptions(parent=self))
        outputs = {key: reference.require_output(key) for key in UPSTREAM_OUTPUTS}
        checked = pulumi.Output.all(account=args.context.account_id, **outputs).apply(
            lambda values: self._checked(values, args.context.region))
        # Everything this stack takes from the upstream goes through the check, so nothing is created against an
        # upstream it cannot use.
        self.account_id = checked["accountId"]
        self.bucket_name = checked["releaseBucket"]
        self.bucket_arn = checked["releaseBucketArn"]
        self.repository_arn = checked["repositoryArn"]
        self.repository_url = checked["repositoryUrl"]
        self.register_outputs({"promoteFrom": args.promote_from, "releaseBucket": self.bucket_name,
                               "repositoryUrl": self.repository_url})

    def _checked(self, values: dict, region: str) -> dict:
        check_reachable(self.promote_from, region, values["account"], values)
        return values

    def grant_pull(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Pull the upstream's release images (its repository policy admits this account when it is another)."""
        return iam.inline_policy(name, role, pull_statements(self.repository_arn), parent=self)

    def grant_source(self, name: str, role: aws.iam.Role, live_key: str) -> aws.iam.RolePolicy:
        """What this stack's pipeline needs: read the published releases, record the one it runs."""
        return iam.inline_policy(name, role, [*source_statements(self.bucket_arn),
                                              record_statements(self.bucket_arn, [live_key])[0]], parent=self)


@dataclass
class ReleaseTriggerArgs:
    context: AwsContext
    upstream: UpstreamRelease
    pipeline_name: pulumi.Input[str]
    pipeline_arn: pulumi.Input[str]


class ReleaseTrigger(pulumi.ComponentResource):
    """Starts the pipeline when the upstream publishes a release."""

    def __init__(self, name: str, args: ReleaseTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:promotion:ReleaseTrigger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = iam.service_role(f"{name}-role", "events.amazonaws.com", self,
                                "EventBridge: start the pipeline on a new release", args.context.account_id)
        grant = iam.inline_policy(f"{name}-start", role, [
            iam.statement(["codepipeline:StartPipelineExecution"], [args.pipeline_arn], sid="ThisPipeline")],
            parent=self)
        self.rule = aws.cloudwatch.EventRule(f"{name}-rule", description="A release was published upstream",
                                             event_pattern=release_event_pattern(args.upstream.bucket_name),
                                             opts=child)
        aws.cloudwatch.EventTarget(f"{name}-target", rule=self.rule.name, arn=args.pipeline_arn, role_arn=role.arn,
                                   opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]))
        # Another account's upstream forwards its release events to this account's default bus, which must admit
        # them. Known only once the reference is read (preview reads it too), hence decided inside apply.
        pulumi.Output.all(args.upstream.account_id, args.context.account_id).apply(
            lambda accounts: self._admit(name, *accounts))
        self.register_outputs({"ruleName": self.rule.name})

    def _admit(self, name: str, upstream_account: str, here_account: str) -> None:
        if upstream_account != here_account:
            # One statement per promoted stack: two stacks in this account must not share (or delete) one.
            aws.cloudwatch.EventPermission(f"{name}-admit-upstream", principal=upstream_account,
                                           statement_id=f"releases-{pulumi.get_project()}-{pulumi.get_stack()}"
                                                        f"-from-{upstream_account}",
                                           action="events:PutEvents", event_bus_name="default",
                                           opts=pulumi.ResourceOptions(parent=self))
