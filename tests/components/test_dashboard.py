"""The app dashboard on the Pulumi SDK's mock runtime: a small program (a load balancer, a target group, an Auto Scaling
group, the real DeploymentAlarms over them, and the dashboard) run like the stacks are (ops/offline), its
registrations read as the engine receives them. The body is checked against the alarms as registered, and against
AWS's "Dashboard Body Structure and Syntax" (CloudWatch API Reference)."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from components.aws_context import AwsContext
from components.dashboard import AppDashboardArgs
from ops.offline.model import MockRun, Registration
from ops.offline.run import run_program
from tests.components.conftest import one

REGION = "eu-west-1"  # not the stacks' region, so a hard-coded one would show
NAME = "app-test"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
PROGRAM = f"""
import types

import pulumi
import pulumi_aws as aws

from components.alarms import DeploymentAlarms, DeploymentAlarmsArgs
from components.aws_context import lookup
from components.dashboard import AppDashboard, AppDashboardArgs

provider = aws.Provider("aws", region="{REGION}")
use = pulumi.ResourceOptions(provider=provider)
context = lookup(provider, "{REGION}")
# What the dashboard and the alarms read of an AppFleet: its load balancer, target group and Auto Scaling group.
fleet = types.SimpleNamespace(
    alb=aws.lb.LoadBalancer("alb", load_balancer_type="application", opts=use),
    target_group=aws.lb.TargetGroup("tg", port=8080, protocol="HTTP", vpc_id="vpc-0123abcd", opts=use),
    group=aws.autoscaling.Group("asg", min_size=2, max_size=2, opts=use),
)
alarms = DeploymentAlarms("alarms", DeploymentAlarmsArgs(context=context, fleet=fleet, name_prefix="{NAME}"), use)
dashboard = AppDashboard("dashboard", AppDashboardArgs(context=context, fleet=fleet, alarms=alarms,
                                                       dashboard_name="{NAME}"), use)
pulumi.export("dashboardName", dashboard.dashboard_name)
pulumi.export("dashboardUrl", dashboard.url)
"""
# AWS's Dashboard Body Structure and Syntax: 0-500 widgets, a 24-column grid (x 0-23, width 1-24, height 1-1000),
# 0-500 metrics and expressions per metric widget, 1-100 alarm ARNs per alarm widget. CloudWatch's quotas page adds
# at most 2,500 metrics per dashboard.
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}
MAX_WIDGETS, MAX_METRICS_PER_WIDGET, MAX_METRICS_PER_DASHBOARD, MAX_ALARMS_PER_WIDGET = 500, 500, 2500, 100
BODY_BYTES_BOUND = 16 * 1024
"""Not an AWS number (no CloudWatch page we found states a byte limit for DashboardBody): a bound that keeps the body
orders of magnitude below any request limit, so a body that grows by accident (per-instance widgets) shows here."""


@pytest.fixture(scope="module")
def run(tmp_path_factory, project_root) -> MockRun:
    folder = tmp_path_factory.mktemp("dashboard-program")
    shutil.copy(project_root / "Pulumi.yaml", folder / "Pulumi.yaml")
    (folder / "Pulumi.dash.yaml").write_text(f"config:\n  aws:region: {REGION}\n")
    (folder / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    return run_program("dash", folder)


@pytest.fixture(scope="module")
def body(run) -> dict:
    return json.loads(one(run, DASHBOARD).inputs["dashboardBody"])


def widget(body: dict, title_start: str) -> dict:
    found = [w for w in body["widgets"] if w["properties"].get("title", "").startswith(title_start)]
    assert len(found) == 1, [w["properties"].get("title") for w in body["widgets"]]
    return found[0]["properties"]


def rows(properties: dict) -> list[dict]:
    """Each metric row of a metric widget as {namespace, name, dimensions, **rendering}, or an expression's object."""
    parsed = []
    for row in properties["metrics"]:
        if len(row) == 1 and isinstance(row[0], dict):
            parsed.append(row[0])
            continue
        rendering = row[-1] if isinstance(row[-1], dict) else {}
        fields = row[:-1] if rendering else row
        dimensions = dict(zip(fields[2::2], fields[3::2], strict=True))
        parsed.append({"namespace": fields[0], "name": fields[1], "dimensions": dimensions, **rendering})
    return parsed


def alarm(run: MockRun, suffix: str) -> Registration:
    return one(run, METRIC_ALARM, f"alarms-{suffix}")


