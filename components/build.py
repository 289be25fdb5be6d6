"""Image build: the CodeBuild project that tests the app, checks its API contract against the contract of every
stack's live release, builds the image, pushes it to the registry by an immutable tag, and writes the
environment-neutral bundle that every stack deploys (app/buildspec.yml says how)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import codebuild, defaults, iam, logs
from components.args import require
from components.artifacts import ArtifactStore
from components.aws_context import AwsContext
from components.registry import ImageRegistry
from components.release_store import ReleaseStore

BUILDSPEC_PATH = "app/buildspec.yml"


@dataclass
class ImageBuildArgs:
    context: AwsContext
    registry: ImageRegistry
    artifacts: ArtifactStore
    releases: ReleaseStore
    """The contract gate reads every stack's live release from it; the build records this stack as the origin."""
    build_image: str = defaults.BUILD_IMAGE
    timeout_minutes: int = defaults.BUILD_TIMEOUT_MINUTES
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    app_port: int = defaults.APP_PORT
    drill_failure_rate: float = defaults.DRILL_FAILURE_RATE
    """The rollback drill: a release built with it fails this share of requests, so that its bake fails and
    CodeDeploy rolls it back; it travels in the release (release.json), and the publisher never publishes it."""
    compute_type: str = "BUILD_GENERAL1_SMALL"
    template_upgrade_settings: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Build variables only an app repository still on the template from before promotion reads (APP_LOG_GROUP,
    BAKE_MINUTES: its bundle carried them), so its builds keep working until it takes the new template. Its bundles
    have no release.json, so the publisher never promotes them. Remove with the next version."""

    def __post_init__(self):
        require(5 <= self.timeout_minutes <= 480, self, "timeout_minutes", "5-480 (CodeBuild's limits)")
        require(1024 <= self.app_port <= 65535, self, "app_port", "1024-65535")
        require(0 <= self.drill_failure_rate <= 1, self, "drill_failure_rate", "a share from 0 to 1")


class ImageBuild(pulumi.ComponentResource):
    def __init__(self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:build:ImageBuild", name, None, opts)
        self.log_group = logs.log_group(f"{name}-logs", args.log_retention_days, parent=self)
        self.role = iam.service_role(f"{name}-role", "codebuild.amazonaws.com", self,
                                     "CodeBuild: test, build and push the app image", args.context.account_id)
        grants = [
            args.registry.grant_push(f"{name}-push", self.role),
            args.artifacts.grant_read_write(f"{name}-artifacts", self.role),
            logs.grant_write(f"{name}-write-logs", self.role, self.log_group, parent=self),
            args.releases.grant_read_live(f"{name}-live-contracts", self.role),
        ]
        self.project = codebuild.pipeline_project(
            f"{name}-project", self, role=self.role, log_group=self.log_group,
            description="Unit tests, API contract check, docker build and push by immutable tag",
            buildspec=BUILDSPEC_PATH, image=args.build_image, compute_type=args.compute_type,
            privileged=True,  # docker build needs the daemon
            variables=self._environment(args), timeout_minutes=args.timeout_minutes, grants=grants,
            cache={"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]})
        self.project_name = self.project.name
        self.project_arn = self.project.arn
        self.register_outputs({"projectName": self.project_name, "projectArn": self.project_arn,
                               "logGroupName": self.log_group.name})

    @staticmethod
    def _environment(args: ImageBuildArgs) -> dict[str, pulumi.Input[str]]:
        return {
            "REPOSITORY_URI": args.registry.repository_url,
            "REPOSITORY_NAME": args.registry.repository_name,
            "AWS_ACCOUNT_ID": args.context.account_id,
            "APP_PORT": str(args.app_port),
            "RELEASE_BUCKET": args.releases.bucket_name,
            "DELIVERY_STACK": args.releases.stack,
            "DRILL_FAILURE_RATE": f"{args.drill_failure_rate:g}",
            **args.template_upgrade_settings,
        }

    def grant_start(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """What a pipeline needs to run this project and follow its builds."""
        return codebuild.grant_start(name, role, self.project, self, sid="RunThisProject")
