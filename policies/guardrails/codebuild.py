"""CodeBuild: no secrets in plaintext environment variables (they show in the console and in build logs), a pinned
build image (so a build is reproducible), and a bounded timeout (so a stuck build fails instead of blocking)."""

from __future__ import annotations

import fnmatch

from guardrails.aws_types import CODEBUILD_PROJECT
from guardrails.framework import Resource, resource_policy
from guardrails.values import Findings, get

DEFAULT_BUILD_TIMEOUT_MINUTES = 60  # what CodeBuild uses when buildTimeout is not set


def check_no_plaintext_secrets(project: Resource, config: dict, findings: Findings) -> None:
    patterns = [pattern.upper() for pattern in config["secretNamePatterns"]]
    allowed = set(config["allowedNames"])
    variables = get(project.props, "environment", "environmentVariables", default=[])
    if not findings.known(variables, "environment.environmentVariables"):
        return
    for index, variable in enumerate(variables):
        name, kind = get(variable, "name"), get(variable, "type", default="PLAINTEXT")
        if not findings.known(name, f"environment.environmentVariables[{index}].name") or name in allowed:
            continue
        if not findings.known(kind, f"environment.environmentVariables[{index}].type") or kind != "PLAINTEXT":
            continue
        if any(fnmatch.fnmatchcase(str(name).upper(), pattern) for pattern in patterns):
            findings.violation(
                f"project '{project.name}' passes {name} as a PLAINTEXT environment variable; store it in "
                "Parameter Store or Secrets Manager and use type PARAMETER_STORE or SECRETS_MANAGER"
            )


def check_pinned_image(project: Resource, config: dict, findings: Findings) -> None:
    image = get(project.props, "environment", "image")
    if not findings.known(image, "environment.image") or image is None:
        return
    if "@sha256:" in image:
        return
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
    if config["requireDigest"]:
        findings.violation(f"project '{project.name}' uses image {image}; pin it by digest (image@sha256:...)")
    elif tag is None or tag in config["floatingTags"]:
        findings.violation(
            f"project '{project.name}' uses image {image}, which floats; pin a version tag or a digest"
        )


def check_bounded_timeout(project: Resource, config: dict, findings: Findings) -> None:
    limit = int(config["maxBuildTimeoutMinutes"])
    timeout = get(project.props, "buildTimeout", default=DEFAULT_BUILD_TIMEOUT_MINUTES)
    if findings.known(timeout, "buildTimeout") and int(timeout) > limit:
        findings.violation(f"project '{project.name}' has buildTimeout {int(timeout)} minutes; at most {limit} allowed")


POLICIES = [
    resource_policy(
        "codebuild-no-plaintext-secrets",
        "CodeBuild projects keep secrets out of PLAINTEXT environment variables.",
        [CODEBUILD_PROJECT],
        check_no_plaintext_secrets,
        {
            "secretNamePatterns": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["*PASSWORD*", "*SECRET*", "*TOKEN*", "*KEY*"],
                "description": "Variable-name patterns (fnmatch, case-insensitive) that must not be PLAINTEXT.",
            },
            "allowedNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Variable names that match a pattern but hold no secret.",
            },
        },
    ),
    resource_policy(
        "codebuild-pinned-image",
        "CodeBuild projects use a pinned build image (a version tag or a digest, never latest).",
        [CODEBUILD_PROJECT],
        check_pinned_image,
        {
            "floatingTags": {"type": "array", "items": {"type": "string"}, "default": ["latest"]},
            "requireDigest": {"type": "boolean", "default": False},
        },
    ),
    resource_policy(
        "codebuild-bounded-timeout",
        "CodeBuild projects time out within a bounded number of minutes.",
        [CODEBUILD_PROJECT],
        check_bounded_timeout,
        {"maxBuildTimeoutMinutes": {"type": "integer", "minimum": 5, "maximum": 2160, "default": 60}},
    ),
]
