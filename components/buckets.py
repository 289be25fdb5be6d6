"""The hardened private bucket every store of this program uses: owner-enforced (no ACLs), public access blocked,
encrypted by default, versioned, refusing plain HTTP, old versions expiring, and protected from deletion."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pulumi
import pulumi_aws as aws


def object_arn(bucket_arn: pulumi.Input[str], key_pattern: str = "*") -> pulumi.Output[str]:
    """The ARN of a bucket's objects whose keys match `key_pattern` (one key, or a pattern such as `live/*`)."""
    return pulumi.Output.concat(bucket_arn, "/", key_pattern)


class PrivateBucket:
    """Not a component of its own: the resources are children of the component that owns the bucket."""

    def __init__(self, name: str, parent: pulumi.Resource, *, noncurrent_days: int, keep_noncurrent: int | None = None,
                 sse_algorithm: str = "aws:kms",
                 grants: Callable[[PrivateBucket], Sequence[dict]] = lambda bucket: ()):
        """`grants`: the bucket policy's Allow statements, given this bucket (after DenyInsecureTransport).
        `keep_noncurrent`: that many of each object's newest noncurrent versions never expire, whatever their age."""
        child = pulumi.ResourceOptions(parent=parent)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False,
                                    opts=pulumi.ResourceOptions(parent=parent, protect=True))
        aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=self.bucket.id,
                                       rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block", bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        default = {"sse_algorithm": sse_algorithm}
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": default,
                    "bucket_key_enabled": sse_algorithm == "aws:kms"}],
            opts=child)
        self.versioning = aws.s3.BucketVersioning(f"{name}-versioning", bucket=self.bucket.id,
                                                  versioning_configuration={"status": "Enabled"}, opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=self.bucket.id,
            rules=[{
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days,
                                                  "newer_noncurrent_versions": keep_noncurrent},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }],
            opts=child)
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        aws.s3.BucketPolicy(
            f"{name}-tls-only", bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17",
                                             "Statement": [self._deny_insecure_transport(), *grants(self)]}),
            # A policy write races the public access block; order them.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[self.public_access_block]))

    def _deny_insecure_transport(self) -> dict:
        return {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.bucket.arn, object_arn(self.bucket.arn)],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
