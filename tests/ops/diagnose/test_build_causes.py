"""A failed Build action (provider CodeBuild): diagnose reads the build's failed phase and the end of its log in
CloudWatch Logs, and names the cause class."""

from __future__ import annotations

import pytest

from tests.ops.diagnose.builders import (
    BAD_SHA,
    BUILD_ID,
    GOOD_DIGEST,
    GOOD_SHA,
    bad_run,
    build,
    build_failed,
    command_failed,
    diagnose_json,
    evidence_of,
    good_run,
    queue_run,
    source_ok,
)

STREAM = "5b1f6c0e-0000-4000-8000-000000000001"

SCENARIOS = {
    "dependency_install_failed": (
        ("FAILED", "INSTALL", "FAILED", command_failed("pip install -r app/requirements.txt")),
        ["Collecting fastapi==99.0.0",
         "ERROR: Could not find a version that satisfies the requirement fastapi==99.0.0",
         "ERROR: No matching distribution found for fastapi==99.0.0"],
        "dependency install failed (INSTALL phase, `pip install -r app/requirements.txt` exited 1)",
    ),
    "unit_tests_failed": (
        ("FAILED", "PRE_BUILD", "FAILED", command_failed("python -m pytest tests/app -q")),
        ["FAILED tests/app/test_api.py::test_quote_total - assert 500 == 200", "1 failed, 41 passed in 3.20s"],
        "unit tests failed (PRE_BUILD phase, `python -m pytest tests/app -q` exited 1)",
    ),
    "contract_check_failed": (
        ("FAILED", "PRE_BUILD", "FAILED", command_failed("python -m app.contract check")),
        ["breaking changes (1):", "  - GET /v1/quotes: response field `total` removed",
         "contract check FAILED: 1 breaking change(s) against app/contract/openapi.json."],
        "contract check failed (PRE_BUILD phase, `python -m app.contract check` exited 1)",
    ),
    "image_build_failed": (  # app/buildspec.yml runs the image build and push in one script: the log decides
        ("FAILED", "BUILD", "FAILED", command_failed("bash app/ci/build_image.sh")),
        [f"build: building 123456789012.dkr.ecr.us-east-1.amazonaws.com/app:{BAD_SHA}",
         "#8 [4/6] RUN pip install --no-cache-dir -r requirements.txt",
         'ERROR: failed to solve: process "/bin/sh -c pip install -r requirements.txt" did not complete '
         "successfully: exit code: 1"],
        "image build failed (BUILD phase, `bash app/ci/build_image.sh` exited 1)",
    ),
    "image_push_denied": (
        ("FAILED", "POST_BUILD", "FAILED", command_failed('docker push "$REPOSITORY_URI:$COMMIT"')),
        ["The push refers to repository [123456789012.dkr.ecr.us-east-1.amazonaws.com/app]",
         "denied: User: arn:aws:sts::123456789012:assumed-role/app-build/AWSCodeBuild-5b1f is not authorized to "
         "perform: ecr:InitiateLayerUpload on resource: arn:aws:ecr:us-east-1:123456789012:repository/app"],
        "image push denied (ecr:InitiateLayerUpload)",
    ),
    "image_tag_exists": (
        ("FAILED", "BUILD", "FAILED", command_failed("bash app/ci/build_image.sh")),
        ["The push refers to repository [123456789012.dkr.ecr.us-east-1.amazonaws.com/app]",
         f"tag invalid: The image tag '{BAD_SHA}' already exists in the 'app' repository and cannot be "
         "overwritten because the repository is immutable."],
        "image tag already exists in the immutable repository",
    ),
    "build_timed_out": (
        ("TIMED_OUT", "BUILD", "TIMED_OUT", ("BUILD_TIMED_OUT", "Build has timed out. ")),
        ["[Container] Running command python -m pytest tests/app -q", "tests/app/test_slow.py "],
        "build timed out after 20 minutes in the BUILD phase",
    ),
}


def _failed_build(account, build_status, phase, phase_status, context, log_lines):
    good, good_actions = good_run(account)
    latest = bad_run(account)
    started = account.ago(20)
    queue_run(account, latest, [source_ok(started), build_failed(started)], last_success=good,
              last_success_actions=good_actions)
    account.stub["codebuild"].add_response(
        "batch_get_builds", {"builds": [build(build_status, phase, phase_status, context, started)]},
        {"ids": [BUILD_ID]})
    account.write_build_log(STREAM, log_lines)


