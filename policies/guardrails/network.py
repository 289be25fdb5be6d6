"""Security groups, in every form pulumi-aws offers (inline ingress blocks on SecurityGroup and on a VPC's
DefaultSecurityGroup, SecurityGroupRule, vpc.SecurityGroupIngressRule), IPv4 and IPv6: nothing is open to the
world except the configured public ports, and never SSH, RDP or all ports."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from guardrails.aws_types import (
    DEFAULT_SECURITY_GROUP,
    SECURITY_GROUP,
    SECURITY_GROUP_INGRESS_RULE,
    SECURITY_GROUP_RULE,
)
from guardrails.framework import Resource, resource_policy
from guardrails.values import UNKNOWN, Findings, as_list, get

ALL_PROTOCOLS = {"-1", "all"}
NEVER_PUBLIC = {22: "SSH", 3389: "RDP"}


@dataclass
class Ingress:
    where: str
    protocol: object
    from_port: object
    to_port: object
    cidrs: list


def _cidrs(*values: object) -> list:
    """Source CIDRs from single values and lists; an unknown list is one unknown source."""
    cidrs = []
    for value in values:
        items = as_list(value)
        cidrs.extend([UNKNOWN] if items is UNKNOWN else items)
    return cidrs


def _is_world(cidr: object) -> bool:
    """0.0.0.0/0 and ::/0 in any spelling (for example 0::/0)."""
    try:
        return isinstance(cidr, str) and ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _ingresses(resource: Resource, findings: Findings) -> list[Ingress]:
    props = resource.props
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        blocks = get(props, "ingress", default=[])
        if blocks is UNKNOWN:
            return [Ingress("ingress", UNKNOWN, UNKNOWN, UNKNOWN, [UNKNOWN])]
        return [
            Ingress(f"ingress[{i}]", get(b, "protocol"), get(b, "fromPort"), get(b, "toPort"),
                    _cidrs(get(b, "cidrBlocks"), get(b, "ipv6CidrBlocks")))
            for i, b in enumerate(blocks)
        ]
    if resource.type == SECURITY_GROUP_RULE:
        kind = get(props, "type")
        if not findings.known(kind, "type") or kind == "egress":
            return []
        return [Ingress("", get(props, "protocol"), get(props, "fromPort"), get(props, "toPort"),
                        _cidrs(get(props, "cidrBlocks"), get(props, "ipv6CidrBlocks")))]
    return [Ingress("", get(props, "ipProtocol"), get(props, "fromPort"), get(props, "toPort"),
                    _cidrs(get(props, "cidrIpv4"), get(props, "cidrIpv6")))]


def _judge(ingress: Ingress, public_ports: set[int]) -> str | None:
    """Why this world-open ingress is not allowed, or None if it is."""
    protocol = str(ingress.protocol).lower()
    if protocol in ALL_PROTOCOLS:
        return "all protocols and ports"
    if protocol not in ("tcp", "udp", "6", "17"):
        return f"protocol {ingress.protocol}"
    low, high = int(ingress.from_port or 0), int(ingress.to_port if ingress.to_port is not None else 65535)
    if low <= 0 and high >= 65535:
        return "all ports"
    for port, label in NEVER_PUBLIC.items():
        if low <= port <= high:
            return f"{label} (port {port})"
    if any(port not in public_ports for port in range(low, high + 1)):  # stops at the first non-public port
        return f"ports {low}-{high}" if low != high else f"port {low}"
    return None


def check_no_world_ingress(resource: Resource, config: dict, findings: Findings) -> None:
    public_ports = {int(port) for port in config["publicPorts"]}
    for ingress in _ingresses(resource, findings):
        prefix = f"{ingress.where}." if ingress.where else ""
        if any(cidr is UNKNOWN for cidr in ingress.cidrs):
            findings.unknown(f"{prefix}cidr blocks")
        world = sorted(cidr for cidr in ingress.cidrs if _is_world(cidr))
        if not world:
            continue
        fields = (ingress.protocol, ingress.from_port, ingress.to_port)
        if any(value is UNKNOWN for value in fields):
            findings.unknown(f"{prefix}protocol/ports")
            continue
        reason = _judge(ingress, public_ports)
        if reason:
            findings.violation(
                f"{resource.type.split(':')[-1]} '{resource.name}' {prefix.rstrip('.') or 'rule'} opens {reason} "
                f"to {', '.join(world)}; only ports {sorted(public_ports)} may be public"
            )


POLICIES = [
    resource_policy(
        "security-group-no-world-ingress",
        "Security groups open only the public ports (default 80, 443) to 0.0.0.0/0 or ::/0; never SSH, RDP or all "
        "ports.",
        [SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, SECURITY_GROUP_INGRESS_RULE],
        check_no_world_ingress,
        {
            "publicPorts": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 65535},
                "default": [80, 443],
                "description": "Ports that may be open to the world.",
            }
        },
    ),
]
