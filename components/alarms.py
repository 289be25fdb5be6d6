"""Deployment alarms: what customers feel (5xx fault rate, p50 and p99 latency) and host health (CPU), joined
into one composite alarm `ALARM(fault) OR ALARM(latency) OR ALARM(cpu)` that pages and rolls deployments back.

Only the composite alarm notifies, so one incident sends one message. The topic is encrypted with a key of
its own, because CloudWatch cannot publish to a topic under the AWS-managed SNS key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import defaults, iam
from components.args import require
from components.aws_context import AwsContext
from components.fleet import AppFleet

PERIOD_SECONDS = 60


@dataclass
class DeploymentAlarmsArgs:
    context: AwsContext
    fleet: AppFleet
    """Whose load balancer, target group and Auto Scaling group the alarms watch."""
    name_prefix: str
    """Names the composite alarm (CloudWatch requires a name for it), e.g. `app-prod`."""
    fault_rate_percent: float = defaults.ALARM_FAULT_RATE_PERCENT
    latency_p50_ms: int = defaults.ALARM_LATENCY_P50_MS
    latency_p99_ms: int = defaults.ALARM_LATENCY_P99_MS
    cpu_percent: int = defaults.ALARM_CPU_PERCENT
    evaluation_minutes: int = defaults.ALARM_EVALUATION_MINUTES
    notification_email: str | None = None

    def __post_init__(self):
        require(0 < self.fault_rate_percent < 100, self, "fault_rate_percent",
                "above 0 and below 100 (100 never fires)")
        require(1 <= self.latency_p50_ms <= self.latency_p99_ms, self, "latency_p50_ms", "from 1 up to latency_p99_ms")
        require(1 <= self.cpu_percent <= 99, self, "cpu_percent", "1-99 (100 never fires)")
        require(1 <= self.evaluation_minutes <= 60, self, "evaluation_minutes", "1-60")


class DeploymentAlarms(pulumi.ComponentResource):
    def __init__(self, name: str, args: DeploymentAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:alarms:DeploymentAlarms", name, None, opts)
        self._name = name
        self._args = args
        self._topic(args)
        self.fault = self._fault_rate(args)
        self.latency_p50 = self._latency("latency-p50", "p50", args.latency_p50_ms)
        self.latency_p99 = self._latency("latency-p99", "p99", args.latency_p99_ms)
        self.cpu = self._cpu(args)
        self.metric_alarms = [self.fault, self.latency_p50, self.latency_p99, self.cpu]
        self.alarm_names = pulumi.Output.all(*[alarm.name for alarm in self.metric_alarms])
        rule = pulumi.Output.all(*[alarm.name for alarm in self.metric_alarms]).apply(
            lambda names: " OR ".join(f'ALARM("{n}")' for n in names))
        self.composite = aws.cloudwatch.CompositeAlarm(
            f"{name}-deployment-health",
            alarm_name=f"{args.name_prefix}-deployment-health",
            alarm_description="Fault rate, latency or CPU out of bounds: stops and rolls back deployments",
            alarm_rule=rule,
            alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self))
        self.composite_alarm_name = self.composite.alarm_name
        self.register_outputs({"alarmNames": self.alarm_names, "compositeAlarmName": self.composite_alarm_name,
                               "topicArn": self.topic.arn})

    def _child(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _topic(self, args: DeploymentAlarmsArgs) -> None:
        self.key = aws.kms.Key(
            f"{self._name}-topic-key", description="Encrypts the deployment notifications topic",
            enable_key_rotation=True, deletion_window_in_days=30, policy=self._key_policy(args.context),
            opts=self._child(protect=True))
        self.topic = aws.sns.Topic(f"{self._name}-notifications", kms_master_key_id=self.key.arn,
                                   opts=self._child())
        if args.notification_email:
            aws.sns.TopicSubscription(f"{self._name}-email", topic=self.topic.arn, protocol="email",
                                      endpoint=args.notification_email, opts=self._child())

    @staticmethod
    def _key_policy(context: AwsContext) -> pulumi.Output[str]:
        # In a key policy "Resource": "*" means this key. The account keeps administering it through IAM;
        # CloudWatch may only use it to publish alarms from this account.
        root = pulumi.Output.concat("arn:", context.partition, ":iam::", context.account_id, ":root")
        return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "AccountAdministersKeyThroughIam", "Effect": "Allow", "Principal": {"AWS": root},
             "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                        "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                        "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                        "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
             "Resource": "*"},
            {"Sid": "CloudWatchPublishesAlarms", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id}}},
        ]})

    def _alb_dimensions(self) -> dict:
        fleet = self._args.fleet
        return {"LoadBalancer": fleet.alb.arn_suffix, "TargetGroup": fleet.target_group.arn_suffix}

    def _evaluation(self) -> dict:
        # N of N one-minute periods: a blip does not roll back; a real regression does within N minutes.
        minutes = self._args.evaluation_minutes
        return {"evaluation_periods": minutes, "datapoints_to_alarm": minutes}

    def _fault_rate(self, args: DeploymentAlarmsArgs) -> aws.cloudwatch.MetricAlarm:
        def metric(query_id: str, metric_name: str) -> dict:
            return {"id": query_id, "return_data": False, "metric": {
                "namespace": "AWS/ApplicationELB", "metric_name": metric_name, "period": PERIOD_SECONDS,
                "stat": "Sum", "dimensions": self._alb_dimensions()}}

        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-fault-rate",
            alarm_description=f"Target 5xx responses above {args.fault_rate_percent:g}% of requests",
            comparison_operator="GreaterThanThreshold", threshold=args.fault_rate_percent,
            metric_queries=[
                metric("errors", "HTTPCode_Target_5XX_Count"),
                metric("requests", "RequestCount"),
                {"id": "fault_rate", "label": "Target 5xx rate (%)", "return_data": True,
                 "expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"},
            ],
            treat_missing_data="notBreaching",  # no traffic is not an outage
            **self._evaluation(), opts=self._child())

    def _latency(self, suffix: str, percentile: str, threshold_ms: int) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{suffix}",
            alarm_description=f"Target response time {percentile} above {threshold_ms} ms",
            namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", extended_statistic=percentile,
            dimensions=self._alb_dimensions(), period=PERIOD_SECONDS,
            comparison_operator="GreaterThanThreshold", threshold=threshold_ms / 1000,
            treat_missing_data="notBreaching", **self._evaluation(), opts=self._child())

    def _cpu(self, args: DeploymentAlarmsArgs) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-cpu",
            alarm_description=f"Fleet average CPU above {args.cpu_percent}%",
            namespace="AWS/EC2", metric_name="CPUUtilization", statistic="Average",
            dimensions={"AutoScalingGroupName": args.fleet.group.name}, period=PERIOD_SECONDS,
            comparison_operator="GreaterThanThreshold", threshold=args.cpu_percent,
            # Silent hosts stay INSUFFICIENT_DATA (visible, but no rollback before the fleet first reports).
            treat_missing_data="missing", **self._evaluation(), opts=self._child())

    def metric_alarm_arns(self) -> list[pulumi.Output[str]]:
        return [alarm.arn for alarm in self.metric_alarms]

    def grant_publish(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Publish to the notifications topic (for example, pipeline approval requests)."""
        return iam.inline_policy(name, role, [
            iam.statement(["sns:Publish"], [self.topic.arn], sid="NotificationsTopic"),
            iam.statement(["kms:Decrypt", "kms:GenerateDataKey*"], [self.key.arn], sid="NotificationsTopicKey"),
        ], parent=self)

    def grant_describe(self, name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Read these alarms' state (CodeDeploy's alarm checks during a deployment and its bake).

        On "*": DescribeAlarms returns composite alarms only to callers granted it on "*"
        (docs/aws-behaviour.md, B1), and a narrower grant would silently hide the composite alarm."""
        return iam.inline_policy(name, role, [
            iam.statement(["cloudwatch:DescribeAlarms"], ["*"], sid="DeploymentAlarms"),
        ], parent=self)
