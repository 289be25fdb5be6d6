"""What `pulumi up` creates for each stack, read as a specification (the program on the SDK's mock runtime)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from components.fleet import HEALTH_REPORT
from ops.errors import OpsError
from ops.offline.model import STACK_TYPE
from ops.offline.run import run_program
from tests.components.conftest import one, policy_of, program_with_stack

COMMON = {"delivery:artifacts:ArtifactStore", "delivery:network:Network", "delivery:fleet:AppFleet",
          "delivery:alarms:DeploymentAlarms", "delivery:deployment:AppDeployment",
          "delivery:pipeline:DeliveryPipeline", "delivery:dashboard:AppDashboard"}
COMPONENTS = {  # dev builds and publishes; prod takes dev's releases (Pulumi.prod.yaml promoteFrom)
    "dev": COMMON | {"delivery:registry:ImageRegistry", "delivery:build:ImageBuild",
                     "delivery:releases:ReleaseStore", "delivery:releases:ReleasePublisher"},
    "prod": COMMON | {"delivery:promotion:UpstreamRelease", "delivery:promotion:ReleaseTrigger"},
}
COMMON_OUTPUTS = {"region", "accountId", "pipelineName", "repositoryUrl", "albUrl", "appLogGroup",
                  "autoScalingGroupName", "codedeployApplication", "codedeployDeploymentGroup", "alarmNames",
                  "compositeAlarmName", "notificationTopicArn", "artifactBucket", "releaseBucket", "releaseKey",
                  "liveKey", "dashboardUrl"}
OUTPUTS = {"dev": COMMON_OUTPUTS | {"connectionArn", "buildProjectName", "buildLogGroup", "repositoryName",
                                    "repositoryArn", "releaseBucketArn", "promoteToAccounts", "publisherProjectName"},
           "prod": COMMON_OUTPUTS | {"promotedFrom"}}


class TestShape:
    def test_each_stack_composes_its_components(self, run):
        assert {r.type for r in run.resources if r.type.startswith("delivery:")} == COMPONENTS[run.stack]

    def test_every_aws_resource_belongs_to_a_component_and_uses_the_tagging_provider(self, run):
        components = {r.urn for r in run.resources if r.type.startswith("delivery:")}
        providers = run.of_type("pulumi:providers:aws")
        assert len(providers) == 1
        for resource in run.resources:
            if resource.type.startswith("aws:"):
                assert resource.parent in components, resource.name
                assert resource.provider.startswith(providers[0].urn), resource.name

    def test_tags_come_from_the_providers_default_tags(self, run):
        provider = one(run, "pulumi:providers:aws")
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags == {"app": "app", "stack": run.stack, "environment": run.stack, "project": "delivery",
                        "managed-by": "pulumi"}
        assert provider.inputs["region"] == "us-east-1"

    def test_inputs_arrive_camel_case_as_the_engine_sends_them(self, run):
        snake = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")

        def keys(value, path):
            if isinstance(value, dict):
                for key, inner in value.items():
                    if path and path[-1] in ("tags", "dimensions", "configuration"):
                        continue  # user-named maps keep their keys
                    assert not snake.match(key), f"snake_case key {'.'.join([*path, key])}"
                    keys(inner, [*path, key])
            elif isinstance(value, list):
                for inner in value:
                    keys(inner, path)

        for resource in run.resources:
            keys(resource.inputs, [resource.type])

    def test_exports_the_handles_the_operator_cli_reads(self, run):
        assert set(run.stack_outputs) - {"connectionNote"} == OUTPUTS[run.stack]
        assert len(run.stack_outputs["alarmNames"]) == 4
        assert run.stack_outputs["codedeployDeploymentGroup"] == f"app-{run.stack}"
        assert run.resources[0].type == STACK_TYPE and run.resources[0].outputs == run.stack_outputs

    def test_a_created_connection_comes_with_a_note_to_confirm_it(self, dev):
        one(dev, "aws:codeconnections/connection:Connection")
        assert "Confirm this GitHub connection" in dev.stack_outputs["connectionNote"]


class TestImageRegistry:
    """dev's registry; prod has none (tests/components/test_promotion.py)."""

    def test_repository_is_immutable_scanned_encrypted_and_protected(self, dev):
        repo = one(dev, "aws:ecr/repository:Repository")
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        assert repo.protect is True

    def test_lifecycle_keeps_release_images_first_then_builds_and_expires_untagged_after_a_day(self, dev):
        """A rule cannot expire an image a higher-priority rule matched (aws-behaviour B30): the release images,
        every stack's rollback targets, are judged first, by their own count."""
        releases, untagged, builds = policy_of(one(dev, "aws:ecr/lifecyclePolicy:LifecyclePolicy"))["rules"]
        assert [r["rulePriority"] for r in (releases, untagged, builds)] == [1, 2, 3]
        assert releases["selection"] == {"tagStatus": "tagged", "tagPrefixList": ["release-"],
                                         "countType": "imageCountMoreThan", "countNumber": 30}
        assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                         "countUnit": "days", "countNumber": 1}
        assert builds["selection"] == {"tagStatus": "tagged", "tagPatternList": ["*"],
                                       "countType": "imageCountMoreThan", "countNumber": 30}


