"""Run the Pulumi program offline, on the Pulumi SDK's mock runtime, with a stack's real config.

This is an offline preview: no engine, no provider plugin, no cloud. Every resource registration is captured
as the engine would receive it (type, name, parent, options such as `protect`, dependencies, and the
camelCase inputs), with plausible outputs so that the program's `apply` chains run. `ops check` feeds the
result to the policy pack; the tests read it as a specification of what `pulumi up` would create.

The program runs in a fresh child process (the SDK keeps global runtime state): `python -m ops.mockrun -s dev`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import runpy
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ops.errors import OpsError

ACCOUNT_ID = "123456789012"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str = ""
    custom: bool = True
    protect: bool = False
    provider: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class MockRun:
    project: str
    stack: str
    resources: list[Registration]
    stack_outputs: dict[str, Any]
    evaluation_seconds: float = 0.0
    """Imports plus registration, inside the child process (interpreter start-up excluded)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> MockRun:
        data = json.loads(text)
        return cls(project=data["project"], stack=data["stack"], stack_outputs=data["stack_outputs"],
                   resources=[Registration(**r) for r in data["resources"]],
                   evaluation_seconds=data.get("evaluation_seconds", 0.0))

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.resources}


# ---------------------------------------------------------------------------------------------- config


def project_name(project_dir: Path) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The stack file's config as the engine hands it to the program: namespaced keys, string values
    (structured values as JSON). Encrypted values cannot be read offline and are refused."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise OpsError(f"no stack file {path.name} in {project_dir}")
    project = project_name(project_dir)
    document = yaml.safe_load(path.read_text()) or {}
    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and "secure" in value:
            raise OpsError(f"config `{full_key}` in {path.name} is encrypted; an offline run cannot decrypt it")
        if isinstance(value, str):
            config[full_key] = value
        elif isinstance(value, bool):
            config[full_key] = "true" if value else "false"
        else:
            config[full_key] = json.dumps(value)
    return config


# ---------------------------------------------------------------------------------------------- mocks


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


def _mock_outputs(type_: str, name: str, inputs: dict, region: str) -> tuple[str, dict]:
    """A physical id and the outputs a real create would return, for the attributes the program reads."""
    physical = f"{name}-{_suffix(name)}"
    service = type_.split(":")[1].split("/")[0]
    out = dict(inputs)
    arn = f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{physical}"
    resource_id = physical
    if type_ == "aws:ecr/repository:Repository":
        out["name"] = inputs.get("name") or physical
        out["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{out['name']}"
        arn = f"arn:aws:ecr:{region}:{ACCOUNT_ID}:repository/{out['name']}"
        resource_id = out["name"]
    elif type_ == "aws:s3/bucket:Bucket":
        out["bucket"] = inputs.get("bucket") or physical
        arn = f"arn:aws:s3:::{out['bucket']}"
        resource_id = out["bucket"]
    elif type_ == "aws:iam/role:Role":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{out['name']}"
        resource_id = out["name"]
    elif type_ == "aws:iam/instanceProfile:InstanceProfile":
        arn = f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{physical}"
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{out['name']}"
    elif type_ == "aws:lb/loadBalancer:LoadBalancer":
        out["arnSuffix"] = f"app/{physical[:32]}/0123456789abcdef"
        out["dnsName"] = f"{physical}-123456789.{region}.elb.amazonaws.com"
        arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{out['arnSuffix']}"
    elif type_ == "aws:lb/targetGroup:TargetGroup":
        out["name"] = inputs.get("name") or physical[:32]
        out["arnSuffix"] = f"targetgroup/{out['name']}/0123456789abcdef"
        arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:{out['arnSuffix']}"
    elif type_ == "aws:ec2/launchTemplate:LaunchTemplate":
        resource_id = "lt-0123456789abcdef0"
        out["latestVersion"] = 1
        arn = f"arn:aws:ec2:{region}:{ACCOUNT_ID}:launch-template/{resource_id}"
    elif type_ == "aws:codebuild/project:Project":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:project/{out['name']}"
    elif type_ == "aws:sns/topic:Topic":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:sns:{region}:{ACCOUNT_ID}:{out['name']}"
        resource_id = arn  # a topic's id is its ARN
    elif type_ == "aws:codepipeline/pipeline:Pipeline":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:codepipeline:{region}:{ACCOUNT_ID}:{out['name']}"
    elif type_ == "aws:autoscaling/group:Group":
        out["name"] = inputs.get("name") or physical
        arn = (f"arn:aws:autoscaling:{region}:{ACCOUNT_ID}:autoScalingGroup:0123abcd-45ef-6789-abcd-0123456789ab:"
               f"autoScalingGroupName/{out['name']}")
    elif type_ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{out['name']}"
    elif type_ == "aws:cloudwatch/compositeAlarm:CompositeAlarm":
        arn = f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{inputs.get('alarmName')}"
    elif type_ == "aws:kms/key:Key":
        resource_id = "0123abcd-45ef-6789-abcd-0123456789ab"
        out["keyId"] = resource_id
        arn = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}"
    elif type_ == "aws:codeconnections/connection:Connection":
        arn = f"arn:aws:codeconnections:{region}:{ACCOUNT_ID}:connection/0123abcd-45ef-6789-abcd-0123456789ab"
        out["connectionStatus"] = "PENDING"
    elif type_ == "aws:codedeploy/deploymentConfig:DeploymentConfig":
        out["deploymentConfigName"] = inputs.get("deploymentConfigName") or physical
        resource_id = out["deploymentConfigName"]
        arn = f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:deploymentconfig:{resource_id}"
    elif type_ == "aws:codedeploy/application:Application":
        out["name"] = inputs.get("name") or physical
        arn = f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:application:{out['name']}"
    elif type_ == "aws:codedeploy/deploymentGroup:DeploymentGroup":
        arn = (f"arn:aws:codedeploy:{region}:{ACCOUNT_ID}:deploymentgroup:{inputs.get('appName')}/"
               f"{inputs.get('deploymentGroupName')}")
    elif type_.startswith("aws:") and "name" not in out:
        out["name"] = physical
    if type_.startswith("aws:ec2/") and type_ != "aws:ec2/launchTemplate:LaunchTemplate":
        prefix = {"Vpc": "vpc", "Subnet": "subnet", "SecurityGroup": "sg", "InternetGateway": "igw",
                  "RouteTable": "rtb", "DefaultSecurityGroup": "sg"}.get(type_.rsplit(":", 1)[1])
        if prefix:
            resource_id = f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:17]}"
    out.setdefault("arn", arn)
    out["id"] = resource_id
    return resource_id, out


