"""app/ci/build_image.sh (CodeBuild's build phase) with stand-in `docker` and `aws`: the tag is the git sha
and is pushed once, the digest comes from the registry, and the bundle holds what CodeDeploy needs."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from app.tests.conftest import APP, DIGEST, GIT_SHA, REPOSITORY_URI

REGISTRY = REPOSITORY_URI.split("/")[0]


@pytest.fixture
def build_env(standins, tmp_path):
    return {**standins.env,
            "REPOSITORY_URI": REPOSITORY_URI, "REPOSITORY_NAME": "app-abc123", "AWS_ACCOUNT_ID": "123456789012",
            "AWS_DEFAULT_REGION": "us-east-1", "APP_PORT": "8080", "APP_LOG_GROUP": "/delivery/dev/app",
            "DRILL_FAILURE_RATE": "0", "CODEBUILD_RESOLVED_SOURCE_VERSION": GIT_SHA,
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


def test_bundle_has_appspec_at_its_root_hooks_executable_and_the_deploy_settings(build_env, tmp_path):
    assert build({**build_env, "DRILL_FAILURE_RATE": "0.2", "APP_PORT": "8081"}).returncode == 0
    bundle = tmp_path / "bundle"
    assert (bundle / "appspec.yml").read_text() == (APP / "appspec.yml").read_text()
    hooks = sorted(p.name for p in (bundle / "hooks").iterdir())
    assert hooks == sorted(p.name for p in (APP / "hooks").glob("*.sh"))
    assert all(os.access(p, os.X_OK) for p in (bundle / "hooks").iterdir())
    deploy_env = (bundle / "deploy.env").read_text().splitlines()[1:]
    assert deploy_env == ["AWS_REGION=us-east-1", "APP_PORT=8081", "APP_LOG_GROUP=/delivery/dev/app",
                          "DRILL_FAILURE_RATE=0.2", "BAKE_MINUTES=30"]


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
    ({"APP_LOG_GROUP": ""}, "build: APP_LOG_GROUP is not set (the CodeBuild project sets it)"),
    ({"REPOSITORY_URI": ""}, "build: REPOSITORY_URI is not set (the CodeBuild project sets it)"),
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


def test_a_bad_drill_rate_fails_the_build_before_anything_is_pushed(build_env, standins):
    result = build({**build_env, "DRILL_FAILURE_RATE": "50%"})
    assert result.returncode == 1
    assert result.stderr.startswith("error: DRILL_FAILURE_RATE must be a fraction from 0 to 1")
    assert standins.calls() == []
