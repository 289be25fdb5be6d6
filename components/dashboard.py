"""App dashboard: one CloudWatch dashboard with what the deployment alarms watch, drawn the way they compute it, and
the state of every deployment alarm.

- Fault rate (%): the fault-rate alarm's own metric math (target 5xx over the target group's requests, same
  dimensions, period and expression), so the line crosses the drawn threshold when the alarm fires; next to it the
  same ratio with the load balancer's own 5xx added (HTTPCode_ELB_5XX_Count has only the LoadBalancer dimension),
  and that count itself on the right axis: when no target can be chosen the load balancer answers 503 and
  RequestCount does not count the request, so only the count shows a total outage.
- Target response time p50 and p99, in seconds as ALB publishes it and as the latency alarms compare it.
- The Auto Scaling group's average CPUUtilization, as the CPU alarm reads it.
- An alarm status widget with every metric alarm and the composite alarm that rolls deployments back.

The body follows AWS's "Dashboard Body Structure and Syntax" (CloudWatch API Reference): every metric widget names
its region; periods are the alarms' (`periodOverride: inherit` keeps them when the dashboard loads). CloudWatch
dashboards are global, so `url` opens it in the console of the stack's region."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import PERIOD_SECONDS, DeploymentAlarms
from components.args import require
from components.aws_context import AwsContext
from components.fleet import AppFleet

ALB_NAMESPACE = "AWS/ApplicationELB"
EC2_NAMESPACE = "AWS/EC2"
# What the fault-rate alarm computes (components/alarms.py _fault_rate), with the same query ids.
FAULT_RATE_EXPRESSION = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
ALL_5XX_EXPRESSION = "IF(requests > 0, 100 * (FILL(errors, 0) + FILL(elb_errors, 0)) / requests, 0)"
DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")  # PutDashboard: at most 255 of A-Z, a-z, 0-9, "-", "_"
GRID_COLUMNS = 24
WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6


@dataclass
class AppDashboardArgs:
    context: AwsContext
    """The stack's region: every metric widget's region, and the console the URL opens."""
    fleet: AppFleet
    """Whose load balancer, target group and Auto Scaling group the widgets show."""
    alarms: DeploymentAlarms
    """The deployment alarms: their thresholds are drawn on the graphs, their states listed."""
    dashboard_name: str
    """The dashboard's name, e.g. `app-prod` (dashboards are global to the account: one name per stack)."""

    def __post_init__(self):
        require(bool(DASHBOARD_NAME.fullmatch(self.dashboard_name or "")), self, "dashboard_name",
                "1-255 characters of A-Z, a-z, 0-9, '-' and '_' (CloudWatch's PutDashboard)")


class AppDashboard(pulumi.ComponentResource):
    def __init__(self, name: str, args: AppDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("delivery:dashboard:AppDashboard", name, None, opts)
        region = args.context.region
        self.body = pulumi.Output.json_dumps(dashboard_body(args))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=args.dashboard_name, dashboard_body=self.body,
            opts=pulumi.ResourceOptions(parent=self))
        self.dashboard_name = self.dashboard.dashboard_name
        self.url = self.dashboard.dashboard_name.apply(lambda dashboard: console_url(region, dashboard))
        self.register_outputs({"dashboardName": self.dashboard_name, "url": self.url})


