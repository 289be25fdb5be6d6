"""Image registry: the ECR repository every release is pushed to, and the grants to push and pull."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.args import require

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Push also reads: layer checks, cache pulls, and DescribeImages to resolve the pushed digest.
PUSH_ACTIONS = (*PULL_ACTIONS, "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
                "ecr:UploadLayerPart", "ecr:DescribeImages")


@dataclass
class ImageRegistryArgs:
    keep_images: int = 30
    """Tagged release images kept as rollback targets; older ones expire."""
    untagged_expiry_days: int = 1

    def __post_init__(self):
        require(1 <= self.keep_images <= 1000, self, "keep_images", "1-1000 (ECR keeps at most 10,000 images)")
        require(1 <= self.untagged_expiry_days <= 365, self, "untagged_expiry_days", "1-365")


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    return json.dumps({"rules": [
        {"rulePriority": 1, "description": f"Expire untagged images after {untagged_expiry_days} day(s)",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_expiry_days},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Keep the last {keep_images} release images (rollback targets)",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": keep_images},
         "action": {"type": "expire"}},
    ]})


class ImageRegistry(pulumi.ComponentResource):
    """ECR repository: immutable tags, scan on push, KMS encryption, bounded history, protected."""

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:registry:ImageRegistry", name, None, opts)
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=False,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self.lifecycle = aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.keep_images, args.untagged_expiry_days),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.repository_name = self.repository.name
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.register_outputs({"repositoryName": self.repository_name, "repositoryUrl": self.repository_url,
                               "repositoryArn": self.repository_arn})

    def grant_pull(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return self._grant(name, role, PULL_ACTIONS)

    def grant_push(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return self._grant(name, role, PUSH_ACTIONS)

    def _grant(self, name: str, role: aws.iam.Role, actions: tuple[str, ...]) -> aws.iam.RolePolicy:
        # GetAuthorizationToken has no resource-level permissions; it only yields a login for the registry.
        return iam.inline_policy(name, role, [
            iam.statement(actions, [self.repository_arn], sid="ThisRepository"),
            iam.statement(["ecr:GetAuthorizationToken"], ["*"], sid="RegistryLogin"),
        ], parent=self)