def _mock_call(token: str, args: dict, region: str) -> dict:
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline", "userId": "OFFLINE",
                "id": ACCOUNT_ID}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{region}{z}" for z in "abc"]
        return {"names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 3)], "id": region}
    if token == "aws:ssm/getParameter:getParameter":
        return {"name": args.get("name"), "value": "ami-0123456789abcdef0", "type": "String",
                "insecureValue": "ami-0123456789abcdef0", "arn": f"arn:aws:ssm:{region}::parameter{args.get('name')}",
                "version": 1, "id": args.get("name")}
    raise NotImplementedError(f"the offline run has no mock for the call {token}")


# ---------------------------------------------------------------------------------------------- the child run


def _run_here(project_dir: Path, stack: str) -> MockRun:
    """Runs the program in this process. Only call in a fresh process: the SDK's runtime state is global."""
    started = time.perf_counter()
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    config = stack_config(project_dir, stack)
    region = config.get("aws:region", "us-east-1")
    project = project_name(project_dir)
    os.environ["PULUMI_CONFIG"] = json.dumps(config)

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            if args.typ.startswith("pulumi:providers:"):
                return f"{args.name}-provider-id", dict(args.inputs)
            return _mock_outputs(args.typ, args.name, args.inputs, region)

        def call(self, args: pulumi.runtime.MockCallArgs):
            return _mock_call(args.token, args.args, region)

    registrations: list[Registration] = []

    class RecordingMonitor(pulumi_mocks.MockMonitor):
        """Sees every registration the engine would, options included."""

        def RegisterResource(self, request):
            response = super().RegisterResource(request)
            _ensure_loop()
            registrations.append(Registration(
                urn=response.urn, type=request.type, name=request.name, parent=request.parent,
                custom=request.custom, protect=bool(request.protect), provider=request.provider,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                aliases=list(request.aliasURNs), delete_before_replace=request.deleteBeforeReplace,
                ignore_changes=list(request.ignoreChanges), retain_on_delete=request.retainOnDelete,
                additional_secret_outputs=list(request.additionalSecretOutputs), id=response.id,
                inputs=_plain(pulumi.runtime.rpc.deserialize_properties(request.object)),
                outputs=_plain(pulumi.runtime.rpc.deserialize_properties(response.object)),
            ))
            return response

    def _ensure_loop():
        pulumi_mocks._ensure_event_loop()

    pulumi.runtime.set_mocks(Mocks(), project=project, stack=stack, preview=False,
                             monitor=RecordingMonitor(Mocks()))
    root = pulumi.runtime.get_root_resource()  # set_mocks registered the root stack: registrations[0]
    sys.path.insert(0, str(project_dir))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")))
        outputs = {key: _sync_await(pulumi.Output.from_input(value).future()) for key, value in root.outputs.items()}
    finally:
        os.chdir(cwd)
    stack_outputs = _plain(outputs)
    registrations[0].outputs = stack_outputs
    return MockRun(project=project, stack=stack, resources=registrations, stack_outputs=stack_outputs,
                   evaluation_seconds=round(time.perf_counter() - started, 3))


def _plain(value: Any) -> Any:
    """Deserialized properties may hold SDK sentinels (unknowns, secrets); keep plain JSON values."""
    if isinstance(value, dict):
        if value.get("4dabf18193072939515e22adb298388d") == "1b47061264138c4ac30d75fd1eb44270":
            return _plain(value.get("value"))
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ---------------------------------------------------------------------------------------------- the parent side


def run_program(stack: str, project_dir: Path = PROJECT_ROOT, timeout: float = 120) -> MockRun:
    """Runs the program for STACK in a fresh Python process; raises OpsError with the program's own message
    when it fails (a config mistake prints one sentence, like `pulumi up` would)."""
    command = [sys.executable, "-m", "ops.mockrun", "--stack", stack, "--project-dir", str(project_dir)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OpsError(f"the offline run of stack {stack} did not finish within {timeout:g}s") from None
    if result.returncode != 0:
        raise OpsError(_failure_message(stack, result))
    return MockRun.from_json(result.stdout)


def _failure_message(stack: str, result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    for line in lines:
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    detail = lines[-1] if lines else f"exit code {result.returncode}"
    return f"the offline run of stack {stack} failed: {detail}"



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.mockrun", description=__doc__.splitlines()[0])
    parser.add_argument("-s", "--stack", required=True)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT)
    args = parser.parse_args(argv)
    import pulumi

    try:
        run = _run_here(args.project_dir.resolve(), args.stack)
    except (OpsError, pulumi.RunError) as error:  # expected: a config mistake says what to fix
        print(f"error: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(run.to_json())
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's event loop complains noisily when collected at exit.
    os._exit(code)
