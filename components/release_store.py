"""Release store: where a stack that builds publishes the releases that baked healthy in it, and where every stack
records the release it runs. One bucket, two prefixes:

- `releases/latest.zip`: each version is one release, the CodeDeploy bundle exactly as this stack deployed it
  (image by digest, hooks, release.json with the commit and the pipeline execution, the API contract). A promoted
  stack's pipeline takes it as its source; the S3 version is the release's identity.
- `live/<stack>.zip`: the release each stack runs, written after its deploy succeeded. The build's contract gate
  compares a change with every one of them (app/contract/live.py).

Downstream stacks in other accounts (`promoteToAccounts`) may read releases and record what they run; the bucket
uses SSE-S3 because the AWS managed aws/s3 key cannot be shared with another account (docs/aws-behaviour.md).
S3 sends its events to EventBridge, which starts the promoted pipelines (components/promotion.py); for another
account, a rule here forwards the release event to that account's default event bus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import iam
from components.args import require
from components.aws_context import AwsContext
from components.buckets import PrivateBucket, object_arn

RELEASE_KEY = "releases/latest.zip"
LIVE_PREFIX = "live/"
# What a pipeline's S3 source and S3 deploy actions need, as CodePipeline's action reference documents them
# (docs/aws-behaviour.md, B25, B28). The ACL actions can set nothing but owner control: ACLs are disabled here.
SOURCE_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging")
RECORD_OBJECT_ACTIONS = ("s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl")
BUCKET_ACTIONS = ("s3:GetBucketVersioning", "s3:GetBucketLocation", "s3:GetBucketAcl")


def live_key(stack: str) -> str:
    return f"{LIVE_PREFIX}{stack}.zip"


def release_event_pattern(bucket_name: pulumi.Input[str]) -> pulumi.Output[str]:
    """The EventBridge pattern of a new release: S3's "Object Created" event for the release key."""
    return pulumi.Output.json_dumps({"source": ["aws.s3"], "detail-type": ["Object Created"],
                                     "detail": {"bucket": {"name": [bucket_name]},
                                                "object": {"key": [RELEASE_KEY]}}})


def source_statements(bucket_arn: pulumi.Input[str]) -> list[dict]:
    """Read the published releases, as a pipeline's S3 source action does."""
    return [iam.statement(SOURCE_OBJECT_ACTIONS, [object_arn(bucket_arn, RELEASE_KEY)], sid="ReadReleases"),
            iam.statement(BUCKET_ACTIONS, [bucket_arn], sid="ReleaseBucket")]


def record_statements(bucket_arn: pulumi.Input[str], keys: Sequence[str]) -> list[dict]:
    """Write these keys, as a pipeline's S3 deploy action writing a release or a live record does."""
    return [iam.statement(RECORD_OBJECT_ACTIONS, [object_arn(bucket_arn, key) for key in keys], sid="RecordReleases"),
            iam.statement(BUCKET_ACTIONS, [bucket_arn], sid="ReleaseBucket")]


def read_live_statements(bucket_arn: pulumi.Input[str]) -> list[dict]:
    """List and read every stack's live record (the contract gate, the publisher's interlock)."""
    return [iam.condition(iam.statement(["s3:ListBucket"], [bucket_arn], sid="ListLiveRecords"),
                          {"StringLike": {"s3:prefix": [f"{LIVE_PREFIX}*"]}}),
            iam.statement(["s3:GetObject"], [object_arn(bucket_arn, f"{LIVE_PREFIX}*")], sid="ReadLiveRecords")]


def read_live_history_statements(bucket_arn: pulumi.Input[str]) -> list[dict]:
    """List and read every version of every stack's live record (the publisher protects what each stack runs and
    what it would roll back to)."""
    return [iam.condition(iam.statement(["s3:ListBucketVersions"], [bucket_arn], sid="ListLiveRecordVersions"),
                          {"StringLike": {"s3:prefix": [f"{LIVE_PREFIX}*"]}}),
            iam.statement(["s3:GetObjectVersion"], [object_arn(bucket_arn, f"{LIVE_PREFIX}*")],
                          sid="ReadLiveRecordVersions")]


def list_releases_statement(bucket_arn: pulumi.Input[str]) -> dict:
    """List the release's versions, the release history (`ops releases`)."""
    return iam.condition(iam.statement(["s3:ListBucketVersions"], [bucket_arn], sid="ListReleaseVersions"),
                         {"StringLike": {"s3:prefix": [f"{RELEASE_KEY}*"]}})


