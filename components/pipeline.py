"""Delivery pipeline: CodePipeline V2, in one of two shapes.

- A stack that builds: GitHub (through a CodeConnections connection) -> the CodeBuild project -> an optional manual
  approval -> CodeDeploy -> Publish. Publish runs only when the deploy, which includes the last wave's bake under the
  alarms, succeeded: the publisher tags the image as a release, then the bundle exactly as deployed here is written
  to the release store as a new version of `releases/latest.zip`, and as this stack's live record.
- A promoted stack (`promoteFrom`): the upstream's published release -> an optional manual approval -> CodeDeploy ->
  Record (the same bundle, as this stack's live record in the upstream's release store). It builds nothing: it
  deploys the bundle, and so the image digest, that baked in the upstream.

The deploy action succeeds only when CodeDeploy's deployment does, and that deployment stays in progress until the
last wave has baked under the alarms (components/deployment.py). CodeDeploy owns every automatic rollback, so the
deploy stage fails without rolling back itself: a stage rollback would start a second deployment into a group that
allows one at a time (docs/aws-behaviour.md, B8)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import defaults, iam
from components.alarms import DeploymentAlarms
from components.args import require
from components.artifacts import ArtifactStore
from components.aws_context import AwsContext
from components.build import ImageBuild
from components.deployment import AppDeployment
from components.promotion import ReleaseTrigger, ReleaseTriggerArgs, UpstreamRelease
from components.release_publisher import ReleasePublisher
from components.release_store import RELEASE_KEY, ReleaseStore, live_key

SOURCE_ACTION = "Source"
# The build records which pipeline execution made the release (release.json); CodePipeline resolves the variable.
BUILD_VARIABLES = json.dumps([{"name": "PIPELINE_EXECUTION_ID", "value": "#{codepipeline.PipelineExecutionId}",
                               "type": "PLAINTEXT"}])


@dataclass
class BuildFromGitHub:
    """Build every push to a GitHub branch, and publish what baked healthy here."""

    build: ImageBuild
    publisher: ReleasePublisher
    releases: ReleaseStore
    owner: str
    repo: str
    branch: str = defaults.GITHUB_BRANCH
    connection_arn: str | None = None
    """An existing CodeConnections connection; unset creates one (confirm it once in the console)."""


@dataclass
class PromoteRelease:
    """Deploy what the upstream stack published (it baked healthy there)."""

    upstream: UpstreamRelease


@dataclass
class DeliveryPipelineArgs:
    context: AwsContext
    stack: str
    """This stack's name: its live record is live/<stack>.zip."""
    source: BuildFromGitHub | PromoteRelease
    artifacts: ArtifactStore
    deployment: AppDeployment
    alarms: DeploymentAlarms
    approval_required: bool = defaults.APPROVAL_REQUIRED
    execution_mode: str = defaults.EXECUTION_MODE

    def __post_init__(self):
        require(self.execution_mode in ("SUPERSEDED", "QUEUED"), self, "execution_mode",
                "SUPERSEDED or QUEUED (PARALLEL disables stage rollback and runs deployments side by side)")
        require(isinstance(self.source, BuildFromGitHub | PromoteRelease), self, "source",
                "BuildFromGitHub or PromoteRelease")


def _action(category: str, provider: str, name: str, configuration: dict, inputs=(), outputs=(),
            run_order: int = 1) -> dict:
    return {"category": category, "owner": "AWS", "provider": provider, "version": "1", "name": name,
            "configuration": configuration, "input_artifacts": list(inputs), "output_artifacts": list(outputs),
            "run_order": run_order}


def _write_release(name: str, bucket: pulumi.Input[str], key: str, run_order: int = 1) -> dict:
    """An S3 deploy action that writes the bundle, as the zip CodeDeploy deployed, to bucket/key."""
    return _action("Deploy", "S3", name, {"BucketName": bucket, "ObjectKey": key, "Extract": "false"},
                   inputs=["bundle"], run_order=run_order)