def console_url(region: str, dashboard_name: str) -> str:
    """The CloudWatch console page of a dashboard, in the region's console."""
    return (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{dashboard_name}")


def dashboard_body(args: AppDashboardArgs) -> dict[str, Any]:
    """The DashboardBody document (its values may be Outputs; pulumi.Output.json_dumps resolves them)."""
    widgets = [
        _text(0, 0, GRID_COLUMNS, 2, f"# {args.dashboard_name}\nWhat the deployment alarms watch, and their state. "
                                     "Managed by Pulumi (components/dashboard.py): changes made in the console are "
                                     "replaced by the next `pulumi up`."),
        _fault_rate(args, 0, 2),
        _latency(args, WIDGET_WIDTH, 2),
        _cpu(args, 0, 2 + WIDGET_HEIGHT),
        _alarm_status(args, WIDGET_WIDTH, 2 + WIDGET_HEIGHT),
    ]
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": widgets}


def _widget(kind: str, x: int, y: int, width: int, height: int, properties: dict) -> dict:
    return {"type": kind, "x": x, "y": y, "width": width, "height": height, "properties": properties}


def _text(x: int, y: int, width: int, height: int, markdown: str) -> dict:
    return _widget("text", x, y, width, height, {"markdown": markdown})


def _metric_widget(args: AppDashboardArgs, x: int, y: int, title: str, metrics: list, threshold_lines: list[dict],
                   y_axis: dict) -> dict:
    return _widget("metric", x, y, WIDGET_WIDTH, WIDGET_HEIGHT, {
        "title": title, "region": args.context.region, "view": "timeSeries", "stacked": False,
        "period": PERIOD_SECONDS, "metrics": metrics, "annotations": {"horizontal": threshold_lines},
        "yAxis": y_axis})


def _threshold(label: str, value: pulumi.Output[float]) -> dict:
    return {"label": label, "value": value, "color": "#d62728"}


def _alb(args: AppDashboardArgs, metric: str, rendering: dict, target_group: bool = True) -> list:
    """One ALB metric row: namespace, name, the alarms' dimensions (LoadBalancer, TargetGroup), rendering."""
    fleet = args.fleet
    dimensions = ["LoadBalancer", fleet.alb.arn_suffix]
    if target_group:
        dimensions += ["TargetGroup", fleet.target_group.arn_suffix]
    return [ALB_NAMESPACE, metric, *dimensions, rendering]


def _fault_rate(args: AppDashboardArgs, x: int, y: int) -> dict:
    metrics = [
        _alb(args, "HTTPCode_Target_5XX_Count", {"id": "errors", "stat": "Sum", "visible": False}),
        _alb(args, "RequestCount", {"id": "requests", "stat": "Sum", "visible": False}),
        _alb(args, "HTTPCode_ELB_5XX_Count", {"id": "elb_errors", "stat": "Sum", "yAxis": "right",
                                              "label": "Load balancer 5xx (count)"}, target_group=False),
        [{"id": "fault_rate", "expression": FAULT_RATE_EXPRESSION, "label": "Target 5xx rate (%): the alarm's"}],
        [{"id": "all_5xx_rate", "expression": ALL_5XX_EXPRESSION, "label": "Target + load balancer 5xx (%)"}],
    ]
    return _metric_widget(args, x, y, "Fault rate (5xx % of requests)", metrics,
                          [_threshold("fault-rate alarm", args.alarms.fault.threshold)],
                          {"left": {"min": 0, "label": "%", "showUnits": False}, "right": {"min": 0}})


def _latency(args: AppDashboardArgs, x: int, y: int) -> dict:
    metrics = [
        _alb(args, "TargetResponseTime", {"stat": "p50", "label": "p50"}),
        _alb(args, "TargetResponseTime", {"stat": "p99", "label": "p99"}),
    ]
    return _metric_widget(args, x, y, "Target response time (seconds)", metrics,
                          [_threshold("p50 alarm", args.alarms.latency_p50.threshold),
                           _threshold("p99 alarm", args.alarms.latency_p99.threshold)],
                          {"left": {"min": 0, "label": "seconds", "showUnits": False}})


def _cpu(args: AppDashboardArgs, x: int, y: int) -> dict:
    metrics = [[EC2_NAMESPACE, "CPUUtilization", "AutoScalingGroupName", args.fleet.group.name,
                {"stat": "Average", "label": "Average CPU"}]]
    return _metric_widget(args, x, y, "Fleet CPU (Auto Scaling group average)", metrics,
                          [_threshold("CPU alarm", args.alarms.cpu.threshold)],
                          {"left": {"min": 0, "max": 100, "label": "%", "showUnits": False}})


def _alarm_status(args: AppDashboardArgs, x: int, y: int) -> dict:
    alarms = [*args.alarms.metric_alarm_arns(), args.alarms.composite.arn]
    return _widget("alarm", x, y, WIDGET_WIDTH, WIDGET_HEIGHT, {
        "title": "Deployment alarms (the composite one stops and rolls back deployments)",
        "alarms": alarms, "sortBy": "stateUpdatedTimestamp"})
