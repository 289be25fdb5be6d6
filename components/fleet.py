"""App fleet: an internet-facing ALB in front of an Auto Scaling group of Amazon Linux 2023 instances that run
the app container. Instances take traffic only from the ALB; launch-template changes roll out gradually
through an instance refresh that keeps the same healthy share as deployments.

Health: the group replaces an instance when EC2 says it is impaired, or when the instance itself reports that
the release it runs stopped answering /healthz (components/fleet_health_report.sh). It does not use the load
balancer's health check, because an instance that has no release yet (a new stack, before its first deployment)
fails that check by design and would be replaced in a loop, failing the first deployment that races it
(docs/aws-behaviour.md, B9, B10). The load balancer still routes only to targets that pass /healthz."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components import defaults, iam, logs
from components.args import require
from components.artifacts import ArtifactStore
from components.aws_context import AwsContext
from components.network import Network

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
HEALTH_CHECK_PATH = "/healthz"
USER_DATA = Path(__file__).with_name("fleet_user_data.sh")
HEALTH_REPORT = Path(__file__).with_name("fleet_health_report.sh")
HEALTH_REPORT_PLACEHOLDER = "@HEALTH_REPORT_SCRIPT@"
DEPLOY_SETTINGS_PLACEHOLDER = "@DEPLOY_SETTINGS@"
MAX_BAKE_MINUTES = defaults.MAX_BAKE_MINUTES


class ImageSource(Protocol):
    """Where the instances pull release images from: this stack's registry, or the upstream's (promotion)."""

    def grant_pull(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy: ...
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass
class AppFleetArgs:
    context: AwsContext
    network: Network
    images: ImageSource
    artifacts: ArtifactStore
    instance_type: str = defaults.INSTANCE_TYPE
    fleet_size: int = defaults.FLEET_SIZE
    min_healthy_percent: int = defaults.MIN_HEALTHY_PERCENT
    """Share of the fleet kept in service while an instance refresh replaces instances."""
    app_port: int = defaults.APP_PORT
    certificate_arn: str | None = None
    log_retention_days: int = defaults.LOG_RETENTION_DAYS
    root_volume_gb: int = 20
    bake_minutes: int = defaults.BAKE_MINUTES
    """How long the last wave bakes under the alarms (the AfterAllowTraffic hook reads it on the instance)."""

    def __post_init__(self):
        require(1 <= self.fleet_size <= 50, self, "fleet_size", "1-50")
        require(0 <= self.min_healthy_percent <= 100, self, "min_healthy_percent", "0-100")
        require(1024 <= self.app_port <= 65535, self, "app_port", "1024-65535 (the app runs unprivileged)")
        require(8 <= self.root_volume_gb <= 1024, self, "root_volume_gb", "8-1024 (the AMI's snapshot is 8 GiB)")
        require(1 <= self.bake_minutes <= MAX_BAKE_MINUTES, self, "bake_minutes",
                f"1-{MAX_BAKE_MINUTES} (the bake hook must end within an hour)")


class AppFleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppFleetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:fleet:AppFleet", name, None, opts)
        self._name = name
        self.app_log_group = logs.log_group(f"{name}-app-logs", args.log_retention_days, parent=self)
        alb_sg, instance_sg = self._security_groups(args)
        self._load_balancer(args, alb_sg)
        profile = self._instance_profile(args)
        self.launch_template = self._launch_template(args, instance_sg, profile)
        self._auto_scaling_group(args, self.launch_template)
        self._grant_health_reports(args)
        self.register_outputs({
            "albDnsName": self.alb.dns_name, "url": self.url, "targetGroupName": self.target_group.name,
            "autoScalingGroupName": self.group.name, "appLogGroupName": self.app_log_group.name,
        })

    def _child(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _security_groups(self, args: AppFleetArgs) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        vpc_id = args.network.vpc_id
        alb_sg = aws.ec2.SecurityGroup(f"{self._name}-alb-sg", vpc_id=vpc_id,
                                       description="Load balancer: public listeners in, app port to instances out",
                                       opts=self._child())
        instance_sg = aws.ec2.SecurityGroup(f"{self._name}-instance-sg", vpc_id=vpc_id,
                                            description="App instances: app port from the load balancer only",
                                            opts=self._child())
        public_ports = [80, 443] if args.certificate_arn else [80]
        for port in public_ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-alb-in-{port}", security_group_id=alb_sg.id, ip_protocol="tcp", from_port=port,
                to_port=port, cidr_ipv4="0.0.0.0/0", description=f"Public HTTP{'S' if port == 443 else ''}",
                opts=self._child())
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-alb-out-app", security_group_id=alb_sg.id, ip_protocol="tcp", from_port=args.app_port,
            to_port=args.app_port, referenced_security_group_id=instance_sg.id, description="To the app instances",
            opts=self._child())
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-instance-in-app", security_group_id=instance_sg.id, ip_protocol="tcp",
            from_port=args.app_port, to_port=args.app_port, referenced_security_group_id=alb_sg.id,
            description="From the load balancer only", opts=self._child())
        # HTTPS out only: ECR, S3, SSM, CodeDeploy and CloudWatch Logs endpoints, and the dnf repositories.
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-instance-out-https", security_group_id=instance_sg.id, ip_protocol="tcp", from_port=443,
            to_port=443, cidr_ipv4="0.0.0.0/0", description="AWS APIs and package repositories over HTTPS",
            opts=self._child())
        return alb_sg, instance_sg

    def _load_balancer(self, args: AppFleetArgs, alb_sg: aws.ec2.SecurityGroup) -> None:
        self.alb = aws.lb.LoadBalancer(
            f"{self._name}-alb", load_balancer_type="application", internal=False,
            security_groups=[alb_sg.id], subnets=args.network.subnet_ids, drop_invalid_header_fields=True,
            idle_timeout=60, opts=self._child())
        self.target_group = aws.lb.TargetGroup(
            f"{self._name}-tg", port=args.app_port, protocol="HTTP", target_type="instance",
            vpc_id=args.network.vpc_id,
            deregistration_delay=30,  # the app drains on SIGTERM; 30 s covers in-flight requests
            health_check={"path": HEALTH_CHECK_PATH, "protocol": "HTTP", "port": "traffic-port", "matcher": "200",
                          "interval": 10, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 3},
            opts=self._child())
        forward = [{"type": "forward", "target_group_arn": self.target_group.arn}]
        if args.certificate_arn:
            aws.lb.Listener(f"{self._name}-https", load_balancer_arn=self.alb.arn, port=443, protocol="HTTPS",
                            ssl_policy=TLS_POLICY, certificate_arn=args.certificate_arn, default_actions=forward,
                            opts=self._child())
            aws.lb.Listener(f"{self._name}-http", load_balancer_arn=self.alb.arn, port=80, protocol="HTTP",
                            default_actions=[{"type": "redirect", "redirect": {
                                "port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
                            opts=self._child())
            scheme = "https"
        else:
            aws.lb.Listener(f"{self._name}-http", load_balancer_arn=self.alb.arn, port=80, protocol="HTTP",
                            default_actions=forward, opts=self._child())
            scheme = "http"
        self.url = pulumi.Output.concat(scheme, "://", self.alb.dns_name)

    def _instance_profile(self, args: AppFleetArgs) -> aws.iam.InstanceProfile:
        self.role = iam.service_role(f"{self._name}-instance-role", "ec2.amazonaws.com", self,
                                     "App instances: pull this app's image, read deploy bundles, write app logs")
        aws.iam.RolePolicyAttachment(
            f"{self._name}-ssm-core", role=self.role.name,
            policy_arn=aws.iam.ManagedPolicy.AMAZON_SSM_MANAGED_INSTANCE_CORE, opts=self._child())
        self._grants = [
            args.images.grant_pull(f"{self._name}-pull", self.role),
            args.artifacts.grant_read(f"{self._name}-bundles", self.role),
            logs.grant_write(f"{self._name}-write-logs", self.role, self.app_log_group, parent=self),
            # The CodeDeploy agent updates itself from AWS's regional bucket (as AWS documents for the profile).
            iam.inline_policy(f"{self._name}-agent-updates", self.role, [iam.statement(
                ["s3:GetObject"],
                [pulumi.Output.concat("arn:", args.context.partition, ":s3:::aws-codedeploy-",
                                      args.context.region, "/*")],
                sid="CodeDeployAgentBucket")], parent=self),
        ]
        return aws.iam.InstanceProfile(f"{self._name}-profile", role=self.role.name, opts=self._child())

    def _launch_template(self, args: AppFleetArgs, instance_sg: aws.ec2.SecurityGroup,
                         profile: aws.iam.InstanceProfile) -> aws.ec2.LaunchTemplate:
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=self))
        return aws.ec2.LaunchTemplate(
            f"{self._name}-template",
            image_id=ami.value,
            instance_type=args.instance_type,
            iam_instance_profile={"arn": profile.arn},
            vpc_security_group_ids=[instance_sg.id],
            # IMDSv2 only; hop limit 2 so the containers on the host can reach it too.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 2},
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {
                "volume_size": args.root_volume_gb, "volume_type": "gp3", "encrypted": "true",
                "delete_on_termination": "true"}}],
            monitoring={"enabled": True},  # one-minute metrics for the CPU alarm
            user_data=self.app_log_group.name.apply(
                lambda log_group: base64.b64encode(user_data(deploy_settings(args, log_group)).encode()).decode()),
            update_default_version=True,
            opts=self._child(depends_on=self._grants),
        )

    def _auto_scaling_group(self, args: AppFleetArgs, template: aws.ec2.LaunchTemplate) -> None:
        self.group = aws.autoscaling.Group(
            f"{self._name}-asg",
            min_size=args.fleet_size, max_size=args.fleet_size, desired_capacity=args.fleet_size,
            vpc_zone_identifiers=args.network.subnet_ids,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            target_group_arns=[self.target_group.arn],
            health_check_type="EC2",  # plus the instances' own reports; see the module docstring
            health_check_grace_period=300,
            instance_refresh={"strategy": "Rolling", "preferences": {
                "min_healthy_percentage": args.min_healthy_percent, "instance_warmup": "300",
                "auto_rollback": True}},
            opts=self._child(),
        )

    def _grant_health_reports(self, args: AppFleetArgs) -> None:
        """An instance may mark itself (any instance of this group, as IAM cannot tell them apart) unhealthy."""
        iam.inline_policy(f"{self._name}-health-reports", self.role, [
            iam.statement(["autoscaling:SetInstanceHealth"], [self.group.arn], sid="ReportOwnHealth"),
        ], parent=self)


def deploy_settings(args: AppFleetArgs, log_group: str) -> dict[str, str]:
    """What the deployment hooks read from /etc/app/deploy.env (app/hooks/common.sh load_deploy_env): how this stack
    runs any release. What a release is (its image, and the drill rate it was built with) travels in the bundle."""
    return {"AWS_REGION": args.context.region, "APP_PORT": str(args.app_port), "APP_LOG_GROUP": log_group,
            "BAKE_MINUTES": str(args.bake_minutes)}


def user_data(settings: dict[str, str]) -> str:
    """The boot script, with the deploy settings it writes and the health reporter it installs embedded."""
    lines = "\n".join(f"{key}={shlex.quote(value)}" for key, value in settings.items())
    return (USER_DATA.read_text().replace(DEPLOY_SETTINGS_PLACEHOLDER, lines)
            .replace(HEALTH_REPORT_PLACEHOLDER, HEALTH_REPORT.read_text().rstrip("\n")))
