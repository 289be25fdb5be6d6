"""App deployment: CodeDeploy replaces the app on the Auto Scaling group in place, one Availability Zone at a
time behind the ALB, keeps the release under its alarms through the bake, and owns every automatic rollback.

Who rolls back what (docs/rollback.md, "Who owns a rollback"): CodeDeploy, and only CodeDeploy. A deployment
stays in progress until the last wave has baked (the app's AfterAllowTraffic hook), so an alarm at any point,
between zones or in the bake, stops it and CodeDeploy redeploys the last good revision. The pipeline's deploy
stage only fails; it never starts a second rollback into the same group (one active deployment per group)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import defaults, iam
from components.alarms import DeploymentAlarms
from components.args import require
from components.aws_context import AwsContext
from components.fleet import AppFleet

ALL_AT_ONCE = "CodeDeployDefault.AllAtOnce"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]

# What AWSCodeDeployRole (v11) grants that this stack's role leaves out, and why. Everything else it grants is
# granted below, scoped to this stack where AWS allows (tests/components/test_iam.py compares with AWS's list).
LEFT_OUT_OF_AWS_CODEDEPLOY_ROLE = {
    "autoscaling:DeleteAutoScalingGroup": "blue/green only (removes the original group); the fleet is Pulumi's",
    "elasticloadbalancing:DescribeInstanceHealth": "Classic Load Balancer only; this stack uses a target group",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer": "Classic Load Balancer only",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer": "Classic Load Balancer only",
    "sns:Publish": "deployment triggers only; this group has none (alarms notify through their own topic)",
}


@dataclass
class AppDeploymentArgs:
    context: AwsContext
    fleet: AppFleet
    """The Auto Scaling group, target group, launch template and instance role deployments go through."""
    alarms: DeploymentAlarms
    deployment_group_name: str
    """CodeDeploy requires a name for the group; one per stack, e.g. `app-prod`."""
    min_healthy_percent: int = defaults.MIN_HEALTHY_PERCENT
    """Share of the fleet that stays healthy during a deployment; 0 deploys to every instance at once."""
    zone_monitor_minutes: int = defaults.ZONE_MONITOR_MINUTES
    """How long CodeDeploy watches the alarms after each Availability Zone before starting the next."""

    def __post_init__(self):
        require(0 <= self.min_healthy_percent <= 99, self, "min_healthy_percent", "0-99 (0: all at once)")
        require(0 <= self.zone_monitor_minutes <= 60, self, "zone_monitor_minutes", "0-60")


class AppDeployment(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:deployment:AppDeployment", name, None, opts)
        self._name = name
        self._context = args.context
        fleet = args.fleet
        self.application = aws.codedeploy.Application(f"{name}-app", compute_platform="Server",
                                                      opts=self._child())
        self.config_name = self._deployment_config(args)
        self.role = iam.service_role(f"{name}-role", "codedeploy.amazonaws.com", self,
                                     "CodeDeploy: in-place deployments to this app's Auto Scaling group",
                                     args.context.account_id)
        grants = [self._grant_fleet(args), args.alarms.grant_describe(f"{name}-alarms", self.role)]
        self.group = aws.codedeploy.DeploymentGroup(
            f"{name}-group",
            app_name=self.application.name,
            deployment_group_name=args.deployment_group_name,
            service_role_arn=self.role.arn,
            deployment_config_name=self.config_name,
            autoscaling_groups=[fleet.group.name],
            deployment_style={"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "IN_PLACE"},
            load_balancer_info={"target_group_infos": [{"name": fleet.target_group.name}]},
            auto_rollback_configuration={"enabled": True, "events": ROLLBACK_EVENTS},
            alarm_configuration={"enabled": True, "ignore_poll_alarm_failure": False,
                                 "alarms": args.alarms.alarm_names},
            # New instances launched mid-deployment get the new revision too.
            outdated_instances_strategy="UPDATE",
            opts=self._child(depends_on=grants),
        )
        self.application_name = self.application.name
        self.deployment_group_name = self.group.deployment_group_name
        self.register_outputs({"applicationName": self.application_name,
                               "deploymentGroupName": self.deployment_group_name,
                               "deploymentConfigName": self.config_name})

    def _child(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _deployment_config(self, args: AppDeploymentArgs) -> pulumi.Output[str]:
        if args.min_healthy_percent == 0:
            return pulumi.Output.from_input(ALL_AT_ONCE)
        monitor = args.zone_monitor_minutes * 60
        config = aws.codedeploy.DeploymentConfig(
            f"{self._name}-waves",
            compute_platform="Server",
            minimum_healthy_hosts={"type": "FLEET_PERCENT", "value": args.min_healthy_percent},
            # One Availability Zone at a time, the alarms watched for `monitor` seconds before the next zone
            # (docs/aws-behaviour.md, B3). The final bake after the last zone is the app's AfterAllowTraffic hook.
            zonal_config={"monitor_duration_in_seconds": monitor, "first_zone_monitor_duration_in_seconds": monitor},
            opts=self._child())
        return config.deployment_config_name

    def _grant_fleet(self, args: AppDeploymentArgs) -> aws.iam.RolePolicy:
        """AWSCodeDeployRole, as AWS documents it for EC2/Auto Scaling (docs/aws-behaviour.md, B11), scoped to this
        group, target group, launch template and instance role; minus LEFT_OUT_OF_AWS_CODEDEPLOY_ROLE."""
        ctx, fleet = args.context, args.fleet
        ec2 = lambda kind: ctx.arn("ec2", f"{kind}/*")  # noqa: E731 - a local ARN shorthand
        return iam.inline_policy(f"{self._name}-fleet", self.role, [
            # Lifecycle hooks let CodeDeploy deploy the current revision to instances the group launches; the rest
            # is what AWS's role uses to read, suspend and (blue/green) copy the group's settings.
            iam.statement([
                "autoscaling:CompleteLifecycleAction", "autoscaling:DeleteLifecycleHook",
                "autoscaling:PutLifecycleHook", "autoscaling:RecordLifecycleActionHeartbeat",
                "autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses",
                "autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags", "autoscaling:EnableMetricsCollection",
                "autoscaling:AttachLoadBalancers", "autoscaling:AttachLoadBalancerTargetGroups",
                "autoscaling:PutScalingPolicy", "autoscaling:PutScheduledUpdateGroupAction",
                "autoscaling:PutNotificationConfiguration", "autoscaling:PutWarmPool"],
                [fleet.group.arn], sid="ThisAutoScalingGroup"),
            iam.statement(["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
                          [fleet.target_group.arn], sid="ThisTargetGroup"),
            # Only the instances of this group, which Auto Scaling tags with its name.
            iam.condition(
                iam.statement(["ec2:TerminateInstances"], [ec2("instance")], sid="ThisGroupsInstances"),
                {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": fleet.group.name}}),
            # A group built from a launch template: launching through it, tagging at launch, and passing the
            # instance role to EC2 (docs/aws-behaviour.md, B11, B12).
            iam.condition(iam.statement(
                ["ec2:RunInstances"],
                [fleet.launch_template.arn, ec2("instance"), ec2("volume"), ec2("network-interface"),
                 ec2("subnet"), ec2("security-group"), pulumi.Output.concat("arn:", ctx.partition, ":ec2:",
                                                                            ctx.region, "::image/*")],
                sid="LaunchThroughThisTemplate"),
                {"ArnLike": {"ec2:LaunchTemplate": fleet.launch_template.arn}}),
            iam.condition(iam.statement(["ec2:CreateTags"], [ec2("instance"), ec2("volume"), ec2("network-interface")],
                                        sid="TagAtLaunch"),
                          {"StringEquals": {"ec2:CreateAction": "RunInstances"}}),
            iam.condition(iam.statement(["iam:PassRole"], [fleet.role.arn], sid="PassTheInstanceRole"),
                          {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
            iam.statement(["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks",
                           "autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribePolicies",
                           "autoscaling:DescribeScheduledActions",
                           "autoscaling:DescribeNotificationConfigurations", "autoscaling:DescribeScalingActivities",
                           "ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
                           "elasticloadbalancing:DescribeLoadBalancers",
                           "elasticloadbalancing:DescribeLoadBalancerAttributes",
                           "elasticloadbalancing:DescribeTargetGroups",
                           "elasticloadbalancing:DescribeTargetGroupAttributes",
                           "elasticloadbalancing:DescribeTargetHealth", "tag:GetResources"],
                          ["*"], sid="DescribeOnlyOnStar"),
            iam.statement(["cloudwatch:PutMetricAlarm"], args.alarms.metric_alarm_arns(), sid="ThisStacksAlarms"),
        ], parent=self)

    def grant_deploy(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """What a pipeline needs to start and follow deployments of this application."""
        # A built-in configuration (CodeDeployDefault.*) has no resource of ours to take the ARN from.
        config = self._context.arn("codedeploy", pulumi.Output.concat("deploymentconfig:", self.config_name))
        return iam.inline_policy(name, role, [
            iam.statement(["codedeploy:GetApplication", "codedeploy:GetApplicationRevision",
                           "codedeploy:RegisterApplicationRevision"], [self.application.arn], sid="ThisApplication"),
            iam.statement(["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], [self.group.arn],
                          sid="ThisDeploymentGroup"),
            iam.statement(["codedeploy:GetDeploymentConfig"], [config], sid="ThisDeploymentConfig"),
        ], parent=self)

    def grant_follow(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Read this group's deployments: the bake hook on the instances asks which wave it is in."""
        return iam.inline_policy(name, role, [
            iam.statement(["codedeploy:GetDeployment"], [self.group.arn], sid="ThisDeploymentGroup"),
        ], parent=self)
