"""The delivery guardrails policy pack. The engine starts it with `python -m pulumi.policy <engine> .` from this
directory (the pulumi-analyzer-policy-python plugin), so this directory is on sys.path and `guardrails` imports."""

import gc

from guardrails import change, codebuild, codedeploy, codepipeline, ecr, iam, launch_template, network, protection, s3
from pulumi_policy import EnforcementLevel, PolicyPack

# AnalyzeStack deserializes the whole stack once per stack policy, allocating millions of short-lived, acyclic
# containers; with the default thresholds the cyclic collector runs thousands of times over them and takes about
# half of the time. Objects alive after import are frozen out of collection, and collections are made rarer.
gc.freeze()
gc.set_threshold(200_000, 50, 1000)

PolicyPack(
    name="delivery-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *ecr.POLICIES,
        *protection.POLICIES,
        *s3.POLICIES,
        *codebuild.POLICIES,
        *codedeploy.POLICIES,
        *codepipeline.POLICIES,
        *launch_template.POLICIES,
        *network.POLICIES,
        *iam.POLICIES,
        *change.POLICIES,
    ],
)