@dataclass
class ReleaseStoreArgs:
    context: AwsContext
    stack: str
    """This stack's name: the live record it writes is live/<stack>.zip."""
    history_days: int = 365
    """Superseded releases (noncurrent versions) expire this many days later; downstream stacks keep their own copy
    of every revision they deployed in their artifact stores."""
    reader_accounts: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self):
        require(1 <= self.history_days <= 3650, self, "history_days", "1-3650")
        require(all(len(a) == 12 and a.isdigit() for a in self.reader_accounts), self, "reader_accounts",
                "12-digit AWS account ids")


class ReleaseStore(pulumi.ComponentResource):
    def __init__(self, name: str, args: ReleaseStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:releases:ReleaseStore", name, None, opts)
        self._name, self._context, self.stack = name, args.context, args.stack
        self.reader_accounts = tuple(args.reader_accounts)
        # The previous version of a live record names a stack's rollback target, which the publisher protects for
        # as long as that version exists: it never expires (docs/aws-behaviour.md, B38).
        self.store = PrivateBucket(name, self, noncurrent_days=args.history_days, keep_noncurrent=1,
                                   sse_algorithm="AES256", grants=self._reader_grants)
        self.bucket_name, self.bucket_arn = self.store.name, self.store.arn
        aws.s3.BucketNotification(f"{name}-events", bucket=self.store.bucket.id, eventbridge=True,
                                  opts=pulumi.ResourceOptions(parent=self))
        for account in self.reader_accounts:
            self._forward_release_events(account)
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})

    def _reader_grants(self, bucket: PrivateBucket) -> list[dict]:
        """Each downstream account may read releases and record the release it runs; its own identity policies
        then say which of its roles may."""
        if not self.reader_accounts:
            return []
        principals = {"AWS": [pulumi.Output.concat("arn:", self._context.partition, ":iam::", account, ":root")
                              for account in self.reader_accounts]}
        statements = [*source_statements(bucket.arn), record_statements(bucket.arn, [f"{LIVE_PREFIX}*"])[0],
                      *read_live_statements(bucket.arn), list_releases_statement(bucket.arn)]
        allowed = [{**statement, "Sid": f"Downstream{statement['Sid']}", "Principal": principals}
                   for statement in statements]
        # A downstream writes its own live record; never this stack's, which the publisher trusts as its own.
        own_record = {"Sid": "DownstreamNeverWritesThisStacksRecord", "Effect": "Deny", "Principal": principals,
                      "Action": ["s3:PutObject"], "Resource": [object_arn(bucket.arn, live_key(self.stack))]}
        return [*allowed, own_record]

    def _forward_release_events(self, account: str) -> None:
        """S3 sends the release event to this account's default bus only: forward it to the downstream account's,
        where its promoted pipeline's rule picks it up (that bus's policy admits this account)."""
        target_bus = pulumi.Output.concat("arn:", self._context.partition, ":events:", self._context.region, ":",
                                          account, ":event-bus/default")
        role = iam.service_role(f"{self._name}-forward-{account}", "events.amazonaws.com", self,
                                f"EventBridge: forward release events to account {account}",
                                self._context.account_id)
        grant = iam.inline_policy(f"{self._name}-forward-{account}", role, [
            iam.statement(["events:PutEvents"], [target_bus], sid="DownstreamBus")], parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{self._name}-forward-{account}", description=f"Forward new releases to account {account}",
            event_pattern=release_event_pattern(self.bucket_name), opts=pulumi.ResourceOptions(parent=self))
        aws.cloudwatch.EventTarget(f"{self._name}-forward-{account}", rule=rule.name, arn=target_bus,
                                   role_arn=role.arn, opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]))

    def grant_publish(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """What the building pipeline needs to publish a release and record its own live release."""
        return iam.inline_policy(name, role, record_statements(self.bucket_arn, [RELEASE_KEY, live_key(self.stack)]),
                                 parent=self)

    def grant_read_live(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return iam.inline_policy(name, role, read_live_statements(self.bucket_arn), parent=self)

    def grant_read_live_history(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return iam.inline_policy(name, role, read_live_history_statements(self.bucket_arn), parent=self)
