"""Release publisher: the CodeBuild project the building stack's pipeline runs after its deploy baked healthy, before
the release is written to the release store. It runs components/release_publish.py (embedded in the buildspec, so
the project needs no source of its own) on the deployed bundle: it checks the image, refuses a release that would
push a downstream stack's running image, or its rollback target, out of the kept window, and tags the image
`release-<git sha>`, which the registry's lifecycle keeps as a rollback target. It builds nothing and needs no Docker
daemon."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import codebuild, defaults, iam, logs
from components.args import require
from components.artifacts import ArtifactStore
from components.aws_context import AwsContext
from components.registry import ImageRegistry
from components.release_store import ReleaseStore

SCRIPT = Path(__file__).with_name("release_publish.py")
BOTO3 = "boto3>=1.35,<2"


def buildspec(script: str) -> str:
    """An inline buildspec that writes the publisher to a temporary file and runs it in the extracted bundle (the
    build's working directory). Version 0.2 runs the lines of one command in one shell, so the path carries over."""
    body = "\n".join(f"        {line}" if line else "" for line in script.rstrip("\n").split("\n"))
    return (
        "version: 0.2\n"
        "env:\n"
        "  shell: bash\n"
        "phases:\n"
        "  install:\n"
        "    commands:\n"
        f"      - python3 -m pip install --quiet --disable-pip-version-check '{BOTO3}'\n"
        "  build:\n"
        "    commands:\n"
        "      - |\n"
        "        set -euo pipefail\n"
        "        publisher=\"$(mktemp -d)/release_publish.py\"\n"
        "        cat > \"$publisher\" <<'PUBLISHER'\n"
        f"{body}\n"
        "        PUBLISHER\n"
        "        python3 \"$publisher\"\n"
    )


@dataclass
class ReleasePublisherArgs:
    context: AwsContext
    registry: ImageRegistry
    releases: ReleaseStore
    artifacts: ArtifactStore
    """Where the pipeline keeps the bundle: CodeBuild downloads its input artifact from it with this role."""
    build_image: str = defaults.BUILD_IMAGE
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    timeout_minutes: int = 10

    def __post_init__(self):
        require(5 <= self.timeout_minutes <= 60, self, "timeout_minutes", "5-60")


class ReleasePublisher(pulumi.ComponentResource):
    def __init__(self, name: str, args: ReleasePublisherArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:releases:ReleasePublisher", name, None, opts)
        self.log_group = logs.log_group(f"{name}-logs", args.log_retention_days, parent=self)
        self.role = iam.service_role(f"{name}-role", "codebuild.amazonaws.com", self,
                                     "CodeBuild: tag a release that baked healthy", args.context.account_id)
        grants = [
            args.registry.grant_release_tagging(f"{name}-tag", self.role),
            args.releases.grant_read_live_history(f"{name}-live-records", self.role),
            args.artifacts.grant_read(f"{name}-bundle", self.role),
            logs.grant_write(f"{name}-write-logs", self.role, self.log_group, parent=self),
        ]
        variables = {"REPOSITORY_NAME": args.registry.repository_name, "RELEASE_BUCKET": args.releases.bucket_name,
                     "KEEP_RELEASES": str(args.registry.keep_images), "DELIVERY_STACK": args.releases.stack}
        self.project = codebuild.pipeline_project(
            f"{name}-project", self, role=self.role, log_group=self.log_group,
            description="Tag a release that baked healthy; refuse one that would expire a downstream's image",
            buildspec=buildspec(SCRIPT.read_text()), image=args.build_image, variables=variables,
            timeout_minutes=args.timeout_minutes, grants=grants)
        self.project_name = self.project.name
        self.register_outputs({"projectName": self.project_name})

    def grant_start(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        return codebuild.grant_start(name, role, self.project, self, sid="RunThePublisher")
