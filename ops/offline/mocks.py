"""What the mock runtime answers: for each new resource a physical id and the outputs a real create would return
(for the attributes the program reads, in AWS's ARN and id formats), and for each provider function call (invoke)
what AWS would. Deterministic: the same name always gets the same id, so runs can be compared.

Plain functions of plain values; run.py binds them to the SDK's mock runtime."""

from __future__ import annotations

import hashlib

from ops.offline.model import PROVIDER_TYPE_PREFIX

ACCOUNT_ID = "123456789012"


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:7]


STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


def upstream_outputs(region: str) -> dict:
    """What a stack that builds exports for the stacks promoted from it, as its own offline run exports them (the
    same deterministic names; tests/components/test_promotion.py compares the two), so that an offline run of a
    promoted stack needs no state backend."""
    _, bucket = resource_outputs("aws:s3/bucket:Bucket", "releases-bucket", {}, region)
    _, repository = resource_outputs("aws:ecr/repository:Repository", "registry-repo", {}, region)
    return {"region": region, "accountId": ACCOUNT_ID, "promoteToAccounts": [],
            "releaseBucket": bucket["bucket"], "releaseBucketArn": bucket["arn"],
            "repositoryArn": repository["arn"], "repositoryUrl": repository["repositoryUrl"]}


def resource_outputs(type_: str, name: str, inputs: dict, region: str) -> tuple[str, dict]:
    """A physical id and the outputs a real create would return, for the attributes the program reads."""
    if type_.startswith(PROVIDER_TYPE_PREFIX):
        return f"{name}-provider-id", dict(inputs)
    if type_ == STACK_REFERENCE_TYPE:  # a read of another stack: its outputs
        return inputs["name"], {"name": inputs["name"], "outputs": upstream_outputs(region),
                                "secretOutputNames": []}
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


def call_result(token: str, args: dict, region: str) -> dict:
    """What a provider function (invoke) returns; a call without a mock here fails the run, naming the call."""
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
