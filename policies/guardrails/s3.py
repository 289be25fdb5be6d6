"""S3 buckets: in pulumi-aws v7 a bucket's public access block, encryption and versioning are separate resources,
so this is a stack policy that finds, for every bucket, the settings resources that point at it (by the `bucket`
property's dependency on the bucket, or by its value matching the bucket's name)."""

from __future__ import annotations

from pulumi_policy import StackValidationArgs

from guardrails.aws_types import S3_BUCKETS, S3_ENCRYPTION_CONFIGS, S3_PUBLIC_ACCESS_BLOCKS, S3_VERSIONINGS
from guardrails.framework import Lookup, Resource, stack_of, stack_policy
from guardrails.values import UNKNOWN, Findings, get

SETTINGS_TYPES = S3_PUBLIC_ACCESS_BLOCKS | S3_ENCRYPTION_CONFIGS | S3_VERSIONINGS
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
ENCRYPTION_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


def _keys(setting: Resource) -> list[tuple[str, object]]:
    """What a setting can be joined on: the URNs its `bucket` property depends on, and that property's value."""
    keys = [("urn", urn) for urn in setting.property_dependencies.get("bucket", [])]
    target = get(setting.props, "bucket")
    if target is not UNKNOWN and target is not None:
        keys.append(("name", target))
    return keys


def _bucket_keys(bucket: Resource) -> list[tuple[str, object]]:
    names = {get(bucket.props, "bucket"), get(bucket.props, "id")} - {None, UNKNOWN}
    return [("urn", bucket.urn), *(("name", name) for name in names)]


def _check_public_access(bucket: Resource, blocks: list[Resource], findings: Findings) -> None:
    if not blocks:
        findings.violation(f"bucket '{bucket.name}' has no BucketPublicAccessBlock; add one with all four flags true",
                           bucket.urn)
        return
    for block in blocks:
        for flag in BLOCK_FLAGS:
            value = get(block.props, flag, default=False)
            if findings.known(value, f"{block.name}.{flag}") and value is not True:
                findings.violation(f"bucket '{bucket.name}': public access block '{block.name}' has {flag} not true",
                                   bucket.urn)


def _check_encryption(bucket: Resource, configs: list[Resource], findings: Findings) -> None:
    if not configs:
        findings.violation(
            f"bucket '{bucket.name}' has no BucketServerSideEncryptionConfiguration; add one (AES256 or aws:kms)",
            bucket.urn,
        )
        return
    for config in configs:
        rules = get(config.props, "rules", default=[])
        if not findings.known(rules, f"{config.name}.rules"):
            continue
        algorithms = [get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in rules]
        if UNKNOWN in algorithms:
            findings.unknown(f"{config.name}.rules[].applyServerSideEncryptionByDefault.sseAlgorithm")
        elif not any(algorithm in ENCRYPTION_ALGORITHMS for algorithm in algorithms):
            findings.violation(
                f"bucket '{bucket.name}': encryption configuration '{config.name}' sets no default algorithm "
                f"(one of {', '.join(ENCRYPTION_ALGORITHMS)})",
                bucket.urn,
            )


def _check_versioning(bucket: Resource, versionings: list[Resource], findings: Findings) -> None:
    if not versionings:
        findings.violation(f"bucket '{bucket.name}' has no BucketVersioning; add one with status Enabled", bucket.urn)
        return
    for versioning in versionings:
        status = get(versioning.props, "versioningConfiguration", "status")
        if findings.known(status, f"{versioning.name}.versioningConfiguration.status") and status != "Enabled":
            findings.violation(f"bucket '{bucket.name}': versioning '{versioning.name}' has status {status}, not "
                               "Enabled", bucket.urn)


def check_buckets(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    """A setting belongs to a bucket when its `bucket` property depends on the bucket, or when its value is the
    bucket's name or id; both are looked up in an index (settings keep their stack order)."""
    stack = stack_of(args)
    settings = Lookup(stack.of_types(SETTINGS_TYPES), _keys)
    for bucket in stack.of_types(S3_BUCKETS):
        mine = settings.find(_bucket_keys(bucket))
        _check_public_access(bucket, [s for s in mine if s.type in S3_PUBLIC_ACCESS_BLOCKS], findings)
        _check_encryption(bucket, [s for s in mine if s.type in S3_ENCRYPTION_CONFIGS], findings)
        _check_versioning(bucket, [s for s in mine if s.type in S3_VERSIONINGS], findings)


POLICIES = [
    stack_policy(
        "s3-bucket-hardened",
        "S3 buckets block all public access, are encrypted by default and versioned.",
        check_buckets,
    ),
]
