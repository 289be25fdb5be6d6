"""app.artifact: the bundle's image.json and deploy.env, and its refusal of anything but a digest reference."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from app.artifact import ArtifactError, deploy_settings, image_reference
from app.tests.conftest import DIGEST, GIT_SHA, REPOSITORY_URI, ROOT


def test_image_reference_pins_the_uri_to_the_digest():
    assert image_reference(REPOSITORY_URI, GIT_SHA, DIGEST) == {
        "repository": REPOSITORY_URI, "tag": GIT_SHA, "digest": DIGEST, "uri": f"{REPOSITORY_URI}@{DIGEST}"}


@pytest.mark.parametrize(("repository", "tag", "digest", "message"), [
    ("docker.io/library/app", GIT_SHA, DIGEST, "the repository URI must look like"),
    (REPOSITORY_URI, "latest", DIGEST, "the image tag (the git commit) must look like a 40-character hex git sha"),
    (REPOSITORY_URI, GIT_SHA, "sha256:abc", "the image digest must look like sha256:<64 hex digits>"),
    (REPOSITORY_URI, GIT_SHA, "None", "the image digest must look like"),
])
def test_image_reference_rejects_anything_but_an_ecr_repository_sha_tag_and_digest(repository, tag, digest, message):
    with pytest.raises(ArtifactError, match=re.escape(message)):
        image_reference(repository, tag, digest)


@pytest.mark.parametrize(("args", "message"), [
    (("Virginia", "8080", "/g", "0"), "the AWS region must look like us-east-1"),
    (("us-east-1", "0", "/g", "0"), "APP_PORT must be a TCP port number"),
    (("us-east-1", "8080", "", "0"), "the log group (APP_LOG_GROUP) must look like"),
    (("us-east-1", "8080", "/g", "2"), "DRILL_FAILURE_RATE must be a fraction from 0 to 1"),
])
def test_deploy_settings_are_validated(args, message):
    with pytest.raises(ArtifactError, match=re.escape(message)):
        deploy_settings(*args)


def test_deploy_env_is_safe_to_source_whatever_the_values(tmp_path):
    out = tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "app.artifact", "--out", str(out), "--repository-uri", REPOSITORY_URI, "--tag", GIT_SHA,
         "--digest", DIGEST, "--region", "eu-west-2", "--log-group", "/app/#1", "--drill-failure-rate", ""],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sourced = subprocess.run(["bash", "-c", f'source "{out}/deploy.env" && echo "$APP_LOG_GROUP|$DRILL_FAILURE_RATE"'],
                             capture_output=True, text=True, timeout=10)
    assert sourced.stdout.strip() == "/app/#1|0"
    assert json.loads((out / "image.json").read_text())["uri"] == f"{REPOSITORY_URI}@{DIGEST}"


def test_the_command_reports_a_bad_input_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app.artifact", "--out", str(tmp_path), "--repository-uri", REPOSITORY_URI, "--tag",
         GIT_SHA, "--digest", "sha256:nope", "--region", "us-east-1", "--log-group", "/g"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "error: the image digest must look like sha256:<64 hex digits>, got 'sha256:nope'.\n"
    assert not (tmp_path / "image.json").exists()