class DeliveryPipeline(pulumi.ComponentResource):
    def __init__(self, name: str, args: DeliveryPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:pipeline:DeliveryPipeline", name, None, opts)
        self._name = name
        source = args.source
        self.connection_arn = self._connection(source) if isinstance(source, BuildFromGitHub) else None
        self.role = iam.service_role(f"{name}-role", "codepipeline.amazonaws.com", self,
                                     "CodePipeline: source, build, approve, deploy and publish this app",
                                     args.context.account_id)
        grants = self._grants(args)
        self.pipeline = aws.codepipeline.Pipeline(
            f"{name}-pipeline",
            pipeline_type="V2",
            execution_mode=args.execution_mode,
            role_arn=self.role.arn,
            artifact_stores=[{"location": args.artifacts.bucket_name, "type": "S3"}],
            triggers=self._triggers(source),
            stages=self._stages(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.pipeline_name = self.pipeline.name
        if isinstance(source, PromoteRelease):
            ReleaseTrigger(f"{name}-on-release", ReleaseTriggerArgs(
                context=args.context, upstream=source.upstream, pipeline_name=self.pipeline.name,
                pipeline_arn=self.pipeline.arn), pulumi.ResourceOptions(parent=self))
        self.register_outputs({"pipelineName": self.pipeline_name, "connectionArn": self.connection_arn})

    def _connection(self, source: BuildFromGitHub) -> pulumi.Output[str]:
        if source.connection_arn:
            return pulumi.Output.from_input(source.connection_arn)
        connection = aws.codeconnections.Connection(
            f"{self._name}-github", provider_type="GitHub", opts=pulumi.ResourceOptions(parent=self))
        return connection.arn

    @staticmethod
    def _triggers(source: BuildFromGitHub | PromoteRelease) -> list[dict] | None:
        """A push to the branch starts a building pipeline; a promoted one is started by its ReleaseTrigger."""
        if isinstance(source, PromoteRelease):
            return None
        return [{"provider_type": "CodeStarSourceConnection", "git_configuration": {
            "source_action_name": SOURCE_ACTION, "pushes": [{"branches": {"includes": [source.branch]}}]}}]

    def _grants(self, args: DeliveryPipelineArgs) -> list[aws.iam.RolePolicy]:
        grants = [args.artifacts.grant_pipeline_store(f"{self._name}-artifacts", self.role),
                  args.deployment.grant_deploy(f"{self._name}-deploy", self.role)]
        source = args.source
        if isinstance(source, BuildFromGitHub):
            grants += [
                source.build.grant_start(f"{self._name}-build", self.role),
                source.publisher.grant_start(f"{self._name}-publisher", self.role),
                source.releases.grant_publish(f"{self._name}-publish", self.role),
                # The source action uses the connection, through the service prefix its ARN names (a
                # codestar-connections action does not apply to a codeconnections ARN, nor the reverse).
                iam.inline_policy(f"{self._name}-connection", self.role, [self.connection_arn.apply(
                    lambda arn: iam.statement([f"{arn.split(':')[2]}:UseConnection"], [arn], sid="GitHubConnection"))],
                    parent=self),
            ]
        else:
            grants.append(source.upstream.grant_source(f"{self._name}-releases", self.role, live_key(args.stack)))
        if args.approval_required:
            grants.append(args.alarms.grant_publish(f"{self._name}-approval-notice", self.role))
        return grants

    def _stages(self, args: DeliveryPipelineArgs) -> list[dict]:
        source = args.source
        stages = self._build_stages(source) if isinstance(source, BuildFromGitHub) else self._release_stages(source)
        if args.approval_required:
            stages.append({"name": "Approval", "actions": [_action("Approval", "Manual", "Approve", {
                "NotificationArn": args.alarms.topic.arn,
                "CustomData": f"Approve to deploy this release to {args.stack}.",
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
        stages.append(self._after_deploy(source, args.stack))
        return stages

    def _build_stages(self, source: BuildFromGitHub) -> list[dict]:
        return [
            {"name": "Source", "actions": [_action("Source", "CodeStarSourceConnection", SOURCE_ACTION, {
                "ConnectionArn": self.connection_arn,
                "FullRepositoryId": f"{source.owner}/{source.repo}",
                "BranchName": source.branch,
                "OutputArtifactFormat": "CODE_ZIP",
            }, outputs=["source"])]},
            {"name": "Build", "actions": [_action("Build", "CodeBuild", "Build", {
                "ProjectName": source.build.project_name, "EnvironmentVariables": BUILD_VARIABLES,
            }, inputs=["source"], outputs=["bundle"])]},
        ]

    @staticmethod
    def _release_stages(source: PromoteRelease) -> list[dict]:
        # Started by the release event (ReleaseTrigger), not by polling the bucket.
        return [{"name": "Source", "actions": [_action("Source", "S3", SOURCE_ACTION, {
            "S3Bucket": source.upstream.bucket_name, "S3ObjectKey": RELEASE_KEY, "PollForSourceChanges": "false",
        }, outputs=["bundle"])]}]

    @staticmethod
    def _after_deploy(source: BuildFromGitHub | PromoteRelease, stack: str) -> dict:
        """Runs only after the deploy, bake included, succeeded."""
        if isinstance(source, PromoteRelease):
            return {"name": "Record", "actions": [
                _write_release("RecordLive", source.upstream.bucket_name, live_key(stack))]}
        # This stack runs the release whether or not it may be published: its record does not wait for the tag.
        return {"name": "Publish", "actions": [
            _action("Build", "CodeBuild", "TagRelease", {"ProjectName": source.publisher.project_name},
                    inputs=["bundle"], run_order=1),
            _write_release("RecordLive", source.releases.bucket_name, live_key(stack), run_order=1),
            _write_release("Release", source.releases.bucket_name, RELEASE_KEY, run_order=2),
        ]}
