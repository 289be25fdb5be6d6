"""Image registry: the ECR repository every build is pushed to, and the grants to push and pull.

Every build is pushed as <git sha>; a build that baked healthy and was published also carries `release-<git sha>`
(components/release_publish.py adds it). The lifecycle keeps the newest `keep_images` release images, which are every
stack's rollback targets, downstream stacks' included: a rule with a higher priority protects any image it matches
from the rules below it (docs/aws-behaviour.md). The publisher refuses to publish a release that would push a
downstream stack's running image, or the one it would roll back to, out of that window. A build never published is
kept while it is among the newest `keep_images` tagged images (AWS counts the release images in that lower rule too),
and untagged images (layers of failed pushes) expire after a day.

Downstream stacks in other accounts (`reader_accounts`) may pull; their instance roles say which of their roles may."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import defaults, iam
from components.args import require
from components.aws_context import AwsContext

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
# Push also reads: layer checks, cache pulls, and DescribeImages to resolve the pushed digest.
PUSH_ACTIONS = (*PULL_ACTIONS, "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
                "ecr:UploadLayerPart", "ecr:DescribeImages")


RELEASE_TAG_PREFIX = "release-"


def pull_statements(repository_arn: pulumi.Input[str]) -> list[dict]:
    # GetAuthorizationToken has no resource-level permissions; it only yields a login for the registry.
    return [iam.statement(PULL_ACTIONS, [repository_arn], sid="ThisRepository"),
            iam.statement(["ecr:GetAuthorizationToken"], ["*"], sid="RegistryLogin")]


@dataclass
class ImageRegistryArgs:
    context: AwsContext
    keep_images: int = defaults.KEEP_IMAGES
    """Release images kept as rollback targets (for this stack and every stack promoted from it); older ones expire.
    A build never published is kept while it is among the newest this many tagged images."""
    untagged_expiry_days: int = 1
    reader_accounts: Sequence[str] = field(default_factory=tuple)
    """Accounts of downstream stacks that pull the release images."""

    def __post_init__(self):
        require(1 <= self.keep_images <= 1000, self, "keep_images", "1-1000 (ECR keeps at most 10,000 images)")
        require(1 <= self.untagged_expiry_days <= 365, self, "untagged_expiry_days", "1-365")
        require(all(len(a) == 12 and a.isdigit() for a in self.reader_accounts), self, "reader_accounts",
                "12-digit AWS account ids")


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    return json.dumps({"rules": [
        # First, so that no rule below can expire an image that carries a release tag.
        {"rulePriority": 1, "description": f"Keep the last {keep_images} release images (rollback targets)",
         "selection": {"tagStatus": "tagged", "tagPrefixList": [RELEASE_TAG_PREFIX],
                       "countType": "imageCountMoreThan", "countNumber": keep_images},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"Expire untagged images after {untagged_expiry_days} day(s)",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_expiry_days},
         "action": {"type": "expire"}},
        {"rulePriority": 3, "description": f"Keep unpublished builds among the last {keep_images} tagged images",
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
        if args.reader_accounts:
            aws.ecr.RepositoryPolicy(f"{name}-readers", repository=self.repository.name,
                                     policy=self._reader_policy(args.context, args.reader_accounts),
                                     opts=pulumi.ResourceOptions(parent=self))
        self.keep_images = args.keep_images
        self.repository_name = self.repository.name
        self.repository_url = self.repository.repository_url
        self.repository_arn = self.repository.arn
        self.register_outputs({"repositoryName": self.repository_name, "repositoryUrl": self.repository_url,
                               "repositoryArn": self.repository_arn})

    @staticmethod
    def _reader_policy(context: AwsContext, accounts: Sequence[str]) -> pulumi.Output[str]:
        # A repository policy's principal is the account; the pulling account's identity policies narrow it down.
        return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DownstreamPull", "Effect": "Allow",
            "Principal": {"AWS": [pulumi.Output.concat("arn:", context.partition, ":iam::", account, ":root")
                                  for account in accounts]},
            "Action": sorted(PULL_ACTIONS)}]})

    def grant_pull(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return iam.inline_policy(name, role, pull_statements(self.repository_arn), parent=self)

    def grant_release_tagging(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """What the publisher needs: find the release's image and its release images, and add the release tag."""
        return iam.inline_policy(name, role, [iam.statement(
            ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage"], [self.repository_arn], sid="TagReleases")],
            parent=self)

    def grant_push(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return self._grant(name, role, PUSH_ACTIONS)

    def _grant(self, name: str, role: aws.iam.Role, actions: tuple[str, ...]) -> aws.iam.RolePolicy:
        return iam.inline_policy(name, role, [iam.statement(actions, [self.repository_arn], sid="ThisRepository"),
                                              *pull_statements(self.repository_arn)[1:]], parent=self)
