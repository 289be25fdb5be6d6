"""app.artifact: the bundle's records (image.json, release.json, contract/openapi.json), nothing about any one
environment in them, and the refusal of anything but a digest reference, well-formed build identities and a drill
rate the service accepts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from app.artifact import ArtifactError, image_reference, release_record
from app.contract.gate import CONTRACT, service_document
from app.tests.conftest import BUILD_ID, BUILT_AT, DIGEST, GIT_SHA, PIPELINE_EXECUTION_ID, REPOSITORY_URI, ROOT

IMAGE = {"repository": REPOSITORY_URI, "tag": GIT_SHA, "digest": DIGEST, "uri": f"{REPOSITORY_URI}@{DIGEST}"}


def test_image_reference_pins_the_uri_to_the_digest():
    assert image_reference(REPOSITORY_URI, GIT_SHA, DIGEST) == IMAGE


@pytest.mark.parametrize(("repository", "tag", "digest", "message"), [
    ("docker.io/library/app", GIT_SHA, DIGEST, "the repository URI must look like"),
    (REPOSITORY_URI, "latest", DIGEST, "the image tag (the git commit) must look like a 40-character hex git sha"),
    (REPOSITORY_URI, GIT_SHA, "sha256:abc", "the image digest must look like sha256:<64 hex digits>"),
    (REPOSITORY_URI, GIT_SHA, "None", "the image digest must look like"),
])
def test_image_reference_rejects_anything_but_an_ecr_repository_sha_tag_and_digest(repository, tag, digest, message):
    with pytest.raises(ArtifactError, match=re.escape(message)):
        image_reference(repository, tag, digest)


def test_the_release_record_says_what_was_built_from_which_commit_by_which_build():
    assert release_record(IMAGE, "dev", BUILD_ID, PIPELINE_EXECUTION_ID, BUILT_AT) == {
        "schema": 1, "commit": GIT_SHA, "image": IMAGE, "stack": "dev", "buildId": BUILD_ID,
        "pipelineExecutionId": PIPELINE_EXECUTION_ID, "builtAt": BUILT_AT, "contract": "contract/openapi.json",
        "drillFailureRate": 0.0}


@pytest.mark.parametrize(("rate", "recorded"), [("0", 0.0), ("", 0.0), ("0.25", 0.25), ("1", 1.0)])
def test_a_drill_release_records_its_failure_rate(rate, recorded):
    assert release_record(IMAGE, "dev", BUILD_ID, "", BUILT_AT, rate)["drillFailureRate"] == recorded


def test_a_build_outside_a_pipeline_records_no_execution():
    assert release_record(IMAGE, "dev", BUILD_ID, "", BUILT_AT)["pipelineExecutionId"] == ""


@pytest.mark.parametrize(("stack", "build_id", "execution", "built_at", "message"), [
    ("", BUILD_ID, "", BUILT_AT, "the building stack (DELIVERY_STACK) must look like dev"),
    ("dev/prod", BUILD_ID, "", BUILT_AT, "the building stack (DELIVERY_STACK) must look like dev"),
    ("dev", "", "", BUILT_AT, "the build ID (CODEBUILD_BUILD_ID) must look like <project>:<build uuid>"),
    ("dev", "delivery-dev-build", "", BUILT_AT, "the build ID (CODEBUILD_BUILD_ID) must look like"),
    ("dev", BUILD_ID, "#{codepipeline.PipelineExecutionId}", BUILT_AT,
     "the pipeline execution ID (PIPELINE_EXECUTION_ID) must look like a lowercase UUID"),
    ("dev", BUILD_ID, "", "2026-11-26 12:00:00", "the build time (--built-at) must be UTC like 2026-11-26T12:00:00Z"),
    ("dev", BUILD_ID, "", "2026-13-26T12:00:00Z", "the build time (--built-at) must be UTC like"),
])
def test_the_release_record_refuses_an_identity_it_cannot_vouch_for(stack, build_id, execution, built_at, message):
    with pytest.raises(ArtifactError, match=re.escape(message)):
        release_record(IMAGE, stack, build_id, execution, built_at)


@pytest.mark.parametrize("rate", ["50%", "1.5", "-0.1", "nan"])
def test_the_release_record_refuses_a_drill_rate_the_service_would_refuse(rate):
    with pytest.raises(ArtifactError, match=re.escape("DRILL_FAILURE_RATE must be a fraction from 0 to 1")):
        release_record(IMAGE, "dev", BUILD_ID, "", BUILT_AT, rate)


def write_bundle(out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.artifact", "--out", str(out), "--repository-uri", REPOSITORY_URI,
         "--commit", GIT_SHA, "--digest", DIGEST, "--stack", "dev", "--build-id", BUILD_ID, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_the_bundle_holds_the_image_the_release_record_and_the_contract_and_nothing_about_an_environment(tmp_path):
    out = tmp_path / "bundle"
    result = write_bundle(out, "--pipeline-execution-id", PIPELINE_EXECUTION_ID, "--built-at", BUILT_AT)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "contract/openapi.json", "image.json", "release.json"]
    assert json.loads((out / "image.json").read_text()) == IMAGE
    assert json.loads((out / "release.json").read_text()) == release_record(
        IMAGE, "dev", BUILD_ID, PIPELINE_EXECUTION_ID, BUILT_AT)


def test_the_bundles_contract_is_the_document_the_service_serves(tmp_path):
    assert write_bundle(tmp_path).returncode == 0
    carried = json.loads((tmp_path / "contract" / "openapi.json").read_text())
    assert carried == json.loads(json.dumps(service_document()))
    assert (tmp_path / "contract" / "openapi.json").read_text() == CONTRACT.read_text()  # written as `accept` does


def test_the_build_time_defaults_to_now_in_utc(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    assert write_bundle(tmp_path).returncode == 0
    built_at = json.loads((tmp_path / "release.json").read_text())["builtAt"]
    recorded = datetime.strptime(built_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= recorded <= datetime.now(UTC) + timedelta(seconds=1)


def test_the_command_reports_a_bad_input_in_one_line_and_writes_nothing(tmp_path):
    result = write_bundle(tmp_path / "bundle", "--pipeline-execution-id", "not-an-execution")
    assert result.returncode == 2
    assert result.stderr == ("error: the pipeline execution ID (PIPELINE_EXECUTION_ID) must look like a lowercase "
                             "UUID, or empty outside a pipeline, got 'not-an-execution'.\n")
    assert not (tmp_path / "bundle").exists()


def test_an_unwritable_bundle_directory_is_reported_in_one_line(tmp_path):
    (tmp_path / "bundle").write_text("a file where the directory should be")
    result = write_bundle(tmp_path / "bundle")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot write the bundle's records into {tmp_path / 'bundle'}: ")
    assert len(result.stderr.splitlines()) == 1
