"""The delivery guardrails policy pack. The engine starts it with `python -m pulumi.policy <engine> .` from this
directory (the pulumi-analyzer-policy-python plugin), so this directory is on sys.path and `guardrails` imports."""

from guardrails import change, codebuild, codedeploy, codepipeline, ecr, iam, launch_template, network, protection, s3
from pulumi_policy import EnforcementLevel, PolicyPack

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
