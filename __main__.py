"""The delivery pipeline for one app, one stack per environment: `pulumi up -s dev`, `pulumi up -s prod`.

A stack either builds (from GitHub) and publishes the releases that baked healthy in it, or takes its releases from
another stack (`delivery:promoteFrom`) and builds nothing: prod deploys the very bundle, and image digest, dev ran."""

import pulumi
import pulumi_aws as aws

from components.alarms import DeploymentAlarms, DeploymentAlarmsArgs
from components.artifacts import ArtifactStore, ArtifactStoreArgs
from components.aws_context import lookup
from components.build import ImageBuild, ImageBuildArgs
from components.dashboard import AppDashboard, AppDashboardArgs
from components.deployment import AppDeployment, AppDeploymentArgs
from components.fleet import AppFleet, AppFleetArgs
from components.network import Network, NetworkArgs
from components.pipeline import BuildFromGitHub, DeliveryPipeline, DeliveryPipelineArgs, PromoteRelease
from components.promotion import UpstreamRelease, UpstreamReleaseArgs
from components.registry import ImageRegistry, ImageRegistryArgs
from components.release_publisher import ReleasePublisher, ReleasePublisherArgs
from components.release_store import RELEASE_KEY, ReleaseStore, ReleaseStoreArgs, live_key
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

# Where releases come from: this stack's own registry and release store, or the upstream stack's.
if settings.builds:
    registry = ImageRegistry("registry", ImageRegistryArgs(
        context=context, keep_images=settings.keep_images, reader_accounts=settings.promote_to_accounts),
        use_provider)
    releases = ReleaseStore("releases", ReleaseStoreArgs(
        context=context, stack=stack, reader_accounts=settings.promote_to_accounts), use_provider)
    images = registry
else:
    upstream = UpstreamRelease("upstream", UpstreamReleaseArgs(context=context, promote_from=settings.promote_from),
                               use_provider)
    images = upstream

artifacts = ArtifactStore("artifacts", ArtifactStoreArgs(retention_days=settings.artifact_retention_days),
                          use_provider)
network = Network("network", NetworkArgs(vpc_id=settings.vpc_id, subnet_ids=settings.subnet_ids), use_provider)
fleet = AppFleet("fleet", AppFleetArgs(
    context=context, network=network, images=images, artifacts=artifacts, instance_type=settings.instance_type,
    fleet_size=settings.fleet_size, min_healthy_percent=settings.deploy_min_healthy_percent,
    app_port=settings.app_port, certificate_arn=settings.certificate_arn,
    log_retention_days=settings.log_retention_days, bake_minutes=settings.bake_minutes), use_provider)
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

if settings.builds:
    build = ImageBuild("build", ImageBuildArgs(
        context=context, registry=registry, artifacts=artifacts, releases=releases,
        build_image=settings.build_image, timeout_minutes=settings.build_timeout_minutes,
        log_retention_days=settings.log_retention_days, app_port=settings.app_port,
        drill_failure_rate=settings.drill_failure_rate,
        template_upgrade_settings={"APP_LOG_GROUP": fleet.app_log_group.name,
                                   "BAKE_MINUTES": str(settings.bake_minutes)}), use_provider)
    publisher = ReleasePublisher("publisher", ReleasePublisherArgs(
        context=context, registry=registry, releases=releases, artifacts=artifacts, build_image=settings.build_image,
        log_retention_days=settings.log_retention_days), use_provider)
    source = BuildFromGitHub(build=build, publisher=publisher, releases=releases, owner=settings.github_owner,
                             repo=settings.github_repo, branch=settings.github_branch,
                             connection_arn=settings.connection_arn)
else:
    source = PromoteRelease(upstream=upstream)
pipeline = DeliveryPipeline("pipeline", DeliveryPipelineArgs(
    context=context, stack=stack, source=source, artifacts=artifacts, deployment=deployment, alarms=alarms,
    approval_required=settings.approval_required, execution_mode=settings.execution_mode), use_provider)
dashboard = AppDashboard("dashboard", AppDashboardArgs(context=context, fleet=fleet, alarms=alarms,
                                                       dashboard_name=prefix), use_provider)

# The handles the operator CLI (`python -m ops`) and other stacks (promoteFrom) read.
pulumi.export("region", settings.region)
pulumi.export("accountId", context.account_id)
pulumi.export("pipelineName", pipeline.pipeline_name)
pulumi.export("releaseKey", RELEASE_KEY)
pulumi.export("liveKey", live_key(stack))
if settings.builds:
    pulumi.export("connectionArn", pipeline.connection_arn)
    if not settings.connection_arn:
        pulumi.export("connectionNote", "Confirm this GitHub connection once in the console (Developer Tools > "
                                        "Connections) before the first pipeline run.")
    pulumi.export("buildProjectName", build.project_name)
    pulumi.export("buildLogGroup", build.log_group.name)
    pulumi.export("publisherProjectName", publisher.project_name)
    pulumi.export("repositoryName", registry.repository_name)
    pulumi.export("repositoryArn", registry.repository_arn)
    pulumi.export("repositoryUrl", registry.repository_url)
    pulumi.export("releaseBucket", releases.bucket_name)
    pulumi.export("releaseBucketArn", releases.bucket_arn)
    pulumi.export("promoteToAccounts", list(settings.promote_to_accounts))
else:
    pulumi.export("promotedFrom", settings.promote_from)
    pulumi.export("repositoryUrl", upstream.repository_url)
    pulumi.export("releaseBucket", upstream.bucket_name)
pulumi.export("albUrl", fleet.url)
pulumi.export("appLogGroup", fleet.app_log_group.name)
pulumi.export("autoScalingGroupName", fleet.group.name)
pulumi.export("codedeployApplication", deployment.application_name)
pulumi.export("codedeployDeploymentGroup", deployment.deployment_group_name)
pulumi.export("alarmNames", alarms.alarm_names)
pulumi.export("compositeAlarmName", alarms.composite_alarm_name)
pulumi.export("notificationTopicArn", alarms.topic.arn)
pulumi.export("artifactBucket", artifacts.bucket_name)
pulumi.export("dashboardUrl", dashboard.url)
