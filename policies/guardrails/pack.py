"""The pack: its name, its policies in the order the engine lists them, and how its process serves them."""

from __future__ import annotations

import gc

from pulumi_policy import EnforcementLevel

from guardrails import (
    change,
    codebuild,
    codedeploy,
    codepipeline,
    ecr,
    iam,
    launch_template,
    network,
    promotion,
    protection,
    s3,
    sdk,
)

NAME = "delivery-guardrails"
ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY
POLICIES = [
    *ecr.POLICIES,
    *protection.POLICIES,
    *s3.POLICIES,
    *codebuild.POLICIES,
    *codedeploy.POLICIES,
    *codepipeline.POLICIES,
    *launch_template.POLICIES,
    *network.POLICIES,
    *iam.POLICIES,
    *promotion.POLICIES,
    *change.POLICIES,
]
# Deserializing a stack allocates millions of short-lived, acyclic containers; with the default thresholds the
# cyclic collector runs thousands of times over them.
GC_THRESHOLDS = (200_000, 50, 1000)


def tune_gc() -> None:
    """Freeze the objects alive after import out of collection, and make collections rarer."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve() -> None:
    """Serve the pack to the engine as pulumi_policy.PolicyPack would, with every stack policy run over one
    deserialization of the stack (sdk.OnePassServicer)."""
    sdk.serve(NAME, POLICIES, ENFORCEMENT_LEVEL)
