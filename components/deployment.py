"""App deployment: CodeDeploy replaces the app on the Auto Scaling group in place, in waves, behind the ALB,
and rolls back by itself when a deployment fails or a deployment alarm fires."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import iam
from components.alarms import DeploymentAlarms
from components.aws_context import AwsContext

ALL_AT_ONCE = "CodeDeployDefault.AllAtOnce"
ROLLBACK_EVENTS = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]


@dataclass
class AppDeploymentArgs:
    context: AwsContext
    auto_scaling_group_name: pulumi.Input[str]
    target_group_name: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    alarms: DeploymentAlarms
    deployment_group_name: str
    """CodeDeploy requires a name for the group; one per stack, e.g. `app-prod`."""
    min_healthy_percent: int = 66
    """Share of the fleet that stays healthy during a deployment; 0 deploys to every instance at once."""


class AppDeployment(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:deployment:AppDeployment", name, None, opts)
        self._name = name
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
            autoscaling_groups=[args.auto_scaling_group_name],
            deployment_style={"deployment_option": "WITH_TRAFFIC_CONTROL", "deployment_type": "IN_PLACE"},
            load_balancer_info={"target_group_infos": [{"name": args.target_group_name}]},
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
        config = aws.codedeploy.DeploymentConfig(
            f"{self._name}-waves",
            compute_platform="Server",
            minimum_healthy_hosts={"type": "FLEET_PERCENT", "value": args.min_healthy_percent},
            opts=self._child())
        return config.deployment_config_name

    def _grant_fleet(self, args: AppDeploymentArgs) -> aws.iam.RolePolicy:
        ctx = args.context
        group_arn = ctx.arn("autoscaling", pulumi.Output.concat(
            "autoScalingGroup:*:autoScalingGroupName/", args.auto_scaling_group_name))
        return iam.inline_policy(f"{self._name}-fleet", self.role, [
            # Lifecycle hooks let CodeDeploy deploy the current revision to instances the group launches.
            iam.statement(["autoscaling:CompleteLifecycleAction", "autoscaling:DeleteLifecycleHook",
                           "autoscaling:PutLifecycleHook", "autoscaling:RecordLifecycleActionHeartbeat",
                           "autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses"],
                          [group_arn], sid="ThisAutoScalingGroup"),
            iam.statement(["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
                          [args.target_group_arn], sid="ThisTargetGroup"),
            iam.statement(["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLifecycleHooks",
                           "ec2:DescribeInstances", "ec2:DescribeInstanceStatus",
                           "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
                           "tag:GetResources"],
                          ["*"], sid="DescribeOnlyOnStar"),
        ], parent=self)

    def grant_deploy(self, name: str, role: aws.iam.Role, context: AwsContext) -> aws.iam.RolePolicy:
        """What a pipeline needs to start and follow deployments of this application."""
        app = context.arn("codedeploy", pulumi.Output.concat("application:", self.application.name))
        group = context.arn("codedeploy", pulumi.Output.concat(
            "deploymentgroup:", self.application.name, "/", self.group.deployment_group_name))
        config = context.arn("codedeploy", pulumi.Output.concat("deploymentconfig:", self.config_name))
        return iam.inline_policy(name, role, [
            iam.statement(["codedeploy:GetApplication", "codedeploy:GetApplicationRevision",
                           "codedeploy:RegisterApplicationRevision"], [app], sid="ThisApplication"),
            iam.statement(["codedeploy:CreateDeployment", "codedeploy:GetDeployment"], [group],
                          sid="ThisDeploymentGroup"),
            iam.statement(["codedeploy:GetDeploymentConfig"], [config], sid="ThisDeploymentConfig"),
        ], parent=self)
