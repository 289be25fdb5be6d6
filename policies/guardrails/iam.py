"""IAM, in every form (managed Policy, RolePolicy/UserPolicy/GroupPolicy, a Role's inline policies): no Allow of
`*` or `service:*` on `*`, no `iam:PassRole` on `*`, and on Resource `*` only the configured actions that AWS
grants on `*` alone (such as ecr:GetAuthorizationToken). Attaching an AWS-managed policy that is as broad
(AdministratorAccess and the like, by policy attachment or a Role's managedPolicyArns) is the same grant, and a
role that any AWS principal may assume (trust Principal * without a Condition) hands its grants to everyone."""

from __future__ import annotations

import fnmatch
import json
import re

from guardrails.aws_types import IAM_INLINE_POLICIES, IAM_POLICY, IAM_POLICY_ATTACHMENTS, IAM_ROLE
from guardrails.framework import Resource, resource_policy
from guardrails.values import UNKNOWN, Findings, as_list, get

PASS_ROLE = "iam:passrole"
AWS_MANAGED_POLICY = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/(?:[^/]+/)*([^/]+)")


def policy_documents(resource: Resource) -> list[tuple[str, object]]:
    if resource.type == IAM_ROLE:
        inline = get(resource.props, "inlinePolicies", default=[])
        if inline is UNKNOWN:
            return [("inlinePolicies", UNKNOWN)]
        return [(f"inline policy '{get(p, 'name', default=i)}'", get(p, "policy")) for i, p in enumerate(inline)]
    return [("policy", get(resource.props, "policy"))]


def policy_statements(document: object) -> list[object]:
    """The statements of a policy given as a JSON string or as an object (Statement may be one or a list)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    if not isinstance(parsed, dict):
        raise ValueError("not a JSON object")
    statements = as_list(parsed.get("Statement"))
    return [UNKNOWN] if statements is UNKNOWN else statements


def _too_broad(action: str, allowed_on_any: list[str]) -> str | None:
    lowered = action.lower()
    if lowered == "*" or lowered.endswith(":*"):
        return f"{action} on *"
    if fnmatch.fnmatchcase(PASS_ROLE, lowered):
        return f"{action} on * (lets the holder pass any role, including admin roles)"
    if not any(lowered == allowed.lower() for allowed in allowed_on_any):
        return f"{action} on * (scope it to ARNs; only {', '.join(allowed_on_any) or 'no actions'} may use *)"
    return None


def _judge_statement(statement: dict, allowed_on_any: list[str], findings: Findings, where: str) -> list[str]:
    """What this statement allows that it should not; unknown parts are recorded in `findings`, not judged."""
    effect = statement.get("Effect")
    if not findings.known(effect, f"{where}.Effect") or effect != "Allow":
        return []
    if "NotAction" in statement or "NotResource" in statement:
        return ["everything it does not list (Allow with NotAction/NotResource); list the actions and resources"]
    resources = as_list(statement.get("Resource"))
    if not findings.known(resources, f"{where}.Resource"):
        return []
    if any(resource is UNKNOWN for resource in resources):
        findings.unknown(f"{where}.Resource")
    if "*" not in resources:
        return []
    actions = as_list(statement.get("Action"))
    if not findings.known(actions, f"{where}.Action"):
        return []
    problems = []
    for action in actions:
        if findings.known(action, f"{where}.Action"):
            problems.append(_too_broad(str(action), allowed_on_any))
    return [problem for problem in problems if problem]


def _attached_policy_arns(resource: Resource) -> tuple[str, object]:
    if resource.type == IAM_ROLE:
        return "managedPolicyArns", as_list(get(resource.props, "managedPolicyArns"))
    if resource.type in IAM_POLICY_ATTACHMENTS:
        return "policyArn", as_list(get(resource.props, "policyArn"))
    return "", []


def _check_attachments(resource: Resource, forbidden: set[str], findings: Findings) -> None:
    where, arns = _attached_policy_arns(resource)
    if not findings.known(arns, where):
        return
    for arn in arns:
        match = AWS_MANAGED_POLICY.fullmatch(arn) if findings.known(arn, where) and isinstance(arn, str) else None
        if match and match.group(1) in forbidden:
            findings.violation(f"{resource.type.split(':')[-1]} '{resource.name}' attaches the AWS-managed policy "
                               f"{match.group(1)} ({where}), which is as broad as * on *; attach a scoped policy")


def _check_trust(role: Resource, findings: Findings) -> None:
    """A role's trust policy must not let any AWS principal assume it without a Condition."""
    document = get(role.props, "assumeRolePolicy")
    if not findings.known(document, "assumeRolePolicy") or document is None:
        return
    try:
        statements = policy_statements(document)
    except (ValueError, TypeError):
        findings.violation(f"Role '{role.name}' assumeRolePolicy is not a JSON policy")
        return
    for index, statement in enumerate(statements):
        where = f"assumeRolePolicy statement #{index}"
        if not findings.known(statement, where) or not isinstance(statement, dict):
            continue
        effect, principal, condition = (statement.get(key) for key in ("Effect", "Principal", "Condition"))
        if not findings.known(effect, f"{where}.Effect") or effect != "Allow":
            continue
        principals = as_list(get(principal, "AWS") if isinstance(principal, dict) else principal)
        if not findings.known(principals, f"{where}.Principal") or not findings.known(condition, f"{where}.Condition"):
            continue
        if "*" in principals and not condition:
            findings.violation(f"Role '{role.name}' {where} lets any AWS principal assume it (Principal *); name the "
                               "service or account, or add a Condition")


