"""The CodeBuild project shape both of this program's projects share (the image build and the release publisher):
run by the pipeline on its artifacts, logs to the component's own group only, a bounded timeout, plain-text
variables (never secrets), and the grant a pipeline needs to run it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import iam

QUEUED_TIMEOUT_MINUTES = 60


def pipeline_project(name: str, parent: pulumi.Resource, *, role: aws.iam.Role, log_group: aws.cloudwatch.LogGroup,
                     description: str, buildspec: str, image: str, variables: Mapping[str, pulumi.Input[str]],
                     timeout_minutes: int, grants: Sequence[pulumi.Resource], privileged: bool = False,
                     compute_type: str = "BUILD_GENERAL1_SMALL", cache: dict | None = None) -> aws.codebuild.Project:
    return aws.codebuild.Project(
        name,
        description=description,
        service_role=role.arn,
        source={"type": "CODEPIPELINE", "buildspec": buildspec},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "compute_type": compute_type,
            "image": image,
            "image_pull_credentials_type": "CODEBUILD",
            "privileged_mode": privileged,
            "environment_variables": [{"name": key, "value": value, "type": "PLAINTEXT"}
                                      for key, value in variables.items()],
        },
        cache=cache,
        build_timeout=timeout_minutes,
        queued_timeout=QUEUED_TIMEOUT_MINUTES,
        logs_config={"cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                     "s3_logs": {"status": "DISABLED"}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(grants)),
    )


def grant_start(name: str, role: aws.iam.Role, project: aws.codebuild.Project, parent: pulumi.Resource,
                sid: str) -> aws.iam.RolePolicy:
    """What a pipeline needs to run this project and follow its builds."""
    return iam.inline_policy(name, role, [
        iam.statement(["codebuild:StartBuild", "codebuild:BatchGetBuilds", "codebuild:StopBuild"], [project.arn],
                      sid=sid),
    ], parent=parent)
