"""Delivery pipeline: CodePipeline V2 from GitHub (through a CodeConnections connection) to the CodeBuild
project, an optional manual approval, and CodeDeploy.

The deploy action succeeds only when CodeDeploy's deployment does, and that deployment stays in progress until
the last wave has baked under the alarms (components/deployment.py). CodeDeploy owns every automatic rollback,
so the deploy stage fails without rolling back itself: a stage rollback would start a second deployment into a
group that allows one at a time (docs/aws-behaviour.md, B8)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import DeploymentAlarms
from components.args import require
from components.artifacts import ArtifactStore
from components.aws_context import AwsContext
from components.build import ImageBuild
from components.deployment import AppDeployment

SOURCE_ACTION = "Source"


@dataclass
class DeliveryPipelineArgs:
    context: AwsContext
    artifacts: ArtifactStore
    build: ImageBuild
    deployment: AppDeployment
    alarms: DeploymentAlarms
    github_owner: str
    github_repo: str
    github_branch: str = "main"
    connection_arn: str | None = None
    """An existing CodeConnections connection; unset creates one (confirm it once in the console)."""
    approval_required: bool = True
    execution_mode: str = "SUPERSEDED"

    def __post_init__(self):
        require(self.execution_mode in ("SUPERSEDED", "QUEUED"), self, "execution_mode",
                "SUPERSEDED or QUEUED (PARALLEL disables stage rollback and runs deployments side by side)")


def _action(category: str, provider: str, name: str, configuration: dict, inputs=(), outputs=(),
            run_order: int = 1) -> dict:
    return {"category": category, "owner": "AWS", "provider": provider, "version": "1", "name": name,
            "configuration": configuration, "input_artifacts": list(inputs), "output_artifacts": list(outputs),
            "run_order": run_order}


class DeliveryPipeline(pulumi.ComponentResource):
    def __init__(self, name: str, args: DeliveryPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:pipeline:DeliveryPipeline", name, None, opts)
        self._name = name
        self.connection_arn = self._connection(args)
        self.role = iam.service_role(f"{name}-role", "codepipeline.amazonaws.com", self,
                                     "CodePipeline: source, build, approve and deploy this app",
                                     args.context.account_id)
        grants = self._grants(args)
        self.pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            pipeline_type="V2",
            execution_mode=args.execution_mode,
            role_arn=self.role.arn,
            artifact_stores=[{"location": args.artifacts.bucket_name, "type": "S3"}],
            triggers=[{"provider_type": "CodeStarSourceConnection", "git_configuration": {
                "source_action_name": SOURCE_ACTION,
                "pushes": [{"branches": {"includes": [args.github_branch]}}]}}],
            stages=self._stages(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.pipeline_name = self.pipeline.name
        self.register_outputs({"pipelineName": self.pipeline_name, "connectionArn": self.connection_arn})

    def _connection(self, args: DeliveryPipelineArgs) -> pulumi.Output[str]:
        if args.connection_arn:
            return pulumi.Output.from_input(args.connection_arn)
        connection = aws.codeconnections.Connection(
            f"{self._name}-github", provider_type="GitHub", opts=pulumi.ResourceOptions(parent=self))
        return connection.arn

    def _grants(self, args: DeliveryPipelineArgs) -> list[aws.iam.RolePolicy]:
        grants = [
            args.artifacts.grant_pipeline_store(f"{self._name}-artifacts", self.role),
            args.build.grant_start(f"{self._name}-build", self.role),
            args.deployment.grant_deploy(f"{self._name}-deploy", self.role),
            # The source action uses the connection, through the service prefix its ARN names (a codestar-connections
            # action does not apply to a codeconnections ARN, nor the reverse).
            iam.inline_policy(f"{self._name}-connection", self.role, [self.connection_arn.apply(
                lambda arn: iam.statement([f"{arn.split(':')[2]}:UseConnection"], [arn], sid="GitHubConnection"))],
                parent=self),
        ]
        if args.approval_required:
            grants.append(args.alarms.grant_publish(f"{self._name}-approval-notice", self.role))
        return grants

    def _stages(self, args: DeliveryPipelineArgs) -> list[dict]:
        stages = [
            {"name": "Source", "actions": [_action("Source", "CodeStarSourceConnection", SOURCE_ACTION, {
                "ConnectionArn": self.connection_arn,
                "FullRepositoryId": f"{args.github_owner}/{args.github_repo}",
                "BranchName": args.github_branch,
                "OutputArtifactFormat": "CODE_ZIP",
            }, outputs=["source"])]},
            {"name": "Build", "actions": [_action("Build", "CodeBuild", "Build", {
                "ProjectName": args.build.project_name}, inputs=["source"], outputs=["bundle"])]},
        ]
        if args.approval_required:
            stages.append({"name": "Approval", "actions": [_action("Approval", "Manual", "Approve", {
                "NotificationArn": args.alarms.topic.arn,
                "CustomData": "Approve to deploy this build to production.",
            })]})
        stages.append({
            "name": "Deploy",
            "actions": [_action("Deploy", "CodeDeploy", "Deploy", {
                "ApplicationName": args.deployment.application_name,
                "DeploymentGroupName": args.deployment.deployment_group_name,
            }, inputs=["bundle"])],
            # CodeDeploy has already rolled back (or is rolling back) when this action fails.
            "on_failure": {"result": "FAIL"},
        })
        return stages
