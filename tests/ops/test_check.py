"""`python -m ops check`: the policy pack over the offline plan of a stack, with no cloud and no Pulumi CLI.
Exit 0 on the clean stacks, 1 on any mandatory violation, 2 on bad input; `--json` is stable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ops.baseline import baseline_from_run
from ops.cli import main
from ops.offline.run import run_program


def check(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_clean_stacks_pass_and_the_output_is_an_offline_preview(capsys, stack):
    code, out, err = check(capsys, "-s", stack)

    assert code == 0
    assert "Policies: no violations." in out
    # dev builds; prod takes dev's releases and has no registry of its own (README, Promotion)
    component = {"dev": "delivery:registry:ImageRegistry registry",
                 "prod": "delivery:promotion:UpstreamRelease upstream"}[stack]
    assert component in out and "aws:codepipeline/pipeline:Pipeline" in out
    assert ("aws:ecr/repository:Repository" in out) == (stack == "dev")
    assert "[not applicable] change-budget: no baseline configured" in out
    assert "running the program for stack" in err  # progress goes to stderr


def test_json_output_is_stable_and_complete(capsys):
    first_code, first, _ = check(capsys, "-s", "prod", "--json")
    second_code, second, _ = check(capsys, "-s", "prod", "--json")

    assert first_code == second_code == 0
    assert first == second
    document = json.loads(first)
    assert set(document) == {"project", "stack", "baseline", "resources", "policies", "violations", "notApplicable",
                             "mandatoryViolations", "advisoryViolations"}
    assert document["resources"]["byType"]["aws:codepipeline/pipeline:Pipeline"] == 1
    assert "aws:ecr/repository:Repository" not in document["resources"]["byType"]
    assert document["policies"]["change-budget"] == {"kind": "stack", "level": "mandatory"}
    assert document["policies"]["promoted-stack-builds-nothing"] == {"kind": "stack", "level": "mandatory"}
    assert document["violations"] == [] and document["mandatoryViolations"] == 0


def test_a_mandatory_violation_exits_1_and_is_listed_under_its_policy(capsys, tmp_path):
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"all": "mandatory", "promoted-stack-builds-nothing": "disabled",
                                  "codepipeline-approval-before-deploy": "disabled",
                                  "codedeploy-wave-size": "disabled",
                                  "ecr-lifecycle-keeps-rollback-targets": {"minTaggedImages": 100}}))

    code, out, _ = check(capsys, "-s", "dev", "--policy-config", str(strict))

    assert code == 1
    assert "Policy violations: 2 mandatory, 0 advisory" in out  # the release rule and the builds rule
    assert "[mandatory] ecr-lifecycle-keeps-rollback-targets (2)" in out
    assert "rule 1 keeps only 30 tagged images; keep at least 100" in out


def test_a_baseline_missing_from_the_plan_is_caught_in_prod_and_only_advised_in_dev(capsys, tmp_path, project_root):
    run = run_program("prod", project_root)
    document = baseline_from_run(run)
    gone = dict(next(r for r in document["deployment"]["resources"] if r["type"] == "aws:kms/key:Key"))
    gone["urn"] = gone["urn"].replace("::alarms-topic-key", "::old-key")
    document["deployment"]["resources"].append(gone)
    baseline = tmp_path / "prod.json"
    baseline.write_text(json.dumps(document))

    code, out, _ = check(capsys, "-s", "prod", "--baseline", str(baseline), "--json")

    assert code == 1
    violations = json.loads(out)["violations"]
    assert [(v["policy"], v["level"]) for v in violations] == [("no-stateful-deletion", "mandatory")]
    assert "aws:kms/key:Key 'old-key'" in violations[0]["message"]


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "prod", "--baseline", "/nonexistent/export.json"], "cannot read baseline /nonexistent/export.json"),
    (["-s", "qa"], "no policy config for stack qa"),
])
def test_bad_input_is_one_sentence_and_exit_2(capsys, args, message):
    code, out, err = check(capsys, *args)

    assert code == 2
    assert err.strip().startswith(f"error: {message}")
    assert "Traceback" not in err and out == ""


def test_a_baseline_that_is_not_a_stack_export_is_refused(capsys, tmp_path):
    baseline = tmp_path / "state.json"
    baseline.write_text(json.dumps({"version": 1, "checkpoint": {}}))

    code, _, err = check(capsys, "-s", "dev", "--baseline", str(baseline))

    assert code == 2 and "is not a `pulumi stack export` file" in err


def test_help_lists_the_check_command(project_root):
    result = subprocess.run([sys.executable, "-m", "ops", "--help"], cwd=project_root, capture_output=True, text=True,
                            check=False)

    assert result.returncode == 0
    assert "run the policy packs offline against the planned stack" in result.stdout
