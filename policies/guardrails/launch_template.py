"""EC2 launch templates: instance metadata needs a session token (IMDSv2), so an SSRF in the app cannot read the
instance role's credentials; and every volume is encrypted."""

from __future__ import annotations

from guardrails.aws_types import LAUNCH_TEMPLATE
from guardrails.framework import Resource, resource_policy
from guardrails.values import Findings, get, is_true


def check_imdsv2(template: Resource, config: dict, findings: Findings) -> None:
    options = get(template.props, "metadataOptions", default={})
    if not findings.known(options, "metadataOptions"):
        return
    endpoint, tokens = get(options, "httpEndpoint"), get(options, "httpTokens")
    if not findings.known(endpoint, "metadataOptions.httpEndpoint") or endpoint == "disabled":
        return
    if findings.known(tokens, "metadataOptions.httpTokens") and tokens != "required":
        findings.violation(
            f"launch template '{template.name}' does not require IMDSv2 (metadataOptions.httpTokens is "
            f"{tokens or 'not set'}); set httpTokens 'required'"
        )


def check_encrypted_volumes(template: Resource, config: dict, findings: Findings) -> None:
    mappings = get(template.props, "blockDeviceMappings", default=[])
    if not findings.known(mappings, "blockDeviceMappings"):
        return
    if not mappings and config["requireExplicitRootVolume"]:
        findings.violation(
            f"launch template '{template.name}' declares no block device mappings, so volume encryption is left "
            "to the AMI and the account default; declare the root volume with ebs.encrypted 'true'"
        )
    for index, mapping in enumerate(mappings):
        ebs = get(mapping, "ebs")
        if ebs is None:
            continue
        encrypted = get(ebs, "encrypted")
        if findings.known(encrypted, f"blockDeviceMappings[{index}].ebs.encrypted") and not is_true(encrypted):
            device = get(mapping, "deviceName", default=f"#{index}")
            findings.violation(f"launch template '{template.name}': volume {device} is not encrypted; set "
                               "ebs.encrypted 'true'")


POLICIES = [
    resource_policy(
        "launch-template-imdsv2",
        "Launch templates require IMDSv2 (metadataOptions.httpTokens 'required').",
        [LAUNCH_TEMPLATE],
        check_imdsv2,
    ),
    resource_policy(
        "launch-template-encrypted-volumes",
        "Launch templates encrypt every EBS volume.",
        [LAUNCH_TEMPLATE],
        check_encrypted_volumes,
        {"requireExplicitRootVolume": {"type": "boolean", "default": True}},
    ),
]
