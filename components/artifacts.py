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

from components import iam
from components.args import require

READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_ACTIONS = ("s3:PutObject",)
BUCKET_ACTIONS = ("s3:GetBucketAcl", "s3:GetBucketLocation", "s3:GetBucketVersioning")


@dataclass
class ArtifactStoreArgs:
    retention_days: int = 90
    """Noncurrent object versions expire this many days after they stop being current."""

    def __post_init__(self):
        require(1 <= self.retention_days <= 3650, self, "retention_days", "1-3650")


class ArtifactStore(pulumi.ComponentResource):
    """Encrypted, versioned, private bucket that refuses plain HTTP; old artifacts expire; protected."""

    def __init__(self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:artifacts:ArtifactStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False,
                                    opts=pulumi.ResourceOptions(parent=self, protect=True))
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=self.bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
                    "bucket_key_enabled": True}],
            opts=child)
        aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[{
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": args.retention_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }],
            opts=child)
        aws.s3.BucketPolicy(
            f"{name}-tls-only", bucket=self.bucket.id, policy=self._deny_insecure_transport(),
            # A policy write races the public access block; order them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]))
        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})

    def _deny_insecure_transport(self) -> pulumi.Output[str]:
        return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.bucket.arn, pulumi.Output.concat(self.bucket.arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]})

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
            iam.statement(object_actions, [pulumi.Output.concat(self.bucket.arn, "/*")], sid="Artifacts"),
            iam.statement(BUCKET_ACTIONS, [self.bucket.arn], sid="ArtifactBucket"),
        ], parent=self)