class TestArtifactStore:
    def test_bucket_is_private_encrypted_versioned_tls_only_expiring_old_versions_and_protected(self, run):
        bucket = one(run, "aws:s3/bucket:Bucket", "artifacts-bucket")
        assert bucket.protect is True
        block = one(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "artifacts-public-access-block")
        assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                             "restrictPublicBuckets"))
        sse = one(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                  "artifacts-encryption")
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
        versioning = one(run, "aws:s3/bucketVersioning:BucketVersioning", "artifacts-versioning")
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
        lifecycle = one(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                        "artifacts-lifecycle")
        assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"] == {
            "noncurrentDays": {"dev": 30, "prod": 90}[run.stack]}
        deny = policy_of(one(run, "aws:s3/bucketPolicy:BucketPolicy", "artifacts-tls-only"))["Statement"][0]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]


    def test_no_lifecycle_rule_expires_a_current_revision(self, run):
        """The live bundle is what CodeDeploy installs on new instances and rolls back to (aws-behaviour B13, B14)."""
        lifecycle = one(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                        "artifacts-lifecycle")
        for rule in lifecycle.inputs["rules"]:
            assert "expiration" not in rule, rule
            assert "transitions" not in rule, rule  # nothing moves the bundle out of reach either


class TestImageBuild:
    """dev builds; prod builds nothing (tests/components/test_promotion.py)."""

    def test_project_builds_docker_images_from_the_pipeline_with_the_app_buildspec(self, dev):
        run = dev
        project = one(run, "aws:codebuild/project:Project", "build-project")
        assert project.inputs["source"] == {"type": "CODEPIPELINE", "buildspec": "app/buildspec.yml"}
        env = project.inputs["environment"]
        assert env["privilegedMode"] is True
        assert env["image"] == "aws/codebuild/amazonlinux-x86_64-standard:5.0"
        assert "LOCAL_DOCKER_LAYER_CACHE" in project.inputs["cache"]["modes"]
        assert project.inputs["buildTimeout"] == 20
        names = {v["name"]: v for v in env["environmentVariables"]}
        # Nothing about how an environment runs it: the bundle it writes is deployed unchanged in every stack.
        assert set(names) == {"REPOSITORY_URI", "REPOSITORY_NAME", "AWS_ACCOUNT_ID", "APP_PORT", "RELEASE_BUCKET",
                              "DELIVERY_STACK", "DRILL_FAILURE_RATE",
                              # only for app repositories still on the template from before promotion
                              "APP_LOG_GROUP", "BAKE_MINUTES"}
        assert names["DRILL_FAILURE_RATE"]["value"] == "0"  # part of what a release is; never published above 0
        assert names["REPOSITORY_URI"]["value"] == run.stack_outputs["repositoryUrl"]
        assert names["RELEASE_BUCKET"]["value"] == run.stack_outputs["releaseBucket"]
        assert names["DELIVERY_STACK"]["value"] == "dev"

    def test_build_logs_go_to_its_own_group_with_retention(self, dev):
        project = one(dev, "aws:codebuild/project:Project", "build-project")
        group = one(dev, "aws:cloudwatch/logGroup:LogGroup", "build-logs")
        assert project.inputs["logsConfig"]["cloudwatchLogs"]["groupName"] == group.outputs["name"]
        assert group.inputs["retentionInDays"] == 14


