"""The delivery pipeline for one app, one stack per environment: `pulumi up -s dev`, `pulumi up -s prod`."""

import pulumi
import pulumi_aws as aws

from components.alarms import DeploymentAlarms, DeploymentAlarmsArgs
from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.aws_context import lookup
from components.build import ImageBuild, ImageBuildArgs
from components.deployment import AppDeployment, AppDeploymentArgs
from components.fleet import AppFleet, AppFleetArgs
from components.network import Network, NetworkArgs
from components.pipeline import DeliveryPipeline, DeliveryPipelineArgs
from components.registry import ImageRegistry, ImageRegistryArgs
from components.settings import load_settings

settings = load_settings()
stack = pulumi.get_stack()
prefix = f"{settings.app_name}-{stack}"

# Every resource is tagged through the provider, and every component uses this provider.
provider = aws.Provider("aws", region=settings.region, default_tags={"tags": {
    "app": settings.app_name, "stack": stack, "environment": settings.environment,
    "project": pulumi.get_project(), "managed-by": "pulumi"}})
use_provider = pulumi.ResourceOptions(provider=provider)
context = lookup(provider, settings.region)

registry = ImageRegistry("registry", ImageRegistryArgs(keep_images=settings.keep_images), use_provider)
artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(retention_days=settings.artifact_retention_days),
                          use_provider)
network = Network("network", NetworkArgs(vpc_id=settings.vpc_id, subnet_ids=settings.subnet_ids), use_provider)
fleet = AppFleet("fleet", AppFleetArgs(
    context=context, network=network, registry=registry, artifacts=artifacts, instance_type=settings.instance_type,
    fleet_size=settings.fleet_size, min_healthy_percent=settings.deploy_min_healthy_percent,
    app_port=settings.app_port, certificate_arn=settings.certificate_arn,
    log_retention_days=settings.log_retention_days), use_provider)
build = ImageBuild("build", ImageBuildArgs(
    context=context, registry=registry, artifacts=artifacts, app_log_group=fleet.app_log_group,
    build_image=settings.build_image, timeout_minutes=settings.build_timeout_minutes,
    log_retention_days=settings.log_retention_days, app_port=settings.app_port,
    drill_failure_rate=settings.drill_failure_rate, bake_minutes=settings.bake_minutes), use_provider)
alarms = DeploymentAlarms("alarms", DeploymentAlarmsArgs(
    context=context, fleet=fleet, name_prefix=prefix, fault_rate_percent=settings.alarm_fault_rate_percent,
    latency_p50_ms=settings.alarm_latency_p50_ms, latency_p99_ms=settings.alarm_latency_p99_ms,
    cpu_percent=settings.alarm_cpu_percent, evaluation_minutes=settings.alarm_evaluation_minutes,
    notification_email=settings.notification_email), use_provider)
deployment = AppDeployment("deployment", AppDeploymentArgs(
    context=context, fleet=fleet, alarms=alarms, deployment_group_name=prefix,
    min_healthy_percent=settings.deploy_min_healthy_percent, zone_monitor_minutes=settings.zone_monitor_minutes),
    use_provider)
deployment.grant_follow("fleet-follows-deployments", fleet.role)  # the bake hook reads its wave
pipeline = DeliveryPipeline("pipeline", DeliveryPipelineArgs(
    context=context, artifacts=artifacts, build=build, deployment=deployment, alarms=alarms,
    github_owner=settings.github_owner, github_repo=settings.github_repo, github_branch=settings.github_branch,
    connection_arn=settings.connection_arn, approval_required=settings.approval_required,
    execution_mode=settings.execution_mode), use_provider)

# The handles the operator CLI (`python -m ops`) and other stacks read.
pulumi.export("region", settings.region)
pulumi.export("pipelineName", pipeline.pipeline_name)
pulumi.export("connectionArn", pipeline.connection_arn)
if not settings.connection_arn:
    pulumi.export("connectionNote", "Confirm this GitHub connection once in the console (Developer Tools > "
                                    "Connections) before the first pipeline run.")
pulumi.export("buildProjectName", build.project_name)
pulumi.export("buildLogGroup", build.log_group.name)
pulumi.export("repositoryName", registry.repository_name)
pulumi.export("repositoryUrl", registry.repository_url)
pulumi.export("albUrl", fleet.url)
pulumi.export("appLogGroup", fleet.app_log_group.name)
pulumi.export("autoScalingGroupName", fleet.group.name)
pulumi.export("codedeployApplication", deployment.application_name)
pulumi.export("codedeployDeploymentGroup", deployment.deployment_group_name)
pulumi.export("alarmNames", alarms.alarm_names)
pulumi.export("compositeAlarmName", alarms.composite_alarm_name)
pulumi.export("notificationTopicArn", alarms.topic.arn)
pulumi.export("artifactBucket", artifacts.bucket_name)
