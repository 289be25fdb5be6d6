"""Change guardrails: keep each change small and backwards compatible by comparing the planned stack with the
deployed one (a `pulumi stack export` file, config key `baseline`). Without a baseline they report themselves not
applicable, with the reason."""

from __future__ import annotations

from pulumi_policy import StackValidationArgs

from guardrails import baseline as baselines
from guardrails.aws_types import ECR_REPOSITORY, KMS_KEY, LB_LISTENERS, LB_TARGET_GROUPS, LOG_GROUP, S3_BUCKETS, STACK
from guardrails.framework import stack_of, stack_policy, stack_resources
from guardrails.values import UNKNOWN, Findings, get

BASELINE_SCHEMA = {
    "baseline": {
        "type": "string",
        "description": "Path to a `pulumi stack export` file of the deployed stack (absolute, or relative to the "
        "policy pack directory).",
    }
}

# Modelled on OPA's Terraform blast-radius example: deletes weigh most, an autoscaling group's deletion most of all.
DEFAULT_WEIGHTS = {"create": 1, "update": 1, "delete": 10}
DEFAULT_TYPE_WEIGHTS = {
    "aws:autoscaling/group:Group": {"create": 10, "update": 1, "delete": 100},
    "aws:lb/loadBalancer:LoadBalancer": {"create": 10, "update": 1, "delete": 100},
    ECR_REPOSITORY: {"create": 1, "update": 1, "delete": 100},
    "aws:s3/bucket:Bucket": {"create": 1, "update": 1, "delete": 100},
}
STATEFUL_TYPES = sorted({ECR_REPOSITORY, *S3_BUCKETS, LOG_GROUP, KMS_KEY})


def _load_baseline(args: StackValidationArgs, config: dict, findings: Findings):
    path = config.get("baseline")
    if not path:
        args.not_applicable("no baseline configured (set `baseline` to a `pulumi stack export` file)")
    try:
        return baselines.load(path)
    except baselines.BaselineError as error:
        findings.violation(str(error))
        return None


def check_change_budget(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    baseline = _load_baseline(args, config, findings)
    if baseline is None:
        return
    weights = {**DEFAULT_WEIGHTS, **config.get("weights", {})}
    type_weights = {**DEFAULT_TYPE_WEIGHTS, **config.get("typeWeights", {})}
    budget = float(config["budget"])
    scored = []
    for change in baselines.diff(stack_resources(args), baseline):
        weight = float({**weights, **type_weights.get(change.type, {})}[change.kind])
        scored.append((weight, change))
    total = sum(weight for weight, _ in scored)
    if total <= budget:
        return
    scored.sort(key=lambda item: (-item[0], item[1].urn))
    top = ", ".join(f"{c.kind} {c.type.split(':')[-1]} '{c.name}' ({w:g})" for w, c in scored[: int(config["listTop"])])
    counts = {kind: sum(1 for _, c in scored if c.kind == kind) for kind in ("create", "update", "delete")}
    findings.violation(
        f"change score {total:g} exceeds the budget {budget:g} ({counts['create']} creates, {counts['update']} "
        f"updates, {counts['delete']} deletes); biggest contributors: {top}. Split the change into smaller ones."
    )


def check_no_stateful_deletion(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    baseline = _load_baseline(args, config, findings)
    if baseline is None:
        return
    types = set(config["statefulTypes"])
    stack = stack_of(args)
    matched = baselines.match(stack.resources, baseline)
    for old in baseline.of_types(types):
        if old.urn in matched:
            continue
        candidates = sorted(r.name for r in stack.of_types({old.type}) if r.urn not in baseline.resources)
        hint = (f"; if it was renamed (new {old.type.split(':')[-1]}: {', '.join(candidates)}), give the new one "
                f"aliases=[pulumi.Alias(name='{old.name}')] so it moves instead" if candidates else "")
        findings.violation(f"{old.type} '{old.name}' is in the deployed stack but not in the plan, so it would be "
                           f"deleted with its data{hint}")


def check_outputs_kept(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    baseline = _load_baseline(args, config, findings)
    if baseline is None:
        return
    if baseline.stack_outputs is None:
        args.not_applicable("the baseline has no root stack resource, so it lists no outputs")
    root = next((r for r in stack_resources(args, {STACK})), None)
    if root is None:
        findings.unknown("the plan has no root stack resource")
        return
    removed = sorted(set(baseline.stack_outputs) - set(root.props) - set(config["allowRemoved"]))
    if removed:
        findings.violation(f"stack outputs {', '.join(removed)} are exported now but not by the plan; other stacks "
                           "and tools read them, so keep exporting them (or list them in allowRemoved)")


def _contract(props: dict, kind: str) -> dict:
    fields = {"port": get(props, "port"), "protocol": get(props, "protocol")}
    if kind == "targetGroup":
        fields["healthCheck.path"] = get(props, "healthCheck", "path")
    return fields


def check_public_contract(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    baseline = _load_baseline(args, config, findings)
    if baseline is None:
        return
    if config["allowContractChange"]:
        args.not_applicable("allowContractChange is set for this change")
    plan = stack_resources(args, LB_LISTENERS | LB_TARGET_GROUPS)
    matched = baselines.match(plan, baseline)
    for old in baseline.of_types(LB_LISTENERS | LB_TARGET_GROUPS):
        kind = "listener" if old.type in LB_LISTENERS else "targetGroup"
        planned = matched.get(old.urn)
        if planned is None:
            findings.violation(f"{kind} '{old.name}' is deployed but not in the plan; removing it changes the public "
                               "contract")
            continue
        before, after = _contract({**old.inputs, **old.outputs}, kind), _contract(planned.props, kind)
        for field, value in after.items():
            if value is UNKNOWN:
                findings.unknown(f"{planned.name}.{field}")
            elif before[field] is not None and value != before[field]:
                findings.violation(f"{kind} '{planned.name}' changes {field} from {before[field]} to {value}; "
                                   "clients and health checks depend on it (set allowContractChange to accept)")


POLICIES = [
    stack_policy(
        "change-budget",
        "A change stays within a weighted budget of creates, updates and deletes against the deployed stack.",
        check_change_budget,
        {
            **BASELINE_SCHEMA,
            "budget": {"type": "number", "minimum": 0, "default": 30},
            "weights": {"type": "object", "description": "create/update/delete weights for every type."},
            "typeWeights": {"type": "object", "description": "Per type token: create/update/delete weights."},
            "listTop": {"type": "integer", "minimum": 1, "default": 5},
        },
    ),
    stack_policy(
        "no-stateful-deletion",
        "Stateful resources in the deployed stack (ECR repositories, S3 buckets, log groups, KMS keys) stay in the "
        "plan; a rename needs an alias.",
        check_no_stateful_deletion,
        {
            **BASELINE_SCHEMA,
            "statefulTypes": {"type": "array", "items": {"type": "string"}, "default": STATEFUL_TYPES},
        },
    ),
    stack_policy(
        "outputs-kept",
        "Every stack output of the deployed stack is still exported.",
        check_outputs_kept,
        {**BASELINE_SCHEMA, "allowRemoved": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    stack_policy(
        "public-contract-kept",
        "ALB listener port/protocol and target group port/protocol/health-check path stay as deployed.",
        check_public_contract,
        {**BASELINE_SCHEMA, "allowContractChange": {"type": "boolean", "default": False}},
    ),
]