def check_no_wildcards(resource: Resource, config: dict, findings: Findings) -> None:
    allowed_on_any = list(config["actionsAllowedOnAnyResource"])
    _check_attachments(resource, set(config["forbiddenManagedPolicies"]), findings)
    if resource.type == IAM_ROLE:
        _check_trust(resource, findings)
    for where, document in policy_documents(resource):
        if not findings.known(document, where) or document is None:
            continue
        try:
            statements = policy_statements(document)
        except (ValueError, TypeError):
            findings.violation(f"{resource.type.split(':')[-1]} '{resource.name}' {where} is not a JSON policy")
            continue
        for index, statement in enumerate(statements):
            if not findings.known(statement, f"{where} statement #{index}") or not isinstance(statement, dict):
                continue
            label = statement.get("Sid") if isinstance(statement.get("Sid"), str) else f"#{index}"
            for problem in _judge_statement(statement, allowed_on_any, findings, f"{where} statement {label}"):
                findings.violation(f"{resource.type.split(':')[-1]} '{resource.name}' {where} statement {label} "
                                   f"allows {problem}")


POLICIES = [
    resource_policy(
        "iam-least-privilege",
        "IAM policies never allow * or service:* on *, nor iam:PassRole on *; Resource * only for the actions AWS "
        "grants on * alone; no admin-like AWS-managed policy attached; no role anyone may assume.",
        sorted({IAM_POLICY, IAM_ROLE, *IAM_INLINE_POLICIES, *IAM_POLICY_ATTACHMENTS}),
        check_no_wildcards,
        {
            "actionsAllowedOnAnyResource": {
                "type": "array",
                "items": {"type": "string"},
                "default": [
                    "ecr:GetAuthorizationToken",
                    "cloudwatch:PutMetricData",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",
                    "ec2:DescribeTags",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "tag:GetResources",
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLifecycleHooks",
                    "autoscaling:DescribeNotificationConfigurations",
                    "autoscaling:DescribePolicies",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeScheduledActions",
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    # Composite alarms are returned only to callers allowed it on * (the DescribeAlarms reference).
                    "cloudwatch:DescribeAlarms",
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "ssm:DescribeParameters",
                    "sts:GetCallerIdentity",
                ],
                "description": "Actions that AWS only grants on Resource * (no resource-level permissions), or "
                "that AWS documents as needing * to work fully.",
            },
            "forbiddenManagedPolicies": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["AdministratorAccess", "PowerUserAccess", "IAMFullAccess"],
                "description": "AWS-managed policies (by name) that must not be attached: they grant * or "
                "service:* on *.",
            },
        },
    ),
]