@pytest.mark.parametrize("cause", list(SCENARIOS))
def test_a_failed_build_is_classified_from_its_phase_and_log_tail(account, capsys, cause):
    (build_status, phase, phase_status, context), log_lines, verdict_tail = SCENARIOS[cause]
    _failed_build(account, build_status, phase, phase_status, context, log_lines)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["status"] == "failing"
    assert document["cause"]["class"] == cause
    assert document["verdict"] == f"Build failed: {verdict_tail}"
    assert document["stage"] == "Build"
    assert document["action"]["provider"] == "CodeBuild"
    assert document["action"]["external_execution_id"] == BUILD_ID
    phase_evidence = evidence_of(document, "build_phase")
    assert phase_evidence[0]["detail"]["phase"] == phase
    assert context[0] in phase_evidence[0]["summary"]
    assert evidence_of(document, "log_tail")[0]["detail"]["lines"] == log_lines
    assert document["next_step"]


def test_the_log_tail_is_read_from_the_build_s_own_log_stream_and_bounded(account, capsys):
    lines = [f"line {n}" for n in range(120)] + ["FAILED tests/app/test_api.py::test_x - boom", "1 failed"]
    _failed_build(account, "FAILED", "PRE_BUILD", "FAILED", command_failed("make test"), lines)

    _, document = diagnose_json(capsys, "--log-lines", "10")

    assert evidence_of(document, "log_tail")[0]["detail"]["lines"] == lines[-10:]
    assert document["cause"]["class"] == "unit_tests_failed"  # from the log: `make test` names no tool


def test_what_changed_compares_the_failing_revision_with_the_last_success(account, capsys):
    _failed_build(account, *SCENARIOS["unit_tests_failed"][0], SCENARIOS["unit_tests_failed"][1])

    _, document = diagnose_json(capsys)

    assert document["changes"] == {
        "revision": BAD_SHA, "message": "Rework the quotes handler",
        "last_good_execution": "exec-good", "last_good_revision": GOOD_SHA, "last_good_message": "Add quotes endpoint",
        "same_revision": False, "image_digest": None, "last_good_image_digest": GOOD_DIGEST,
    }
    assert document["last_successful_execution"]["id"] == "exec-good"


def test_an_unrecognised_build_failure_is_unknown_with_the_raw_error(account, capsys):
    context = command_failed("./scripts/release.sh", 3)
    _failed_build(account, "FAILED", "POST_BUILD", "FAILED", context, ["something odd happened"])

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "unknown"
    assert document["cause"]["raw_error"] == context[1]
    assert document["verdict"] == "Build failed: build failed (POST_BUILD phase, `./scripts/release.sh` exited 3)"


def test_a_missing_log_permission_leaves_a_gap_but_still_classifies(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(20)
    queue_run(account, bad_run(account), [build_failed(started)], last_success=good,
              last_success_actions=good_actions)
    account.stub["codebuild"].add_response("batch_get_builds", {"builds": [
        build("FAILED", "PRE_BUILD", "FAILED", command_failed("python -m pytest tests/app -q"), started)]})
    account.stub["logs"].operations.add("GetLogEvents")
    account.stub["logs"].add_client_error(
        "get_log_events", "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: logs:GetLogEvents on resource")

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "unit_tests_failed"
    assert document["gaps"] == ["could not read everything: missing permission logs:GetLogEvents"]


def test_an_ecr_login_refused_is_an_image_push_denied_naming_the_permission(account, capsys):
    lines = ["build: logging in to 123456789012.dkr.ecr.us-east-1.amazonaws.com",
             "An error occurred (AccessDeniedException) when calling the GetAuthorizationToken operation: User: "
             "arn:aws:sts::123456789012:assumed-role/app-build/AWSCodeBuild-5b1f is not authorized to perform: "
             "ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the "
             "ecr:GetAuthorizationToken action",
             "build: ECR login to 123456789012.dkr.ecr.us-east-1.amazonaws.com failed"]
    _failed_build(account, "FAILED", "BUILD", "FAILED", command_failed("bash app/ci/build_image.sh"), lines)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "image_push_denied"
    assert document["cause"]["detail"] == "ecr:GetAuthorizationToken"
    assert "grant_push" in document["next_step"]
