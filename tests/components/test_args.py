"""Each component's Args checks its own invariants where it is built: one ValueError naming the class, the field
and what is allowed, before any resource is registered."""

from __future__ import annotations

import pytest

from components.alarms import DeploymentAlarmsArgs
from components.artifacts import ArtifactStoreArgs
from components.build import ImageBuildArgs
from components.deployment import AppDeploymentArgs
from components.fleet import AppFleetArgs
from components.network import NetworkArgs
from components.pipeline import DeliveryPipelineArgs, PromoteRelease
from components.registry import ImageRegistryArgs
from components.release_publisher import ReleasePublisherArgs
from components.release_store import ReleaseStoreArgs

# Component and context fields are not judged by the checks; any placeholder stands in for them.
ANY = object()


@pytest.mark.parametrize(("make", "message"), [
    (lambda: NetworkArgs(zone_count=4), "NetworkArgs.zone_count must be 2-3 (one subnet CIDR per zone), got 4"),
    (lambda: NetworkArgs(vpc_id="vpc-0123abcd"), "NetworkArgs.subnet_ids must be set together with vpc_id, got ()"),
    (lambda: NetworkArgs(vpc_id="vpc-0123abcd", subnet_ids=("subnet-0123abcd", "subnet-0123abcd")),
     "NetworkArgs.subnet_ids must be at least two distinct subnets"),
    (lambda: ImageRegistryArgs(ANY, keep_images=0), "ImageRegistryArgs.keep_images must be 1-1000"),
    (lambda: ImageRegistryArgs(ANY, reader_accounts=("12345",)),
     "ImageRegistryArgs.reader_accounts must be 12-digit AWS account ids"),
    (lambda: ReleaseStoreArgs(ANY, "dev", reader_accounts=("arn:aws:iam::123456789012:root",)),
     "ReleaseStoreArgs.reader_accounts must be 12-digit AWS account ids"),
    (lambda: ReleaseStoreArgs(ANY, "dev", history_days=0), "ReleaseStoreArgs.history_days must be 1-3650"),
    (lambda: ReleasePublisherArgs(ANY, ANY, ANY, ANY, timeout_minutes=90),
     "ReleasePublisherArgs.timeout_minutes must be"),
    (lambda: ArtifactStoreArgs(retention_days=0), "ArtifactStoreArgs.retention_days must be 1-3650, got 0"),
    (lambda: AppFleetArgs(ANY, ANY, ANY, ANY, app_port=80), "AppFleetArgs.app_port must be 1024-65535"),
    (lambda: AppFleetArgs(ANY, ANY, ANY, ANY, fleet_size=0), "AppFleetArgs.fleet_size must be 1-50, got 0"),
    (lambda: AppFleetArgs(ANY, ANY, ANY, ANY, bake_minutes=90), "AppFleetArgs.bake_minutes must be 1-55"),
    (lambda: ImageBuildArgs(ANY, ANY, ANY, ANY, drill_failure_rate=1.5), "ImageBuildArgs.drill_failure_rate must be"),
    (lambda: ImageBuildArgs(ANY, ANY, ANY, ANY, timeout_minutes=1), "ImageBuildArgs.timeout_minutes must be 5-480"),
    (lambda: DeploymentAlarmsArgs(ANY, ANY, "app-prod", fault_rate_percent=100),
     "DeploymentAlarmsArgs.fault_rate_percent must be above 0 and below 100 (100 never fires), got 100"),
    (lambda: DeploymentAlarmsArgs(ANY, ANY, "app-prod", latency_p50_ms=2000, latency_p99_ms=1000),
     "DeploymentAlarmsArgs.latency_p50_ms must be from 1 up to latency_p99_ms, got 2000"),
    (lambda: DeploymentAlarmsArgs(ANY, ANY, "app-prod", cpu_percent=100),
     "DeploymentAlarmsArgs.cpu_percent must be 1-99"),
    (lambda: AppDeploymentArgs(ANY, ANY, ANY, "app-prod", min_healthy_percent=100),
     "AppDeploymentArgs.min_healthy_percent must be 0-99 (0: all at once), got 100"),
    (lambda: DeliveryPipelineArgs(ANY, "prod", PromoteRelease(ANY), ANY, ANY, ANY, execution_mode="PARALLEL"),
     "DeliveryPipelineArgs.execution_mode must be SUPERSEDED or QUEUED"),
    (lambda: DeliveryPipelineArgs(ANY, "prod", ANY, ANY, ANY, ANY),
     "DeliveryPipelineArgs.source must be BuildFromGitHub or PromoteRelease"),
])
def test_a_bad_value_is_refused_where_the_component_is_built(make, message):
    with pytest.raises(ValueError) as refused:
        make()
    assert str(refused.value).startswith(message)


def test_the_defaults_pass_their_own_checks():
    NetworkArgs()
    ImageRegistryArgs(ANY)
    ReleaseStoreArgs(ANY, "dev")
    ReleasePublisherArgs(ANY, ANY, ANY, ANY)
    ArtifactStoreArgs()
    AppFleetArgs(ANY, ANY, ANY, ANY)
    ImageBuildArgs(ANY, ANY, ANY, ANY)
    DeploymentAlarmsArgs(ANY, ANY, "app-prod")
    AppDeploymentArgs(ANY, ANY, ANY, "app-prod")
    DeliveryPipelineArgs(ANY, "prod", PromoteRelease(ANY), ANY, ANY, ANY)
