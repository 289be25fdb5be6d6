"""app/ci/build_image.sh (CodeBuild's build phase) with stand-in `docker` and `aws`: the tag is the git sha
and is pushed once, the digest comes from the registry, and the bundle holds what CodeDeploy needs and the
release's record, and nothing about any one environment."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from app.tests.conftest import APP, BUILD_ID, DIGEST, GIT_SHA, PIPELINE_EXECUTION_ID, REPOSITORY_URI

REGISTRY = REPOSITORY_URI.split("/")[0]


@pytest.fixture
def build_env(standins, tmp_path):
    return {**standins.env,
            "REPOSITORY_URI": REPOSITORY_URI, "REPOSITORY_NAME": "app-abc123", "AWS_ACCOUNT_ID": "123456789012",
            "AWS_DEFAULT_REGION": "us-east-1", "DELIVERY_STACK": "dev", "RELEASE_BUCKET": "delivery-releases-abc",
            "CODEBUILD_BUILD_ID": BUILD_ID, "PIPELINE_EXECUTION_ID": PIPELINE_EXECUTION_ID, "DRILL_FAILURE_RATE": "0",
            "CODEBUILD_RESOLVED_SOURCE_VERSION": GIT_SHA,
            "STANDIN_REGISTRY": str(tmp_path / "registry"), "STANDIN_PUSHED_DIGEST": DIGEST,
            "STANDIN_ECR_PASSWORD": "tok3n", "BUILD_BUNDLE_OUT": str(tmp_path / "bundle")}


def build(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(APP / "ci" / "build_image.sh")], env=env, capture_output=True, text=True,
                          timeout=60, cwd="/")


def test_builds_and_pushes_the_git_sha_tag_once_and_records_the_pushed_digest(build_env, standins, tmp_path):
    result = build(build_env)
    assert result.returncode == 0, result.stderr
    docker = standins.commands("docker")
    assert docker[0] == ["login", "--username", "AWS", "--password-stdin", REGISTRY]
    assert docker[1][:3] == ["build", "--build-arg", f"GIT_SHA={GIT_SHA}"]
    assert docker[1][-3:] == ["--tag", f"{REPOSITORY_URI}:{GIT_SHA}", "app"]
    assert docker[2:] == [["push", f"{REPOSITORY_URI}:{GIT_SHA}"]]
    lookups = [c for c in standins.commands("aws") if c[:2] == ["ecr", "batch-get-image"]]
    assert lookups == [["ecr", "batch-get-image", "--region", "us-east-1", "--repository-name", "app-abc123",
                        "--image-ids", f"imageTag={GIT_SHA}", "--query", "images[0].imageId.imageDigest",
                        "--output", "text"]] * 2
    image = json.loads((tmp_path / "bundle" / "image.json").read_text())
    assert image == {"repository": REPOSITORY_URI, "tag": GIT_SHA, "digest": DIGEST,
                     "uri": f"{REPOSITORY_URI}@{DIGEST}"}
    assert "tok3n" not in result.stdout + result.stderr


def test_bundle_has_appspec_at_its_root_hooks_executable_and_the_releases_records(build_env, tmp_path):
    assert build(build_env).returncode == 0
    bundle = tmp_path / "bundle"
    assert (bundle / "appspec.yml").read_text() == (APP / "appspec.yml").read_text()
    hooks = sorted(p.name for p in (bundle / "hooks").iterdir())
    assert hooks == sorted(p.name for p in (APP / "hooks").glob("*.sh"))
    assert all(os.access(p, os.X_OK) for p in (bundle / "hooks").iterdir())
    assert sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()
                  and p.parent.name != "hooks") == ["appspec.yml", "contract/openapi.json", "image.json",
                                                    "release.json"]


def test_the_release_record_names_the_commit_the_image_and_this_build(build_env, standins, tmp_path):
    assert build(build_env).returncode == 0
    release = json.loads((tmp_path / "bundle" / "release.json").read_text())
    image = json.loads((tmp_path / "bundle" / "image.json").read_text())
    assert {k: v for k, v in release.items() if k != "builtAt"} == {
        "schema": 1, "commit": GIT_SHA, "image": image, "stack": "dev", "buildId": BUILD_ID,
        "pipelineExecutionId": PIPELINE_EXECUTION_ID, "contract": "contract/openapi.json", "drillFailureRate": 0.0}
    (docker_build,) = [c for c in standins.commands("docker") if c[0] == "build"]
    assert f"BUILD_TIME={release['builtAt']}" in docker_build  # the image and its record tell the same time


def test_a_build_outside_a_pipeline_records_no_execution(build_env, tmp_path):
    result = build({k: v for k, v in build_env.items() if k != "PIPELINE_EXECUTION_ID"})
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "bundle" / "release.json").read_text())["pipelineExecutionId"] == ""


def test_a_retried_build_reuses_the_immutable_tag_instead_of_pushing_again(build_env, standins, tmp_path):
    (tmp_path / "registry").write_text(DIGEST)  # the registry already holds <repo>:<git sha>
    result = build(build_env)
    assert result.returncode == 0, result.stderr
    assert "is already in the registry" in result.stdout
    assert [c[0] for c in standins.commands("docker")] == ["login"]
    assert json.loads((tmp_path / "bundle" / "image.json").read_text())["digest"] == DIGEST


def test_never_pushes_a_moving_tag(build_env, standins):
    assert build(build_env).returncode == 0
    pushed = [c[1] for c in standins.commands("docker") if c[0] == "push"]
    assert pushed == [f"{REPOSITORY_URI}:{GIT_SHA}"]


@pytest.mark.parametrize(("override", "message"), [
    ({"CODEBUILD_RESOLVED_SOURCE_VERSION": "main"}, "build: CODEBUILD_RESOLVED_SOURCE_VERSION is 'main', not a git"),
    ({"DELIVERY_STACK": ""}, "build: DELIVERY_STACK is not set (the CodeBuild project sets it)"),
    ({"REPOSITORY_URI": ""}, "build: REPOSITORY_URI is not set (the CodeBuild project sets it)"),
    ({"CODEBUILD_BUILD_ID": ""}, "build: CODEBUILD_BUILD_ID is not set (CodeBuild sets it in every build)"),
])
def test_missing_or_bad_build_environment_fails_before_anything_is_pushed(build_env, standins, override, message):
    result = build({**build_env, **override})
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert standins.calls() == []


def test_fails_when_the_registry_has_no_digest_after_the_push(build_env, standins):
    result = build({**build_env, "STANDIN_REGISTRY": ""})  # the push "succeeds" but the registry never has it
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"could not resolve the digest of {REPOSITORY_URI}:{GIT_SHA} (registry said 'None')")


def test_a_failing_docker_build_fails_the_build_without_pushing(build_env, standins):
    result = build({**build_env, "STANDIN_DOCKER_BUILD_EXIT": "1"})
    assert result.returncode == 1
    assert "push" not in [c[0] for c in standins.commands("docker")]


def test_the_build_needs_no_environments_settings(build_env, tmp_path):
    """Region, port, log group and bake time are each instance's (its deploy.env), not the build's."""
    env = {k: v for k, v in build_env.items() if k not in ("AWS_REGION", "APP_PORT", "APP_LOG_GROUP", "BAKE_MINUTES")}
    assert build(env).returncode == 0
    result = build({**env, "APP_LOG_GROUP": "/delivery/dev/app", "BAKE_MINUTES": "999"})  # ignored if set
    assert result.returncode == 0, result.stderr
    written = "".join(p.read_text() for p in (tmp_path / "bundle").rglob("*.json"))
    assert "/delivery/dev/app" not in written and "999" not in written


def test_a_drill_build_makes_a_drill_release(build_env, tmp_path):
    assert build({**build_env, "DRILL_FAILURE_RATE": "0.2"}).returncode == 0
    assert json.loads((tmp_path / "bundle" / "release.json").read_text())["drillFailureRate"] == 0.2


def test_a_bad_drill_rate_fails_the_build_before_anything_is_pushed(build_env, standins):
    result = build({**build_env, "DRILL_FAILURE_RATE": "50%"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: DRILL_FAILURE_RATE must be a fraction from 0 to 1")
    assert standins.calls() == []


def test_a_bad_build_identity_fails_with_one_line(build_env):
    result = build({**build_env, "PIPELINE_EXECUTION_ID": "#{codepipeline.PipelineExecutionId}"})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "error: the pipeline execution ID (PIPELINE_EXECUTION_ID) must look like a lowercase UUID")