class TestTheDashboard:
    def test_is_one_dashboard_with_the_given_name_inside_its_component_with_the_stacks_provider(self, run):
        dashboard = one(run, DASHBOARD)
        component = one(run, "delivery:dashboard:AppDashboard")
        provider = one(run, "pulumi:providers:aws")

        assert dashboard.inputs["dashboardName"] == NAME
        assert dashboard.parent == component.urn
        assert dashboard.provider.startswith(provider.urn)

    def test_body_is_json_in_the_documented_structure_and_limits(self, run, body):
        text = one(run, DASHBOARD).inputs["dashboardBody"]
        widgets = body["widgets"]

        assert len(text.encode()) < BODY_BYTES_BOUND
        assert body["periodOverride"] == "inherit" and body["start"].startswith("-PT")
        assert 0 < len(widgets) <= MAX_WIDGETS
        for item in widgets:
            assert item["type"] in WIDGET_TYPES
            assert 0 <= item["x"] <= 23 and 1 <= item["width"] <= 24 and item["x"] + item["width"] <= 24, item
            assert 1 <= item["height"] <= 1000 and item["y"] >= 0
            assert isinstance(item["properties"], dict)
        metric_widgets = [w["properties"] for w in widgets if w["type"] == "metric"]
        assert all(len(p["metrics"]) <= MAX_METRICS_PER_WIDGET for p in metric_widgets)
        assert sum(len(p["metrics"]) for p in metric_widgets) <= MAX_METRICS_PER_DASHBOARD
        assert all(1 <= len(w["properties"]["alarms"]) <= MAX_ALARMS_PER_WIDGET
                   for w in widgets if w["type"] == "alarm")

    def test_no_two_widgets_overlap(self, body):
        cells = {}
        for index, item in enumerate(body["widgets"]):
            for x in range(item["x"], item["x"] + item["width"]):
                for y in range(item["y"], item["y"] + item["height"]):
                    assert (x, y) not in cells, f"widgets {cells.get((x, y))} and {index} overlap at {(x, y)}"
                    cells[(x, y)] = index

    def test_every_metric_widget_names_the_stacks_region_and_the_alarms_period(self, run, body):
        metric_widgets = [w["properties"] for w in body["widgets"] if w["type"] == "metric"]

        assert len(metric_widgets) == 3
        assert {p["region"] for p in metric_widgets} == {REGION}
        assert {p["period"] for p in metric_widgets} == {alarm(run, "cpu").inputs["period"]}

    def test_the_url_opens_the_dashboard_in_the_regions_console(self, run):
        assert run.stack_outputs["dashboardName"] == NAME
        assert run.stack_outputs["dashboardUrl"] == (
            f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/{NAME}")


class TestWhatItShows:
    def test_fault_rate_is_the_fault_rate_alarms_own_metric_math(self, run, body):
        shown = {row["id"]: row for row in rows(widget(body, "Fault rate"))}
        queries = alarm(run, "fault-rate").inputs["metricQueries"]

        for query in queries:
            row = shown[query["id"]]
            if "expression" in query:
                assert row["expression"] == query["expression"]
                continue
            metric = query["metric"]
            assert (row["namespace"], row["name"], row["dimensions"], row["stat"]) == (
                metric["namespace"], metric["metricName"], metric["dimensions"], metric["stat"])
            assert metric["period"] == widget(body, "Fault rate")["period"]

    def test_fault_rate_adds_the_load_balancers_own_5xx_on_the_load_balancer_dimension(self, run, body):
        shown = {row["id"]: row for row in rows(widget(body, "Fault rate"))}
        load_balancer = one(run, "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]

        elb = shown["elb_errors"]
        assert (elb["namespace"], elb["name"], elb["dimensions"], elb["stat"]) == (
            "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", {"LoadBalancer": load_balancer}, "Sum")
        expression = shown["all_5xx_rate"]["expression"]
        assert all(query_id in expression for query_id in ("errors", "elb_errors", "requests"))
        assert {row["id"] for row in shown.values() if row.get("visible", True)} == {
            "elb_errors", "fault_rate", "all_5xx_rate"}

    def test_rows_name_this_stacks_load_balancer_target_group_and_auto_scaling_group(self, run, body):
        load_balancer = one(run, "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
        target_group = one(run, "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
        group = one(run, "aws:autoscaling/group:Group").outputs["name"]
        metric_rows = [row for w in body["widgets"] if w["type"] == "metric" for row in rows(w["properties"])
                       if "dimensions" in row]

        for row in metric_rows:
            if row["namespace"] == "AWS/ApplicationELB":
                assert row["dimensions"]["LoadBalancer"] == load_balancer, row
                assert row["dimensions"].get("TargetGroup", target_group) == target_group, row
            else:
                assert row["dimensions"] == {"AutoScalingGroupName": group}, row
        assert {row["name"] for row in metric_rows} == {
            "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount", "TargetResponseTime",
            "CPUUtilization"}

    def test_latency_is_p50_and_p99_in_seconds_as_the_latency_alarms_compare_it(self, run, body):
        properties = widget(body, "Target response time")
        shown = {row["stat"]: row for row in rows(properties)}

        assert set(shown) == {"p50", "p99"}
        for stat in ("p50", "p99"):
            watched = alarm(run, f"latency-{stat}").inputs
            assert (shown[stat]["name"], shown[stat]["dimensions"]) == (watched["metricName"], watched["dimensions"])
            assert watched["extendedStatistic"] == stat
        thresholds = sorted(line["value"] for line in properties["annotations"]["horizontal"])
        assert thresholds == sorted(alarm(run, f"latency-{s}").inputs["threshold"] for s in ("p50", "p99"))
        assert thresholds == [0.3, 1.5], "the alarms' defaults, 300 ms and 1500 ms, in seconds"

    def test_cpu_is_the_auto_scaling_groups_average_with_the_cpu_alarms_threshold(self, run, body):
        properties = widget(body, "Fleet CPU")
        watched = alarm(run, "cpu").inputs
        (row,) = rows(properties)

        assert (row["namespace"], row["name"], row["dimensions"], row["stat"]) == (
            watched["namespace"], watched["metricName"], watched["dimensions"], watched["statistic"])
        assert [line["value"] for line in properties["annotations"]["horizontal"]] == [watched["threshold"]]

    def test_fault_rate_draws_the_fault_rate_alarms_threshold(self, run, body):
        lines = widget(body, "Fault rate")["annotations"]["horizontal"]

        assert [line["value"] for line in lines] == [alarm(run, "fault-rate").inputs["threshold"]]

    def test_the_alarm_widget_lists_every_deployment_alarm_arn_including_the_composite(self, run, body):
        (status,) = [w["properties"] for w in body["widgets"] if w["type"] == "alarm"]
        expected = {r.outputs["arn"] for r in run.of_type(METRIC_ALARM)} | {one(run, COMPOSITE_ALARM).outputs["arn"]}

        assert len(expected) == 5
        assert sorted(status["alarms"]) == sorted(expected)
        assert all(arn.startswith(f"arn:aws:cloudwatch:{REGION}:") for arn in status["alarms"])


@pytest.mark.parametrize("name", ["", "app prod", "app/prod", "a" * 256, "app.prod"])
def test_a_dashboard_name_cloudwatch_refuses_fails_where_the_args_are_built(name):
    context = AwsContext(account_id=None, region=REGION, partition=None)

    with pytest.raises(ValueError, match=r"AppDashboardArgs\.dashboard_name must be 1-255 characters"):
        AppDashboardArgs(context=context, fleet=None, alarms=None, dashboard_name=name)


@pytest.mark.parametrize("name", ["app-prod", "App_Prod-2", "a" * 255])
def test_names_cloudwatch_accepts_pass(name):
    context = AwsContext(account_id=None, region=REGION, partition=None)

    assert AppDashboardArgs(context=context, fleet=None, alarms=None, dashboard_name=name).dashboard_name == name


def _program_composes_the_dashboard(project_root: Path) -> bool:
    return "AppDashboard(" in (project_root / "__main__.py").read_text()


def test_in_the_stacks_the_dashboard_shows_the_fleet_and_the_alarms_of_the_stack(project_root, request):
    """Once __main__.py composes the dashboard: each stack's dashboard names its own fleet and lists its alarms."""
    if not _program_composes_the_dashboard(project_root):
        pytest.skip("__main__.py does not compose AppDashboard yet")
    for stack_run in request.getfixturevalue("runs").values():
        text = one(stack_run, DASHBOARD).inputs["dashboardBody"]
        for reference in (one(stack_run, "aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"],
                          one(stack_run, "aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"],
                          one(stack_run, "aws:autoscaling/group:Group").outputs["name"],
                          one(stack_run, COMPOSITE_ALARM).outputs["arn"],
                          *(r.outputs["arn"] for r in stack_run.of_type(METRIC_ALARM))):
            assert json.dumps(reference) in text, (stack_run.stack, reference)
        url = stack_run.stack_outputs["dashboardUrl"]
        assert url.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/")
