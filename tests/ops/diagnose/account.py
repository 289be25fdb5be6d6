"""The AWS account the diagnose tests run against: moto server for what moto implements (the pipeline declaration,
CodeDeploy applications and groups, CloudWatch alarms, CloudWatch Logs), botocore's Stubber for what it does not
(failed executions and their action executions, builds, deployments and their targets, alarm history,
connections). Stubbed responses are checked against the service models; every queued response must be used."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta

import boto3
from botocore.stub import Stubber

from ops.aws import client
from ops.diagnose.collect import Aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
PIPELINE = "app-prod"
APPLICATION = "app-prod"
GROUP = "app-prod-fleet"
BUILD_PROJECT = "app-prod-build"
BUILD_LOG_GROUP = "/aws/codebuild/app-prod"
CONNECTION_ARN = f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/7d2f0a1e-1111-2222-3333-444455556666"
COMPOSITE_ALARM = "app-prod-deploy-health"
METRIC_ALARMS = ["app-prod-5xx", "app-prod-latency-p99", "app-prod-cpu"]

# Operations moto does not implement (or cannot put in a failed state): these are answered by the Stubber.
STUBBED = {
    "codepipeline": {"ListPipelineExecutions", "ListActionExecutions", "GetPipelineState"},
    "codebuild": {"BatchGetBuilds"},
    # moto's GetDeploymentGroup drops alarmConfiguration, and it cannot fail a deployment
    "codedeploy": {"GetDeployment", "ListDeploymentTargets", "BatchGetDeploymentTargets", "GetDeploymentGroup"},
    "cloudwatch": {"DescribeAlarms", "DescribeAlarmHistory"},  # moto has no composite alarms
    "codeconnections": {"GetConnection"},
    "logs": set(),
}


class PartialStubber(Stubber):
    """A Stubber that answers only `operations` and lets every other call through to moto."""

    def __init__(self, aws_client, operations: set[str]):
        super().__init__(aws_client)
        self.operations = operations

    def _assert_expected_params(self, model, params, context, **kwargs):
        if model.name in self.operations:
            return super()._assert_expected_params(model, params, context, **kwargs)
        return None

    def _get_response_handler(self, model, params, context, **kwargs):
        if model.name in self.operations:
            return super()._get_response_handler(model, params, context, **kwargs)
        return None


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for the whole run: it caches the service models, so each test's clients are cheap to make
    (the environment it reads, the moto endpoint and fake credentials, is the same in every test)."""
    return boto3.session.Session()


class Clients(dict):
    """service -> client through ops.aws.client (standard retries), each with an active PartialStubber."""

    def __init__(self):
        super().__init__()
        self.stubbers: dict[str, PartialStubber] = {}

    def __missing__(self, service: str):
        created = self[service] = client(service, shared_session())
        self.stubbers[service] = PartialStubber(created, set(STUBBED.get(service, ())))
        self.stubbers[service].activate()
        return created


class Stubbers:
    def __init__(self, clients: Clients):
        self.clients = clients

    def __getitem__(self, service: str) -> PartialStubber:
        self.clients[service]  # creates the client and its stubber on first use
        return self.clients.stubbers[service]

    def values(self):
        return self.clients.stubbers.values()


class Account:
    """The clients diagnose will use, their stubbers, and helpers that build the moto side of the account."""

    def __init__(self):
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.clients = Clients()
        self.stub = Stubbers(self.clients)
        self.pipeline_created = False
        self.aws = Aws(factory=lambda service: self.clients[service])

    def ago(self, minutes: float) -> datetime:
        return self.now - timedelta(minutes=minutes)

    def create_pipeline(self, approval: bool = True) -> None:
        if self.pipeline_created:
            return
        self.pipeline_created = True
        iam = self.clients["iam"]
        role = iam.create_role(
            RoleName="pipeline-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]}),
        )["Role"]
        self.clients["codepipeline"].create_pipeline(pipeline=pipeline_declaration(role["Arn"], approval))

    def write_build_log(self, stream: str, lines: list[str]) -> None:
        logs = self.clients["logs"]
        logs.create_log_group(logGroupName=BUILD_LOG_GROUP)
        logs.create_log_stream(logGroupName=BUILD_LOG_GROUP, logStreamName=stream)
        start = int(self.ago(5).timestamp() * 1000)
        logs.put_log_events(
            logGroupName=BUILD_LOG_GROUP, logStreamName=stream,
            logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(lines)],
        )

    def assert_all_stubs_used(self) -> None:
        for stubber in self.stub.values():
            stubber.assert_no_pending_responses()


def pipeline_declaration(role_arn: str, approval: bool) -> dict:
    """The shape the program builds; diagnose reads it but must not rely on its names."""
    stages = [
        {"name": "Source", "actions": [{
            "name": "Source", "runOrder": 1,
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection",
                             "version": "1"},
            "configuration": {"ConnectionArn": CONNECTION_ARN, "FullRepositoryId": "acme/app", "BranchName": "main"},
            "outputArtifacts": [{"name": "source"}],
        }]},
        {"name": "Build", "actions": [{
            "name": "Build", "runOrder": 1,
            "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "configuration": {"ProjectName": BUILD_PROJECT},
            "inputArtifacts": [{"name": "source"}], "outputArtifacts": [{"name": "bundle"}],
        }]},
    ]
    if approval:
        stages.append({"name": "Approval", "actions": [{
            "name": "Approve", "runOrder": 1,
            "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        }]})
    stages.append({
        "name": "Deploy",
        "actions": [{
            "name": "Deploy", "runOrder": 1,
            "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"},
            "configuration": {"ApplicationName": APPLICATION, "DeploymentGroupName": GROUP},
            "inputArtifacts": [{"name": "bundle"}],
        }],
        "onFailure": {"result": "ROLLBACK"},
        "onSuccess": {"conditions": [{"result": "FAIL", "rules": [{
            "name": "bake", "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": "CloudWatchAlarm",
                                           "version": "1"},
            "configuration": {"AlarmName": COMPOSITE_ALARM, "WaitTime": "10"},
        }]}]},
    })
    return {
        "name": PIPELINE, "roleArn": role_arn, "pipelineType": "V2", "executionMode": "QUEUED",
        "artifactStore": {"type": "S3", "location": "app-prod-artifacts"},
        "stages": stages,
    }
