"""Benchmark: `ops diagnose` on a busy account (targets: a verdict in <= 1 s with <= 25 AWS calls, and neither
growing with the length of the pipeline's history).

The account is stubbed in process: every client's `before-call` event is answered from an in-memory model of
an account with a long pipeline history (by default 200 and 20,000 executions, the last success three quarters of
the way back) and a fleet of 50 instances. diagnose reads the newest page and asks CodePipeline for the last
success by filter, so its calls and time must be the same at both history lengths: the benchmark shows that.
Answers are computed from the request (paging, filters, ids) and checked against the botocore output shapes,
as botocore's Stubber checks them; nothing reaches the network. The same hook counts the calls per operation.

Scenarios: a deployment whose ValidateService hook failed on all 50 instances while all four alarms changed
state inside the window (the read-heaviest case), and a failed build (phase, log tail).
Each run makes fresh clients (a new boto3 session), as a new `python -m ops diagnose` process would. The floor, in
the same run, replays exactly the calls diagnose made (same operations, same parameters, same stubbed answers)
through fresh clients with no diagnose logic: the ratio is what diagnose's own reading and judging costs.

Run: python benchmarks/diagnose_scale.py [--histories 200 20000] [--instances 50] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from ops.aws import client
from ops.diagnose import Aws
from ops.diagnose.classify import diagnose
from ops.diagnose.collect import Handles, collect

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PIPELINE = "app-prod"
ALARMS = ["app-prod-5xx", "app-prod-latency-p99", "app-prod-cpu"]
COMPOSITE = "app-prod-deploy-health"
TARGET_PAGE = 25  # ListDeploymentTargets page size assumed here (AWS does not document it): pessimistic


class FakeAccount:
    """An account's answers, by operation name, computed from the request parameters."""

    def __init__(self, executions: int, instances: int, failing: str, last_success_back: int):
        self.instances = instances
        self.failing = failing
        self.executions = [self._execution(n, last_success_back) for n in range(executions)]  # newest first
        self.calls: Counter = Counter()
        self.replay: list[tuple[str, str, dict]] = []  # (service, operation, params) in call order
        self.validator = ParamValidator()

    def _execution(self, n: int, last_success_back: int) -> dict:
        status = "Succeeded" if n >= last_success_back else ("Failed" if n % 3 else "Superseded")
        started = NOW - timedelta(minutes=20 + 30 * n)
        return {
            "pipelineExecutionId": f"exec-{n:04d}", "status": status, "startTime": started,
            "lastUpdateTime": started + timedelta(minutes=18), "executionType": "STANDARD",
            "trigger": {"triggerType": "WebhookV2"},
            "sourceRevisions": [{"actionName": "Source", "revisionId": f"{n:040x}",
                                 "revisionSummary": json.dumps({"ProviderType": "GitHub", "CommitMessage": f"c{n}"})}],
        }

    # CodePipeline
    def GetPipeline(self, p):  # named after the operation it answers
        def stage(name, category, provider, extra=None):
            action = {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider,
                                                     "version": "1"}}
            return {"name": name, "actions": [action], **(extra or {})}
        fail = {"onFailure": {"result": "FAIL"}}  # CodeDeploy owns the rollback; the stage only fails
        return {"pipeline": {"name": p["name"], "roleArn": "arn:aws:iam::123456789012:role/p", "stages": [
            stage("Source", "Source", "CodeStarSourceConnection"), stage("Build", "Build", "CodeBuild"),
            stage("Approval", "Approval", "Manual"), stage("Deploy", "Deploy", "CodeDeploy", fail)]}}

    def ListPipelineExecutions(self, p):
        pool = self.executions
        if "filter" in p:
            pool = [e for e in pool if e["status"] == "Succeeded"]
        start = int(p.get("nextToken", 0))
        end = start + p.get("maxResults", 100)
        page = {"pipelineExecutionSummaries": pool[start:end]}
        if end < len(pool):
            page["nextToken"] = str(end)
        return page

    def ListActionExecutions(self, p):
        execution_id = p["filter"]["pipelineExecutionId"]
        latest = execution_id == self.executions[0]["pipelineExecutionId"]
        started = NOW - timedelta(minutes=20)

        def detail(stage, category, provider, status="Succeeded", result=None, variables=None):
            return {"pipelineExecutionId": execution_id, "actionExecutionId": f"{execution_id}-{stage}",
                    "stageName": stage, "actionName": stage, "status": status, "startTime": started,
                    "lastUpdateTime": started, "input": {"actionTypeId": {
                        "category": category, "owner": "AWS", "provider": provider, "version": "1"},
                        "configuration": {"ApplicationName": "app-prod", "DeploymentGroupName": "fleet"}},
                    "output": {"executionResult": result or {}, "outputVariables": variables or {}}}
        digest = {"IMAGE_DIGEST": "sha256:" + ("b" if latest else "a") * 64}
        build_failed = latest and self.failing == "build"
        deploy_failed = latest and self.failing == "deploy"
        details = [
            detail("Source", "Source", "CodeStarSourceConnection"),
            detail("Build", "Build", "CodeBuild", "Failed" if build_failed else "Succeeded",
                   {"externalExecutionId": "build:1", **({"errorDetails": {"code": "JobFailed", "message": "x"}}
                                                         if build_failed else {})}, None if build_failed else digest),
        ]
        if not build_failed:
            details += [detail("Approval", "Approval", "Manual"),
                        detail("Deploy", "Deploy", "CodeDeploy", "Failed" if deploy_failed else "Succeeded",
                               {"externalExecutionId": "d-BENCH0001"})]
        return {"actionExecutionDetails": details}

    # CodeBuild and Logs
    def BatchGetBuilds(self, p):
        context = {"statusCode": "COMMAND_EXECUTION_ERROR",
                   "message": "Error while executing command: python -m pytest tests/app -q. Reason: exit status 1"}
        return {"builds": [{"id": p["ids"][0], "buildStatus": "FAILED", "currentPhase": "PRE_BUILD",
                            "phases": [{"phaseType": "PRE_BUILD", "phaseStatus": "FAILED", "contexts": [context]}],
                            "logs": {"groupName": "/aws/codebuild/app", "streamName": "s1"}}]}

    def GetLogEvents(self, p):
        lines = [f"line {n}" for n in range(p["limit"] - 2)] + ["FAILED tests/app/test_api.py::t", "1 failed"]
        return {"events": [{"timestamp": n, "message": line} for n, line in enumerate(lines)]}

    # CodeDeploy
    def GetDeployment(self, p):
        return {"deploymentInfo": {
            "applicationName": "app-prod", "deploymentGroupName": "fleet", "deploymentId": p["deploymentId"],
            "status": "Failed", "createTime": NOW - timedelta(minutes=15), "startTime": NOW - timedelta(minutes=15),
            "completeTime": NOW - timedelta(minutes=2),
            "errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "too many individual instances failed"},
            "deploymentOverview": {"Failed": self.instances},
            "rollbackInfo": {"rollbackDeploymentId": "d-ROLLBACK1", "rollbackMessage": "rolled back"}}}

    def _instance_ids(self):
        return [f"i-{n:017x}" for n in range(self.instances)]

    def ListDeploymentTargets(self, p):
        ids = self._instance_ids()
        start = int(p.get("nextToken", 0))
        page = {"targetIds": ids[start:start + TARGET_PAGE]}
        if start + TARGET_PAGE < len(ids):
            page["nextToken"] = str(start + TARGET_PAGE)
        return page

    def BatchGetDeploymentTargets(self, p):
        if len(p["targetIds"]) > 25:
            raise ValueError("BatchGetDeploymentTargets takes at most 25 ids")
        diagnostics = {"errorCode": "ScriptFailed", "scriptName": "hooks/validate_service.sh",
                       "message": "Script failed with exit code 1",
                       "logTail": "[stderr]/healthz did not return 200 within 120s"}
        return {"deploymentTargets": [{"deploymentTargetType": "InstanceTarget", "instanceTarget": {
            "targetId": target, "status": "Failed", "lifecycleEvents": [
                {"lifecycleEventName": "ApplicationStart", "status": "Succeeded"},
                {"lifecycleEventName": "ValidateService", "status": "Failed", "diagnostics": diagnostics}]}}
            for target in p["targetIds"]]}

    def GetDeploymentGroup(self, p):
        return {"deploymentGroupInfo": {"applicationName": p["applicationName"],
                                        "deploymentGroupName": p["deploymentGroupName"],
                                        "alarmConfiguration": {"enabled": True,
                                                               "alarms": [{"name": n} for n in ALARMS]}}}

    # CloudWatch
    def DescribeAlarms(self, p):
        changed = NOW - timedelta(minutes=6)
        metric = [{"AlarmName": n, "StateValue": "OK", "StateReason": "ok", "StateUpdatedTimestamp": changed}
                  for n in p["AlarmNames"] if n != COMPOSITE]
        composite = [{"AlarmName": COMPOSITE, "AlarmRule": 'ALARM("app-prod-5xx")', "StateValue": "OK",
                      "StateReason": "ok", "StateUpdatedTimestamp": changed}] if COMPOSITE in p["AlarmNames"] else []
        return {"MetricAlarms": metric, "CompositeAlarms": composite}

    def DescribeAlarmHistory(self, p):
        return {"AlarmHistoryItems": [
            {"AlarmName": p["AlarmName"], "Timestamp": NOW - timedelta(minutes=m), "HistoryItemType": "StateUpdate",
             "HistorySummary": f"Alarm updated from {a} to {b}",
             "HistoryData": json.dumps({"newState": {"stateValue": b}})}
            for m, a, b in ((6, "ALARM", "OK"), (9, "OK", "ALARM"))]}

    @staticmethod
    def remember(params, context, **_):
        context["api_params"] = dict(params)  # before-call sees the serialized request; keep the API's params

    def answer(self, model, context, **_):
        self.calls[model.name] += 1
        self.replay.append((model.service_model.service_name, model.name, context["api_params"]))
        response = getattr(self, model.name)(context["api_params"])
        report = self.validator.validate(response, model.output_shape)
        if report.has_errors():
            raise AssertionError(report.generate_report())
        return AWSResponse(None, 200, {}, None), response


