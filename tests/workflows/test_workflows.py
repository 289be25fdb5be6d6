"""The workflows as a specification: least privilege, OIDC only, pinned actions, dev before prod behind an
environment, one update per stack at a time, forks get checks without secrets, rollback from a button, drift as one
issue per stack, and a per-run policy pack config that really arms the change guardrails in the real pack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jq
import pytest
import yaml

from ops.baseline import write_baseline
from ops.offline import PACK_DIR
from ops.offline.analyzer import PolicyPack, analyze_resources
from ops.offline.run import run_program
from ops.offline.stack_file import stack_config

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
CHANGE_GUARDRAILS = {"change-budget", "no-stateful-deletion", "outputs-kept", "public-contract-kept"}
WRITE_SCOPES_ALLOWED = {"id-token", "pull-requests", "issues"}  # never contents, actions, packages, ...


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOW_DIR / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def run_text(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in job.get("steps", []))


WORKFLOWS = {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOW_DIR.glob("*.y*ml"))}
JOBS = [(name, job_id, job) for name, wf in WORKFLOWS.items() for job_id, job in wf["jobs"].items()]


def test_the_four_workflows_exist():
    assert {"pr.yml", "deploy.yml", "rollback.yml", "drift.yml"} <= set(WORKFLOWS)


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_a_workflow_grants_nothing_by_default(name):
    assert WORKFLOWS[name]["permissions"] == {}


@pytest.mark.parametrize(("name", "job_id", "job"), JOBS, ids=[f"{n}:{j}" for n, j, _ in JOBS])
def test_every_job_asks_for_exactly_what_it_uses(name, job_id, job):
    permissions = job["permissions"]
    assert permissions.get("contents") == "read"
    writes = {scope for scope, level in permissions.items() if level == "write"}
    assert writes <= WRITE_SCOPES_ALLOWED
    uses_oidc = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
    assert ("id-token" in writes) == uses_oidc
    comments = any(s.get("with", {}).get("comment-on-pr") for s in steps_using(job, "pulumi/actions"))
    assert ("pull-requests" in writes) == comments
    assert ("issues" in writes) == ("gh issue" in run_text(job))


@pytest.mark.parametrize(("name", "job_id", "job"), JOBS, ids=[f"{n}:{j}" for n, j, _ in JOBS])
def test_aws_credentials_come_from_oidc_role_assumption_never_from_keys(name, job_id, job):
    for step in steps_using(job, "aws-actions/configure-aws-credentials"):
        inputs = step["with"]
        assert inputs["role-to-assume"] == "${{ env.ROLE_ARN }}"
        assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(inputs)
    assert job.get("env", {}).get("ROLE_ARN", "${{ vars.").startswith("${{ vars")  # a variable, not a secret key
    text = (WORKFLOW_DIR / name).read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_action_is_pinned_to_a_major_version_or_a_commit(name):
    for _, job in WORKFLOWS[name]["jobs"].items():
        for step in job.get("steps", []):
            if "uses" in step and not step["uses"].startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", step["uses"]), step["uses"]


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_user_input_reaches_scripts_through_env_never_through_expressions(name):
    """`${{ inputs.x }}` inside `run:` is script injection; the workflows pass values as environment variables."""
    for _, job in WORKFLOWS[name]["jobs"].items():
        for step in job.get("steps", []):
            assert "${{" not in str(step.get("run", "")), step.get("name")


def test_pull_requests_from_forks_get_the_tests_and_the_offline_policy_check_but_no_preview():
    pr = load("pr.yml")
    assert set(triggers(pr)) == {"pull_request"}  # never pull_request_target: fork code never sees secrets
    for job_id in ("test", "policy-check"):
        job = pr["jobs"][job_id]
        assert "if" not in job and "secrets." not in yaml.safe_dump(job)
        assert "id-token" not in job["permissions"]
    assert "python -m ops check -s \"$STACK\"" in run_text(pr["jobs"]["policy-check"])
    assert pr["jobs"]["policy-check"]["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    preview = pr["jobs"]["preview"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]


def test_the_preview_runs_the_policy_pack_with_a_fresh_baseline_and_comments_on_the_pull_request():
    preview = load("pr.yml")["jobs"]["preview"]
    assert [m["stack"] for m in preview["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    names = [s.get("name", s.get("uses")) for s in preview["steps"]]
    export = names.index("Export the baseline and write the policy pack config")
    (step,) = [s for s in steps_using(preview, "pulumi/actions") if s.get("with", {}).get("command")]
    assert names.index(step["name"]) > export
    assert step["with"]["command"] == "preview"
    assert step["with"]["policyPacks"] == "policies"
    assert step["with"]["policyPackConfigs"] == "${{ runner.temp }}/policy-config.json"
    assert step["with"]["comment-on-pr"] is True


def test_deploy_runs_the_tests_then_dev_then_prod_behind_the_prod_environment():
    deploy = load("deploy.yml")
    assert triggers(deploy)["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert jobs["dev"]["needs"] == "test" and jobs["prod"]["needs"] == "dev"
    assert jobs["dev"]["environment"] == "dev" and jobs["prod"]["environment"] == "prod"
    for stack in ("dev", "prod"):
        job = jobs[stack]
        assert job["env"]["STACK"] == stack
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        assert "pulumi up --stack \"$STACK\" --yes" in run_text(job)
        assert "--policy-pack policies --policy-pack-config \"$RUNNER_TEMP/policy-config.json\"" in run_text(job)
        assert job["env"]["ROLE_ARN"] == "${{ vars.AWS_ROLE_ARN }}"  # the environment's own role


def test_rollback_is_a_button_with_stack_layer_and_version_that_diagnoses_first():
    rollback = load("rollback.yml")
    inputs = triggers(rollback)["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["options"] == ["dev", "prod"] and inputs["layer"]["options"] == ["app", "stack"]
    assert inputs["version"]["required"] is False
    plan, act = rollback["jobs"]["plan"], rollback["jobs"]["rollback"]
    assert "python -m ops diagnose -s \"$STACK\" --markdown" in run_text(plan)
    assert "GITHUB_STEP_SUMMARY" in run_text(plan) and "--dry-run" in run_text(plan)
    assert "environment" not in plan  # read-only: no approval needed to look
    assert act["needs"] == "plan" and act["environment"] == "${{ inputs.stack }}"
    assert "--dry-run" not in run_text(act) and run_text(act).count("--yes") == 4
    # a stack rollback is a Pulumi update: it queues in the same group as deploy.yml's `pulumi up`
    assert "format('pulumi-{0}', inputs.stack)" in act["concurrency"]["group"]
    assert act["concurrency"]["cancel-in-progress"] is False


def test_drift_is_scheduled_per_stack_and_keeps_one_issue_per_stack():
    drift = load("drift.yml")
    assert triggers(drift)["schedule"][0]["cron"]
    job = drift["jobs"]["drift"]
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == ["dev", "prod"]
    assert job["env"]["ISSUE_TITLE"] == "Drift detected in stack ${{ matrix.stack }}"
    text = run_text(job)
    assert "pulumi preview --stack \"$STACK\" --refresh --expect-no-changes" in text
    assert 'gh issue create --title "$ISSUE_TITLE" --label "$ISSUE_LABEL"' in text
    assert 'gh issue comment "$number"' in text  # an open issue is updated, not duplicated


# --- the per-run policy pack config --------------------------------------------------------------------------------


def baseline_filters() -> list[tuple[str, str]]:
    found = []
    for name, workflow in WORKFLOWS.items():
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "BASELINE_FILTER" in step.get("env", {}):
                    found.append((f"{name}:{job_id}", step["env"]["BASELINE_FILTER"]))
    return found


def test_the_workflows_that_run_pulumi_with_the_policy_pack_all_write_a_baseline_config():
    assert sorted(where for where, _ in baseline_filters()) == ["deploy.yml:dev", "deploy.yml:prod", "pr.yml:preview"]


@pytest.mark.parametrize(("where", "program"), baseline_filters())
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_filter_adds_the_baseline_to_the_change_guardrails_and_keeps_every_other_setting(where, program, stack):
    config = json.loads((PACK_DIR / "config" / f"{stack}.json").read_text())
    result = jq.compile(program, args={"b": "/tmp/base.json"}).input_value(config).first()
    for name in CHANGE_GUARDRAILS:
        before = config.get(name, {})
        level = before if isinstance(before, str) else before.get("enforcementLevel")
        expected = ({} if isinstance(before, str) else dict(before)) | {"baseline": "/tmp/base.json"}
        if level is not None:
            expected["enforcementLevel"] = level
        assert result[name] == expected
    assert {k: v for k, v in result.items() if k not in CHANGE_GUARDRAILS} == {
        k: v for k, v in config.items() if k not in CHANGE_GUARDRAILS}


@pytest.mark.slow
def test_the_generated_config_arms_exactly_the_pack_policies_that_take_a_baseline(tmp_path):
    """The real pack, started as the engine starts it: the policies whose schema has `baseline` are the four the
    filter names, and with the generated config they judge the plan against the baseline instead of reporting
    themselves not applicable (plan == baseline here, so they find nothing)."""
    run = run_program("prod", ROOT)
    baseline = write_baseline(run, tmp_path / "baseline.json")
    _, program = baseline_filters()[0]
    config = json.loads((PACK_DIR / "config" / "prod.json").read_text())
    generated = jq.compile(program, args={"b": str(baseline)}).input_value(config).first()
    with PolicyPack(PACK_DIR, project="delivery", stack="prod", stack_config=stack_config(ROOT, "prod")) as pack:
        _, policies = pack.info()
        assert {p.name for p in policies if "baseline" in p.schema} == CHANGE_GUARDRAILS
        levels = {name: level for name, (level, _) in pack.configure(generated).items()}
        report = analyze_resources(pack, run.resources, run.stack_outputs, levels)
    assert not CHANGE_GUARDRAILS & set(report.not_applicable), report.not_applicable
    assert [d for d in report.diagnostics if d.policy in CHANGE_GUARDRAILS] == []
    assert all(levels[name] == "mandatory" for name in CHANGE_GUARDRAILS)  # prod.json: all mandatory
