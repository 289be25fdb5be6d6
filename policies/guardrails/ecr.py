"""ECR: images are rollback targets, so tags never move, images are scanned and encrypted, and the lifecycle policy
always keeps enough tagged images to roll back to."""

from __future__ import annotations

import json

from guardrails.aws_types import ECR_LIFECYCLE_POLICY, ECR_REPOSITORY
from guardrails.framework import Resource, resource_policy
from guardrails.values import UNKNOWN, Findings, get

DEFAULT_ENCRYPTION_TYPE = "AES256"  # what ECR uses when encryptionConfigurations is not set


def check_immutable_tags(repo: Resource, config: dict, findings: Findings) -> None:
    mutability = get(repo.props, "imageTagMutability", default="MUTABLE")
    if findings.known(mutability, "imageTagMutability") and mutability != "IMMUTABLE":
        findings.violation(
            f"repository '{repo.name}' has imageTagMutability {mutability}; set IMMUTABLE so a tag always names the "
            "same image (a deployed tag must stay a valid rollback target)"
        )


def check_scan_on_push(repo: Resource, config: dict, findings: Findings) -> None:
    scan = get(repo.props, "imageScanningConfiguration", "scanOnPush", default=False)
    if findings.known(scan, "imageScanningConfiguration.scanOnPush") and scan is not True:
        findings.violation(f"repository '{repo.name}' does not scan on push; set imageScanningConfiguration.scanOnPush")


def check_encryption(repo: Resource, config: dict, findings: Findings) -> None:
    allowed = list(config["allowedEncryptionTypes"])
    encryption_type = get(repo.props, "encryptionConfigurations", 0, "encryptionType", default=DEFAULT_ENCRYPTION_TYPE)
    if findings.known(encryption_type, "encryptionConfigurations[0].encryptionType") and encryption_type not in allowed:
        findings.violation(
            f"repository '{repo.name}' is encrypted with {encryption_type}; allowed: {', '.join(allowed)} "
            "(set encryptionConfigurations)"
        )


def _count(number: object) -> int:
    """A rule's countNumber; anything that is not a number keeps nothing for sure."""
    return int(number) if isinstance(number, (int, float)) and not isinstance(number, bool) else 0


def check_lifecycle_keeps_images(policy: Resource, config: dict, findings: Findings) -> None:
    minimum = int(config["minTaggedImages"])
    text = get(policy.props, "policy")
    if not findings.known(text, "policy") or text is None:
        return
    try:
        rules = (json.loads(text) if isinstance(text, str) else text).get("rules", [])
    except (ValueError, AttributeError):
        findings.violation(f"lifecycle policy '{policy.name}' is not a JSON document with `rules`")
        return
    if not findings.known(rules, "policy.rules"):
        return
    for index, rule in enumerate(rules):
        selection = get(rule, "selection", default={})
        fields = {key: get(selection, key) for key in ("tagStatus", "countType", "countNumber")}
        if any(value is UNKNOWN for value in fields.values()):
            findings.unknown(f"policy.rules[{index}].selection")
            continue
        if fields["tagStatus"] not in ("tagged", "any"):
            continue
        priority = get(rule, "rulePriority", default="?")
        if fields["countType"] == "sinceImagePushed":
            findings.violation(
                f"lifecycle policy '{policy.name}' rule {priority} expires {fields['tagStatus']} images by age "
                f"(sinceImagePushed), which can delete every rollback target; expire by imageCountMoreThan >= {minimum}"
            )
        elif fields["countType"] == "imageCountMoreThan" and _count(fields["countNumber"]) < minimum:
            findings.violation(
                f"lifecycle policy '{policy.name}' rule {priority} keeps only {fields['countNumber']} "
                f"{fields['tagStatus']} images; keep at least {minimum} as rollback targets"
            )


LIFECYCLE_SCHEMA = {
    "minTaggedImages": {
        "type": "integer",
        "minimum": 1,
        "default": 10,
        "description": "Tagged images every lifecycle rule must keep (rollback targets).",
    }
}
ENCRYPTION_SCHEMA = {
    "allowedEncryptionTypes": {
        "type": "array",
        "items": {"type": "string", "enum": ["AES256", "KMS", "KMS_DSSE"]},
        "default": ["AES256", "KMS", "KMS_DSSE"],
        "description": "Encryption types a repository may use (unset means AES256).",
    }
}

POLICIES = [
    resource_policy(
        "ecr-immutable-tags",
        "ECR repositories use immutable image tags.",
        [ECR_REPOSITORY],
        check_immutable_tags,
    ),
    resource_policy(
        "ecr-scan-on-push",
        "ECR repositories scan every image on push.",
        [ECR_REPOSITORY],
        check_scan_on_push,
    ),
    resource_policy(
        "ecr-encryption",
        "ECR repositories are encrypted with an allowed encryption type.",
        [ECR_REPOSITORY],
        check_encryption,
        ENCRYPTION_SCHEMA,
    ),
    resource_policy(
        "ecr-lifecycle-keeps-rollback-targets",
        "ECR lifecycle policies keep at least N tagged images to roll back to.",
        [ECR_LIFECYCLE_POLICY],
        check_lifecycle_keeps_images,
        LIFECYCLE_SCHEMA,
    ),
]