def run_once(account: FakeAccount) -> tuple[float, dict]:
    account.calls.clear()
    account.replay.clear()
    started = time.perf_counter()
    session = boto3.session.Session()  # fresh, as in a new process; the product's Aws() shares one the same way
    aws = Aws(factory=lambda service: _wire(client(service, session), account))
    handles = Handles(pipeline=PIPELINE, stack="prod")
    result = diagnose(collect(aws, handles, now=NOW), handles)
    elapsed = time.perf_counter() - started
    return elapsed, {"verdict": result.verdict, "cause": result.cause.name if result.cause else None,
                     "calls": dict(account.calls), "total_calls": sum(account.calls.values())}


def run_floor(account: FakeAccount, calls: list[tuple[str, str, dict]]) -> float:
    """The same calls through fresh clients, nothing else: the cost of botocore and the stub alone."""
    started = time.perf_counter()
    session = boto3.session.Session()
    clients: dict[str, object] = {}
    for service, operation, params in calls:
        if service not in clients:
            clients[service] = _wire(client(service, session), account)
        made = clients[service]
        method = {api: name for name, api in made.meta.method_to_api_mapping.items()}[operation]
        getattr(made, method)(**params)
    return time.perf_counter() - started


def _wire(made, account: FakeAccount):
    made.meta.events.register_first("before-parameter-build.*.*", account.remember)
    made.meta.events.register_first("before-call.*.*", account.answer)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, nargs="+", default=[200, 20_000],
                        help="pipeline history lengths to compare (executions)")
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    failed = False
    for failing in ("deploy", "build"):
        medians, call_counts = [], []
        for history in args.histories:
            account = FakeAccount(history, args.instances, failing, last_success_back=history * 3 // 4)
            times, floors = [], []
            for _ in range(args.repeat):
                elapsed, outcome = run_once(account)
                times.append(elapsed)
                floors.append(run_floor(account, list(account.replay)))
            median, floor = statistics.median(times), statistics.median(floors)
            medians.append(median)
            call_counts.append(outcome["total_calls"])
            ok = max(times) <= 1.0 and outcome["total_calls"] <= 25
            failed |= not ok
            print(f"{failing} failure, {history} executions, {args.instances} instances: {outcome['verdict']}")
            print(f"  cause {outcome['cause']}; AWS calls {outcome['total_calls']} (target <= 25): {outcome['calls']}")
            verdict = "OK" if ok else "MISSED"
            print(f"  time to verdict, fresh clients each run: median {median * 1000:.0f} ms, max "
                  f"{max(times) * 1000:.0f} ms over {args.repeat} runs (target <= 1000 ms) -> {verdict}")
            print(f"  floor (the same calls, no diagnose logic): median {floor * 1000:.0f} ms; "
                  f"ratio x{median / floor:.2f}")
        flat = len(set(call_counts)) == 1
        failed |= not flat
        print(f"  {failing}: history x{args.histories[-1] / args.histories[0]:g} -> calls "
              f"{' / '.join(map(str, call_counts))}, time x{medians[-1] / medians[0]:.2f} "
              f"({'flat' if flat else 'GROWS'})\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
