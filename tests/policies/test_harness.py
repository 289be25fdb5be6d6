"""The harness side of the Analyzer protocol (ops/offline/): what the engine would tell the pack, and clear
errors when the pack or its configuration is wrong."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.offline import PACK_DIR
from ops.offline.analyzer import PolicyPack, pack_python
from ops.offline.policy_config import reconcile_config


def test_the_pack_describes_itself_over_get_analyzer_info(pack):
    name, policies = pack.info()

    assert name == "delivery-guardrails"
    kinds = {p.name: p.kind for p in policies}
    assert {n for n, kind in kinds.items() if kind == "stack"} == {
        "s3-bucket-hardened", "codedeploy-wave-size", "promoted-stack-builds-nothing", "change-budget",
        "no-stateful-deletion", "outputs-kept", "public-contract-kept"}
    assert {p.level for p in policies} == {"mandatory"}


def test_config_starts_from_schema_defaults_then_all_then_each_policy(pack):
    _, policies = pack.info()

    config = reconcile_config(policies, {"all": "advisory", "codebuild-bounded-timeout": {
        "enforcementLevel": "mandatory", "maxBuildTimeoutMinutes": 30}})

    assert config["codebuild-bounded-timeout"] == ("mandatory", {"maxBuildTimeoutMinutes": 30})
    assert config["ecr-lifecycle-keeps-rollback-targets"] == ("advisory", {"minTaggedImages": 10})
    assert config["ecr-immutable-tags"] == ("advisory", {})


@pytest.mark.parametrize(("given", "fragment"), [
    ({"ecr-imutable-tags": "mandatory"}, "does not have: ecr-imutable-tags"),
    ({"ecr-immutable-tags": "blocking"}, "'blocking' is not one of advisory, mandatory, remediate, disabled"),
    ({"ecr-lifecycle-keeps-rollback-targets": {"minTaggedImages": "many"}}, "'many' is not of type 'integer'"),
    ({"codebuild-bounded-timeout": 60}, "must be a level or an object"),
])
def test_a_bad_policy_config_is_refused_with_one_sentence(pack, given, fragment):
    _, policies = pack.info()

    with pytest.raises(OpsError, match=re.escape(fragment)):
        reconcile_config(policies, given)


def test_a_directory_without_pulumi_policy_yaml_is_not_a_pack(tmp_path):
    with pytest.raises(OpsError, match="is not a policy pack"):
        PolicyPack(tmp_path, project="p", stack="s").start()


def pack_yaml(virtualenv: str) -> str:
    return f"runtime:\n  name: python\n  options:\n    virtualenv: {virtualenv}\n"


def test_the_interpreter_comes_from_the_virtualenv_in_pulumi_policy_yaml_as_the_plugin_does(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text(pack_yaml(sys.prefix))
    assert pack_python(tmp_path) == str(Path(sys.prefix).resolve() / "bin" / "python")
    assert pack_python(PACK_DIR) == str((PACK_DIR / ".." / ".venv").resolve() / "bin" / "python")

    (tmp_path / "PulumiPolicy.yaml").write_text(pack_yaml("missing-venv"))
    with pytest.raises(OpsError, match="is not a virtual environment"):
        pack_python(tmp_path)


def test_a_pack_that_crashes_on_start_reports_its_error(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text(pack_yaml(sys.prefix))
    (tmp_path / "__main__.py").write_text("raise SystemExit('policy pack misconfigured: no policies')\n")

    with pytest.raises(OpsError, match=r"did not start: .*policy pack misconfigured"):
        PolicyPack(tmp_path, project="p", stack="s", startup_timeout=20).start()