class TestAppFleet:
    def test_launch_template_requires_imdsv2_encrypts_the_root_volume_and_has_no_ssh_key(self, run):
        template = one(run, "aws:ec2/launchTemplate:LaunchTemplate")
        assert template.inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                                      "httpPutResponseHopLimit": 2}
        ebs = template.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true"
        assert "keyName" not in template.inputs
        assert template.inputs["imageId"] == "ami-0123456789abcdef0"  # from the public AL2023 SSM parameter

    def test_user_data_installs_docker_and_the_codedeploy_agent(self, run):
        script = base64.b64decode(one(run, "aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()
        assert "dnf install -y docker" in script
        assert "codedeploy-agent" in script
        assert "X-aws-ec2-metadata-token" in script  # IMDSv2 calls only

    def test_the_environments_settings_reach_the_hooks_on_the_instance_not_in_the_bundle(self, run):
        """The bundle is the same in every stack; each stack's instances say how to run it (app/hooks/common.sh)."""
        script = base64.b64decode(one(run, "aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()
        settings = script.split("cat >/etc/app/deploy.env <<'SETTINGS'\n", 1)[1].split("\nSETTINGS\n", 1)[0]
        assert settings.splitlines() == [
            "AWS_REGION=us-east-1", "APP_PORT=8080", f"APP_LOG_GROUP={run.stack_outputs['appLogGroup']}",
            f"BAKE_MINUTES={ {'dev': 5, 'prod': 30}[run.stack]}"]

    def test_instances_take_traffic_only_from_the_load_balancer(self, run):
        groups = {g.name: g for g in run.of_type("aws:ec2/securityGroup:SecurityGroup")}
        ingress = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        to_instances = [r for r in ingress if r.inputs["securityGroupId"] == groups["fleet-instance-sg"].id]
        assert len(to_instances) == 1
        assert to_instances[0].inputs["referencedSecurityGroupId"] == groups["fleet-alb-sg"].id
        assert to_instances[0].inputs["fromPort"] == to_instances[0].inputs["toPort"] == 8080
        public = [r for r in ingress if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]
        assert [r.inputs["fromPort"] for r in public] == [80]

    def test_target_group_health_checks_the_app(self, run):
        tg = one(run, "aws:lb/targetGroup:TargetGroup")
        assert tg.inputs["healthCheck"]["path"] == "/healthz"
        assert tg.inputs["healthCheck"]["matcher"] == "200"
        assert tg.inputs["port"] == 8080

    def test_the_load_balancer_is_internet_facing_and_drops_invalid_headers(self, run):
        alb = one(run, "aws:lb/loadBalancer:LoadBalancer")
        assert alb.inputs["internal"] is False
        assert alb.inputs["dropInvalidHeaderFields"] is True
        listener = one(run, "aws:lb/listener:Listener")
        assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")

    def test_group_spans_two_zones_and_refreshes_gradually(self, run):
        group = one(run, "aws:autoscaling/group:Group")
        assert len(group.inputs["vpcZoneIdentifiers"]) == 2
        size = {"dev": 1, "prod": 3}[run.stack]
        assert group.inputs["minSize"] == group.inputs["maxSize"] == group.inputs["desiredCapacity"] == size
        refresh = group.inputs["instanceRefresh"]
        assert refresh["strategy"] == "Rolling"
        assert refresh["preferences"]["minHealthyPercentage"] == {"dev": 0, "prod": 66}[run.stack]

    def test_a_fleet_without_a_release_does_not_churn(self, run):
        """No load balancer health check replaces instances: one that has no release yet fails it by design
        (aws-behaviour B9, B10). Instances report a validated release that stops answering instead."""
        group = one(run, "aws:autoscaling/group:Group")
        assert group.inputs["healthCheckType"] == "EC2"
        script = base64.b64decode(one(run, "aws:ec2/launchTemplate:LaunchTemplate").inputs["userData"]).decode()
        assert HEALTH_REPORT.read_text().rstrip("\n") in script
        assert "@HEALTH_REPORT_SCRIPT@" not in script
        assert "systemctl enable --now app-health-report.timer" in script

    def test_an_instance_may_report_health_to_its_own_group_only(self, run):
        grants = [json.loads(p.inputs["policy"])["Statement"] for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
                  if p.name == "fleet-health-reports"]
        group_arn = one(run, "aws:autoscaling/group:Group").outputs["arn"]
        assert group_arn.endswith(f":autoScalingGroupName/{run.stack_outputs['autoScalingGroupName']}")
        assert grants == [[{"Effect": "Allow", "Action": ["autoscaling:SetInstanceHealth"], "Sid": "ReportOwnHealth",
                            "Resource": [group_arn]}]]

    def test_a_created_vpc_has_public_subnets_in_two_zones(self, run):
        subnets = run.of_type("aws:ec2/subnet:Subnet")
        assert {s.inputs["availabilityZone"] for s in subnets} == {"us-east-1a", "us-east-1b"}
        assert one(run, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs.get("ingress") in (None, [])


class TestAlarms:
    def test_fault_rate_is_metric_math_over_5xx_and_requests(self, run):
        fault = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-fault-rate")
        queries = {q["id"]: q for q in fault.inputs["metricQueries"]}
        assert queries["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
        assert queries["requests"]["metric"]["metricName"] == "RequestCount"
        assert "100 * FILL(errors, 0) / requests" in queries["fault_rate"]["expression"]
        assert fault.inputs["threshold"] == {"dev": 5, "prod": 1}[run.stack]
        assert fault.inputs["treatMissingData"] == "notBreaching"

    def test_latency_alarms_watch_p50_and_p99_in_seconds(self, run):
        p50 = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-latency-p50")
        p99 = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-latency-p99")
        assert (p50.inputs["extendedStatistic"], p99.inputs["extendedStatistic"]) == ("p50", "p99")
        assert p50.inputs["threshold"] == {"dev": 0.5, "prod": 0.3}[run.stack]
        assert p99.inputs["metricName"] == "TargetResponseTime"

    def test_cpu_alarm_watches_the_groups_average(self, run):
        cpu = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarms-cpu")
        assert cpu.inputs["dimensions"] == {"AutoScalingGroupName": run.stack_outputs["autoScalingGroupName"]}
        assert cpu.inputs["statistic"] == "Average"

    def test_composite_joins_every_metric_alarm_and_notifies_an_encrypted_topic(self, run):
        composite = one(run, "aws:cloudwatch/compositeAlarm:CompositeAlarm")
        expected = " OR ".join(f'ALARM("{name}")' for name in run.stack_outputs["alarmNames"])
        assert composite.inputs["alarmRule"] == expected
        topic = one(run, "aws:sns/topic:Topic")
        assert composite.inputs["alarmActions"] == [topic.outputs["arn"]]
        assert topic.inputs["kmsMasterKeyId"] == one(run, "aws:kms/key:Key").outputs["arn"]

    def test_only_prod_mails_the_on_call_address(self, dev, prod):
        assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []
        assert one(prod, "aws:sns/topicSubscription:TopicSubscription").inputs["endpoint"] == "oncall@example.com"


class TestAppDeployment:
    def test_group_rolls_back_on_failure_and_on_alarm(self, run):
        group = one(run, "aws:codedeploy/deploymentGroup:DeploymentGroup")
        assert group.inputs["autoRollbackConfiguration"] == {
            "enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
        alarms = group.inputs["alarmConfiguration"]
        assert alarms["enabled"] is True and alarms["alarms"] == run.stack_outputs["alarmNames"]
        assert group.inputs["deploymentStyle"] == {"deploymentOption": "WITH_TRAFFIC_CONTROL",
                                                   "deploymentType": "IN_PLACE"}
        assert group.inputs["autoscalingGroups"] == [run.stack_outputs["autoScalingGroupName"]]

    def test_codedeploy_owns_every_automatic_rollback(self, run):
        """One owner: CodeDeploy rolls back on failure and on alarm, and the pipeline never rolls back into the
        same group (aws-behaviour B4, B8)."""
        group = one(run, "aws:codedeploy/deploymentGroup:DeploymentGroup")
        assert group.inputs["autoRollbackConfiguration"]["events"] == ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
        pipeline = one(run, "aws:codepipeline/pipeline:Pipeline")
        assert "ROLLBACK" not in json.dumps(pipeline.inputs["stages"])

    def test_codedeploy_can_read_the_composite_and_metric_alarms(self, run):
        """DescribeAlarms returns composite alarms only when allowed on * (aws-behaviour B1)."""
        statements = json.loads(one(run, "aws:iam/rolePolicy:RolePolicy", name="deployment-alarms").inputs["policy"])
        assert statements["Statement"] == [{"Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
                                            "Resource": ["*"], "Sid": "DeploymentAlarms"}]

    def test_dev_deploys_all_at_once(self, dev):
        group = one(dev, "aws:codedeploy/deploymentGroup:DeploymentGroup")
        assert group.inputs["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
        assert dev.of_type("aws:codedeploy/deploymentConfig:DeploymentConfig") == []

    def test_prod_keeps_two_thirds_of_the_fleet_healthy(self, prod):
        config = one(prod, "aws:codedeploy/deploymentConfig:DeploymentConfig")
        assert config.inputs["minimumHealthyHosts"] == {"type": "FLEET_PERCENT", "value": 66}

    def test_waves_are_zonal_with_a_monitor_between_zones(self, prod):
        """One Availability Zone at a time, watched for the alarm window plus the metric delay (aws-behaviour B3)."""
        config = one(prod, "aws:codedeploy/deploymentConfig:DeploymentConfig")
        minutes = 3 + 2  # prod's alarmEvaluationMinutes, plus two minutes for metrics to arrive
        assert config.inputs["zonalConfig"] == {"monitorDurationInSeconds": minutes * 60,
                                                "firstZoneMonitorDurationInSeconds": minutes * 60}
        group = one(prod, "aws:codedeploy/deploymentGroup:DeploymentGroup")
        assert group.inputs["deploymentConfigName"] == config.outputs["deploymentConfigName"]


class TestDeliveryPipeline:
    def stages(self, run) -> dict:
        pipeline = one(run, "aws:codepipeline/pipeline:Pipeline")
        return {s["name"]: s for s in pipeline.inputs["stages"]}

    def test_pipeline_is_v2_and_not_parallel(self, run):
        pipeline = one(run, "aws:codepipeline/pipeline:Pipeline")
        assert pipeline.inputs["pipelineType"] == "V2"
        assert pipeline.inputs["executionMode"] in ("SUPERSEDED", "QUEUED")

    def test_a_push_to_the_branch_starts_the_building_pipeline(self, dev):
        trigger = one(dev, "aws:codepipeline/pipeline:Pipeline").inputs["triggers"][0]
        assert trigger["gitConfiguration"]["pushes"] == [{"branches": {"includes": ["main"]}}]

    def test_stages_run_in_order(self, dev, prod):
        assert list(self.stages(dev)) == ["Source", "Build", "Deploy", "Publish"]
        assert list(self.stages(prod)) == ["Source", "Approval", "Deploy", "Record"]

    def test_dev_builds_from_github_through_the_connection(self, dev):
        source = self.stages(dev)["Source"]["actions"][0]
        assert source["provider"] == "CodeStarSourceConnection"
        assert source["configuration"]["ConnectionArn"] == dev.stack_outputs["connectionArn"]
        assert source["configuration"]["FullRepositoryId"] == "example-org/delivery-app"

    def test_the_deploy_stage_has_no_rollback_of_its_own(self, run):
        """It fails when CodeDeploy's deployment fails; CodeDeploy has rolled back by then (aws-behaviour B2, B8)."""
        deploy = self.stages(run)["Deploy"]
        assert deploy["onFailure"] == {"result": "FAIL"}
        assert "onSuccess" not in deploy and "beforeEntry" not in deploy
        action = deploy["actions"][0]
        assert action["configuration"] == {"ApplicationName": run.stack_outputs["codedeployApplication"],
                                           "DeploymentGroupName": run.stack_outputs["codedeployDeploymentGroup"]}


class TestOptionsFromConfig:
    """The program honours the optional keys: an existing network, a certificate, a connection."""

    @pytest.fixture(scope="class")
    @classmethod
    def custom(cls, tmp_path_factory, project_root):
        stack_file = ((project_root / "Pulumi.dev.yaml").read_text()
                      + "  delivery:vpcId: vpc-0123abcd\n"
                      + '  delivery:subnetIds: ["subnet-0123abcd", "subnet-4567ef01"]\n'
                      + "  delivery:certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/"
                        "0123abcd-45ef-6789-abcd-0123456789ab\n"
                      + "  delivery:connectionArn: arn:aws:codeconnections:us-east-1:123456789012:connection/"
                        "0123abcd-45ef-6789-abcd-0123456789ab\n")
        return run_program("custom", program_with_stack(tmp_path_factory.mktemp("project"), project_root, "custom",
                                                        stack_file))

    def test_an_existing_vpc_is_used_instead_of_creating_one(self, custom):
        assert custom.of_type("aws:ec2/vpc:Vpc") == []
        group = one(custom, "aws:autoscaling/group:Group")
        assert group.inputs["vpcZoneIdentifiers"] == ["subnet-0123abcd", "subnet-4567ef01"]

    def test_a_certificate_adds_https_and_redirects_http(self, custom):
        listeners = {r.inputs["port"]: r for r in custom.of_type("aws:lb/listener:Listener")}
        assert listeners[443].inputs["protocol"] == "HTTPS"
        assert listeners[443].inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        assert listeners[80].inputs["defaultActions"][0]["type"] == "redirect"
        assert custom.stack_outputs["albUrl"].startswith("https://")
        public = {r.inputs["fromPort"] for r in custom.of_type(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs.get("cidrIpv4") == "0.0.0.0/0"}
        assert public == {80, 443}

    def test_a_configured_connection_is_used_and_none_is_created(self, custom):
        assert custom.of_type("aws:codeconnections/connection:Connection") == []
        assert custom.stack_outputs["connectionArn"].endswith("0123abcd-45ef-6789-abcd-0123456789ab")
        assert "connectionNote" not in custom.stack_outputs


def test_a_config_mistake_fails_the_run_with_one_clear_line(tmp_path, project_root):
    program_with_stack(tmp_path, project_root, "broken",
                       (project_root / "Pulumi.prod.yaml").read_text().replace("fleetSize: 3", "fleetSize: lots"))
    with pytest.raises(OpsError) as caught:
        run_program("broken", tmp_path)
    assert str(caught.value) == (
        "config `delivery:fleetSize` must be a whole number from 2 to 50 (got 'lots')")


def test_stack_files_hold_no_encrypted_secrets(project_root):
    for path in project_root.glob("Pulumi.*.yaml"):
        assert "secure:" not in path.read_text(), path.name
