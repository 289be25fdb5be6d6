"""CodeDeploy: a failing or alarming deployment rolls back by itself, and (in prod) deploys in waves small enough
that most of the fleet keeps serving."""

from __future__ import annotations

from pulumi_policy import StackValidationArgs

from guardrails.aws_types import AUTOSCALING_GROUP, CODEDEPLOY_DEPLOYMENT_CONFIG, CODEDEPLOY_DEPLOYMENT_GROUP
from guardrails.framework import Lookup, Resource, resource_policy, stack_of, stack_policy
from guardrails.values import UNKNOWN, Findings, get

REQUIRED_ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")
DEFAULT_CONFIG = "CodeDeployDefault.OneAtATime"  # what CodeDeploy uses when deploymentConfigName is not set
# Built-in EC2/on-premises configs: minimum healthy share of the fleet (OneAtATime keeps all but one host).
BUILT_IN_HEALTHY_SHARE = {"CodeDeployDefault.AllAtOnce": 0.0, "CodeDeployDefault.HalfAtATime": 0.5}


def check_auto_rollback(group: Resource, config: dict, findings: Findings) -> None:
    rollback = get(group.props, "autoRollbackConfiguration", default={})
    enabled, events = get(rollback, "enabled", default=False), get(rollback, "events", default=[])
    if findings.known(enabled, "autoRollbackConfiguration.enabled") and enabled is not True:
        findings.violation(f"deployment group '{group.name}' does not roll back automatically; enable "
                           "autoRollbackConfiguration")
    if findings.known(events, "autoRollbackConfiguration.events"):
        missing = [event for event in REQUIRED_ROLLBACK_EVENTS if event not in events]
        if missing and UNKNOWN in events:  # the unknown one may be what is missing
            findings.unknown("autoRollbackConfiguration.events[]")
        elif missing:
            findings.violation(f"deployment group '{group.name}' does not roll back on {', '.join(missing)}")


def check_alarm_gate(group: Resource, config: dict, findings: Findings) -> None:
    alarms_config = get(group.props, "alarmConfiguration", default={})
    enabled, alarms = get(alarms_config, "enabled", default=False), get(alarms_config, "alarms", default=[])
    if findings.known(enabled, "alarmConfiguration.enabled") and enabled is not True:
        findings.violation(f"deployment group '{group.name}' does not watch alarms; enable alarmConfiguration")
    if findings.known(alarms, "alarmConfiguration.alarms") and not alarms:
        findings.violation(f"deployment group '{group.name}' has no alarms in alarmConfiguration.alarms")
    ignore = get(alarms_config, "ignorePollAlarmFailure", default=False)
    if findings.known(ignore, "alarmConfiguration.ignorePollAlarmFailure") and ignore is True:
        findings.violation(f"deployment group '{group.name}' ignores alarm poll failures (ignorePollAlarmFailure)")


def _known_values(value: object) -> list:
    return [] if value is UNKNOWN else [value]


class _Links:
    """Resources of one kind that a deployment group refers to through a property: by property dependency (works
    with unknown names), else by the value of their `name_key` property. Both are indexed."""

    def __init__(self, candidates: list[Resource], name_key: str):
        self._by_urn = Lookup(candidates, lambda r: [r.urn])
        self._by_name = Lookup(candidates, lambda r: _known_values(get(r.props, name_key)))

    def of(self, group: Resource, prop: str) -> list[Resource]:
        found = self._by_urn.find(group.property_dependencies.get(prop, []))
        if found:
            return found
        names = get(group.props, prop, default=[])
        return self._by_name.find(names if isinstance(names, list) else [names])


def _fleet_size(group: Resource, asgs: _Links) -> int | None:
    sizes = [get(asg.props, "minSize") for asg in asgs.of(group, "autoscalingGroups")]
    if not sizes or any(size is None or size is UNKNOWN for size in sizes):
        return None
    return int(sum(sizes))


def _healthy_share(name: str, custom: Resource | None, fleet: int | None, findings: Findings, where: str):
    """The minimum healthy share a deployment config guarantees, or None if it cannot be judged."""
    if name in BUILT_IN_HEALTHY_SHARE:
        return BUILT_IN_HEALTHY_SHARE[name]
    if name == DEFAULT_CONFIG:
        return 1.0 if fleet is None else (fleet - 1) / fleet
    if custom is None:
        findings.unknown(f"{where}: deployment config {name} is not in this stack")
        return None
    kind, value = get(custom.props, "minimumHealthyHosts", "type"), get(custom.props, "minimumHealthyHosts", "value")
    if kind is UNKNOWN or value is UNKNOWN:
        findings.unknown(f"{where}: {custom.name}.minimumHealthyHosts")
        return None
    if kind == "FLEET_PERCENT":
        return float(value or 0) / 100
    if fleet is None:
        findings.unknown(f"{where}: fleet size for HOST_COUNT {value} (autoscaling group minSize)")
        return None
    return float(value or 0) / fleet


def check_wave_size(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    share = float(config["minHealthyShare"])
    stack = stack_of(args)
    configs = _Links(stack.of_types({CODEDEPLOY_DEPLOYMENT_CONFIG}), "deploymentConfigName")
    asgs = _Links(stack.of_types({AUTOSCALING_GROUP}), "name")
    for group in stack.of_types({CODEDEPLOY_DEPLOYMENT_GROUP}):
        name = get(group.props, "deploymentConfigName", default=DEFAULT_CONFIG)
        custom = next(iter(configs.of(group, "deploymentConfigName")), None)
        if name is UNKNOWN and custom is not None:
            name = f"deployment config '{custom.name}'"
        if not findings.known(name, f"{group.name}.deploymentConfigName"):
            continue
        if name == "CodeDeployDefault.AllAtOnce":
            findings.violation(f"deployment group '{group.name}' deploys to the whole fleet at once (AllAtOnce)",
                               group.urn)
            continue
        healthy = _healthy_share(name, custom, _fleet_size(group, asgs), findings, group.name)
        if healthy is not None and healthy + 1e-9 < share:
            findings.violation(
                f"deployment group '{group.name}' uses {name}, which keeps only {healthy:.0%} of hosts healthy "
                f"during a deployment; at least {share:.0%} required",
                group.urn,
            )


POLICIES = [
    resource_policy(
        "codedeploy-auto-rollback",
        "CodeDeploy deployment groups roll back on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM.",
        [CODEDEPLOY_DEPLOYMENT_GROUP],
        check_auto_rollback,
    ),
    resource_policy(
        "codedeploy-alarm-gate",
        "CodeDeploy deployment groups watch at least one alarm and stop when it fires.",
        [CODEDEPLOY_DEPLOYMENT_GROUP],
        check_alarm_gate,
    ),
    stack_policy(
        "codedeploy-wave-size",
        "CodeDeploy deploys in waves that keep at least the configured share of hosts healthy (never AllAtOnce).",
        check_wave_size,
        {"minHealthyShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.66}},
    ),
]
