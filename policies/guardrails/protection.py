"""Stateful resources (the image registry, the artifact bucket) are protected, so `pulumi destroy` or a refactor
cannot delete them. CrossGuard sees `protect` but not `retainOnDelete`, so `protect` is what this checks."""

from __future__ import annotations

from guardrails.aws_types import ECR_REPOSITORY, S3_BUCKETS
from guardrails.framework import Resource, resource_policy
from guardrails.values import Findings

PROTECTED_TYPES = sorted({ECR_REPOSITORY, *S3_BUCKETS})


def check_protected(resource: Resource, config: dict, findings: Findings) -> None:
    if not resource.protect:
        findings.violation(
            f"{resource.type} '{resource.name}' holds state (images or artifacts) and is not protected; "
            "set opts=pulumi.ResourceOptions(protect=True)"
        )


POLICIES = [
    resource_policy(
        "stateful-resources-protected",
        "Stateful resources (ECR repositories, S3 buckets) are protected against deletion.",
        PROTECTED_TYPES,
        check_protected,
    ),
]
