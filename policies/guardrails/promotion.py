"""Promotion: a promoted stack (prod takes its releases from dev) deploys the release that was built, tested and baked
upstream, and builds nothing itself. A build in it would make a second image of the same commit, one that never
baked, and the release it deploys would no longer be the one that was proven.

So a promoted stack has no CodeBuild project and no ECR repository; its pipelines have no Build action and take
their source from S3 (the upstream's published release) only, not from the code repository; and no IAM policy in it
grants pushing an image. The policy is enabled only in the config of promoted stacks (config/prod.json)."""

from __future__ import annotations

import functools
import re

from pulumi_policy import StackValidationArgs

from guardrails.aws_types import (
    CODEBUILD_PROJECT,
    CODEPIPELINE,
    ECR_REPOSITORY,
    IAM_INLINE_POLICIES,
    IAM_POLICY,
    IAM_ROLE,
)
from guardrails.framework import Resource, stack_policy, stack_resources
from guardrails.iam import policy_documents, policy_statements
from guardrails.values import UNKNOWN, Findings, as_list, get

WHY = "prod deploys what baked in dev; it builds nothing"
SOURCE_PROVIDERS = ("S3",)
"""A promoted pipeline's source: the release the upstream published to its release bucket."""
PUSH_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload")
"""The ECR actions that upload an image (what `docker push` calls)."""
IAM_DOCUMENT_TYPES = sorted({IAM_POLICY, IAM_ROLE, *IAM_INLINE_POLICIES})


def _check_builders(args: StackValidationArgs, findings: Findings) -> None:
    for resource in stack_resources(args, [CODEBUILD_PROJECT]):
        findings.violation(f"CodeBuild project '{resource.name}': remove it; a promoted stack runs no builds ({WHY})",
                           resource.urn)
    for resource in stack_resources(args, [ECR_REPOSITORY]):
        findings.violation(f"ECR repository '{resource.name}': remove it and pull the release image from the "
                           f"upstream's repository; a promoted stack makes no images ({WHY})", resource.urn)


def _check_pipeline(pipeline: Resource, findings: Findings) -> None:
    subject = f"pipeline '{pipeline.name}'"
    stages = get(pipeline.props, "stages", default=[])
    if not findings.known(stages, f"{subject} stages"):
        return
    for stage_index, stage in enumerate(stages):
        stage_name = get(stage, "name", default=f"#{stage_index}")
        actions = get(stage, "actions", default=[])
        if not findings.known(actions, f"{subject} stages[{stage_name}].actions"):
            continue
        for action_index, action in enumerate(actions):
            action_name = get(action, "name", default=action_index)
            where = f"{subject} stages[{stage_name}].actions[{action_name}]"
            category, provider = get(action, "category"), get(action, "provider")
            if not findings.known(category, f"{where}.category"):
                continue
            label = f"{subject} stage '{stage_name}' action '{action_name}'"
            if category == "Build":
                shown = provider if provider is not UNKNOWN else "unknown provider"
                findings.violation(f"{label} is a Build action ({shown}): remove it; a promoted pipeline deploys the "
                                   f"upstream's release as it is ({WHY})", pipeline.urn)
            elif (category == "Source" and findings.known(provider, f"{where}.provider")
                  and provider not in SOURCE_PROVIDERS):
                findings.violation(f"{label} takes its source from {provider}: replace it with an S3 source action on "
                                   f"the upstream's published release (its release bucket); a promoted pipeline never "
                                   f"reads the code ({WHY})", pipeline.urn)


@functools.lru_cache(maxsize=1024)  # a stack repeats the same few action patterns thousands of times
def _pattern(action: str) -> re.Pattern:
    """An IAM action pattern (`*` any run of characters, `?` one; case-insensitive) as a regular expression."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in action), re.IGNORECASE)


def _pushes_allowed(statement: dict, findings: Findings, where: str) -> list[str]:
    """The push actions an Allow statement grants, on any resource; unknown parts are recorded, known ones judged."""
    effect = statement.get("Effect")
    if not findings.known(effect, f"{where}.Effect") or effect != "Allow":
        return []
    key = "NotAction" if "NotAction" in statement else "Action"
    patterns = as_list(statement.get(key))
    if not findings.known(patterns, f"{where}.{key}"):
        return []
    known = [str(p) for p in patterns if findings.known(p, f"{where}.{key}")]
    if key == "NotAction":  # allows every action it does not list
        if len(known) < len(patterns):
            return []
        return [a for a in PUSH_ACTIONS if not any(_pattern(p).fullmatch(a) for p in known)]
    return [a for a in PUSH_ACTIONS if any(_pattern(p).fullmatch(a) for p in known)]


def _check_push_grants(resource: Resource, findings: Findings) -> None:
    kind = resource.type.split(":")[-1]
    for where, document in policy_documents(resource):
        subject = f"{kind} '{resource.name}' {where}"
        if not findings.known(document, subject) or document is None:
            continue
        try:
            statements = policy_statements(document)
        except (ValueError, TypeError):
            continue  # iam-least-privilege reports a document that is not a JSON policy
        for index, statement in enumerate(statements):
            if not findings.known(statement, f"{subject} statement #{index}") or not isinstance(statement, dict):
                continue
            label = statement.get("Sid") if isinstance(statement.get("Sid"), str) else f"#{index}"
            pushes = _pushes_allowed(statement, findings, f"{subject} statement {label}")
            if pushes:
                findings.violation(f"{subject} statement {label} allows pushing images ({', '.join(pushes)}): remove "
                                   f"it; a promoted stack only pulls the upstream's release image ({WHY})",
                                   resource.urn)


def check_builds_nothing(args: StackValidationArgs, config: dict, findings: Findings) -> None:
    _check_builders(args, findings)
    for pipeline in stack_resources(args, [CODEPIPELINE]):
        _check_pipeline(pipeline, findings)
    for resource in stack_resources(args, IAM_DOCUMENT_TYPES):
        _check_push_grants(resource, findings)


POLICIES = [
    stack_policy(
        "promoted-stack-builds-nothing",
        "A promoted stack deploys the upstream's release and builds nothing: no CodeBuild project, no ECR "
        "repository, no pipeline Build action, pipeline sources from S3 only, no IAM grant to push an image.",
        check_builds_nothing,
    ),
]
