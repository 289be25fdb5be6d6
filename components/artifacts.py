"""Artifact store: the S3 bucket CodePipeline passes source and build artifacts through.

Current objects never expire. A build's bundle is the revision CodeDeploy installs on every instance that Auto
Scaling launches, and the one it rolls back to, for as long as that release is the last good one; an expiration
rule on current objects would delete it after a quiet spell, and every scale-out, instance refresh and rollback
would then fail (docs/aws-behaviour.md, B13, B14). Only noncurrent versions (overwritten or deleted objects,
which no deployment names) expire."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import defaults, iam
from components.args import require
from components.buckets import PrivateBucket, object_arn

READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_ACTIONS = ("s3:PutObject",)
BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketVersioning")


@dataclass
class ArtifactStoreArgs:
    retention_days: int = defaults.ARTIFACT_RETENTION_DAYS
    """Noncurrent object versions expire this many days after they stop being current."""

    def __post_init__(self):
        require(1 <= self.retention_days <= 3650, self, "retention_days", "1-3650")


class ArtifactStore(pulumi.ComponentResource):
    """Encrypted, versioned, private bucket that refuses plain HTTP; old artifacts expire; protected."""

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:artifacts:ArtifactStore", name, None, opts)
        self.store = PrivateBucket(name, self, noncurrent_days=args.retention_days)
        self.bucket = self.store.bucket
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})

    def grant_read(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return self._grant(name, role, READ_ACTIONS)

    def grant_read_write(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return self._grant(name, role, READ_ACTIONS + WRITE_ACTIONS)

    def grant_pipeline_store(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """What a pipeline's service role needs to pass artifacts through the bucket: AWS's documented CodePipeline
        service-role policy adds s3:PutObjectAcl on the objects (docs/aws-behaviour.md, B15). ACLs are disabled on
        this bucket (BucketOwnerEnforced), so it can set nothing but the owner's full control."""
        return self._grant(name, role, READ_ACTIONS + WRITE_ACTIONS + ("s3:PutObjectAcl",))

    def _grant(self, name: str, role: aws.iam.Role, object_actions: tuple[str, ...]) -> aws.iam.RolePolicy:
        return iam.inline_policy(name, role, [
            iam.statement(object_actions, [object_arn(self.bucket.arn)], sid="Artifacts"),
            iam.statement(BUCKET_ACTIONS, [self.bucket.arn], sid="ArtifactBucket"),
        ], parent=self)
