"""The delivery guardrails policy pack. The engine starts it with `python -m pulumi.policy <engine> .` from this
directory (the pulumi-analyzer-policy-python plugin), so this directory is on sys.path and `guardrails` imports.

The policies are ordinary pulumi_policy policies (guardrails/pack.py); they are served as `PolicyPack` would serve
them, except that AnalyzeStack deserializes the stack once for all stack policies (guardrails/sdk.py)."""

from guardrails import pack

pack.tune_gc()  # after every import, so the modules and policies are frozen out of collection
pack.serve()
