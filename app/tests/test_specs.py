"""buildspec.yml, appspec.yml, the Dockerfile and the scripts, checked for the structure CodeBuild, CodeDeploy
and Docker need, and shellcheck-clean."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.tests.conftest import (
    APP,
    BUILD_OUTPUT,
    DIGEST,
    INSTALLED_MODULES,
    ROOT,
    buildspec_commands,
    installed_tool,
    module_file,
    modules_run,
    paths_named,
    release_bundle,
)

CODEDEPLOY_MAX_HOOK_TIMEOUT = 3600
HOOKS = ("ApplicationStop", "BeforeInstall", "ApplicationStart", "ValidateService", "AfterAllowTraffic")
SCRIPTS = sorted([*APP.glob("hooks/*.sh"), *APP.glob("ci/*.sh")])


def load(name: str) -> dict:
    return yaml.safe_load((APP / name).read_text())


# buildspec.yml


def test_buildspec_is_version_0_2_in_bash_and_stops_at_the_first_failing_phase():
    spec = load("buildspec.yml")
    assert spec["version"] == 0.2
    assert spec["env"]["shell"] == "bash"
    assert list(spec["phases"]) == ["install", "pre_build", "build"]
    assert all(phase["on-failure"] == "ABORT" for phase in spec["phases"].values())


def test_buildspec_tests_and_checks_the_contract_before_building():
    phases = load("buildspec.yml")["phases"]
    assert phases["install"]["runtime-versions"] == {"python": "3.11"}
    assert any("app/requirements-test.txt" in c and "app/constraints.txt" in c for c in phases["install"]["commands"])
    assert phases["pre_build"]["commands"] == ["python -m pytest app/tests -q -p no:cacheprovider",
                                               "python -m app.contract check",
                                               'python -m app.contract live --bucket "$RELEASE_BUCKET"']
    assert phases["build"]["commands"][0] == "bash app/ci/build_image.sh"


def test_buildspec_needs_nothing_outside_app_so_a_repository_made_from_the_template_can_run_it():
    for command in buildspec_commands(load("buildspec.yml")):
        for path in paths_named(command):
            assert path.startswith("app/"), f"`{command}` names {path}, outside app/ (the template)"
            if not path.startswith(BUILD_OUTPUT):
                assert (ROOT / path).exists(), f"`{command}` names {path}, which does not exist"
        for module in modules_run(command):
            assert module in INSTALLED_MODULES or module_file(ROOT, module) is not None, (
                f"`{command}` runs {module}, which is neither in app/ nor installed by app/requirements-test.txt")


def test_buildspec_sets_nothing_about_an_environment():
    """The bundle is promoted unchanged, so the build takes no environment's settings (each instance has its own
    deploy.env), only what the release carries; its header names the variables it needs."""
    buildspec = load("buildspec.yml")
    assert buildspec["env"]["variables"] == {"DRILL_FAILURE_RATE": "0"}  # the drill is off unless the project says
    text = (APP / "buildspec.yml").read_text()
    header = text.split("\nversion:")[0]
    for name in ("REPOSITORY_URI", "REPOSITORY_NAME", "DELIVERY_STACK", "RELEASE_BUCKET", "DRILL_FAILURE_RATE",
                 "PIPELINE_EXECUTION_ID", "CODEBUILD_BUILD_ID", "CODEBUILD_RESOLVED_SOURCE_VERSION"):
        assert name in header
    for name in ("APP_PORT", "APP_LOG_GROUP", "BAKE_MINUTES"):
        assert name not in text


def test_buildspec_artifact_puts_appspec_at_its_root():
    artifacts = load("buildspec.yml")["artifacts"]
    assert artifacts == {"base-directory": "app/dist/bundle", "files": ["**/*"]}
    script = (APP / "ci" / "build_image.sh").read_text()
    assert 'BUILD_BUNDLE_OUT="${BUILD_BUNDLE_OUT:-app/dist/bundle}"' in script
    assert 'cp app/appspec.yml "$BUILD_BUNDLE_OUT/"' in script


def test_buildspec_exports_the_pushed_image_by_digest_and_the_commit(tmp_path):
    buildspec = load("buildspec.yml")
    assert buildspec["env"]["exported-variables"] == ["IMAGE_URI", "IMAGE_DIGEST", "RELEASE_COMMIT"]
    commands = buildspec["phases"]["build"]["commands"]
    exports = commands[commands.index("bash app/ci/build_image.sh") + 1:]
    bundle = tmp_path / "app" / "dist" / "bundle"
    release_bundle(bundle, commit="1" * 40)
    reference = json.loads((bundle / "image.json").read_text())
    script = "\n".join([*exports, 'echo "$IMAGE_URI $IMAGE_DIGEST $RELEASE_COMMIT"'])
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `python`, as CodeBuild has it
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [reference["uri"], DIGEST, "1" * 40]


# appspec.yml


def test_appspec_is_an_ec2_in_place_spec_installing_to_a_fixed_directory():
    spec = load("appspec.yml")
    assert spec["version"] == 0.0
    assert spec["os"] == "linux"
    assert spec["files"] == [{"source": "/", "destination": "/opt/app/deploy"}]
    assert spec["file_exists_behavior"] == "OVERWRITE"


def test_appspec_has_exactly_the_four_hooks_in_lifecycle_order():
    assert list(load("appspec.yml")["hooks"]) == list(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_has_one_script_with_a_timeout_within_codedeploy_limits(hook):
    (entry,) = load("appspec.yml")["hooks"][hook]
    assert isinstance(entry["timeout"], int) and 0 < entry["timeout"] <= CODEDEPLOY_MAX_HOOK_TIMEOUT
    assert entry["runas"] == "root"
    script = APP / entry["location"]
    assert script.is_file(), f"{hook} points at {entry['location']}, which does not exist"
    assert os.access(script, os.X_OK), f"{entry['location']} is not executable"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert f"\nHOOK={hook}\n" in text


def test_hook_timeouts_leave_room_for_the_scripts_own_bounds():
    hooks = load("appspec.yml")["hooks"]
    validate = (APP / "hooks" / "validate_service.sh").read_text()
    stop = (APP / "hooks" / "application_stop.sh").read_text()
    validate_bound = int(re.search(r"HOOK_VALIDATE_TIMEOUT:-(\d+)", validate).group(1))
    stop_bound = int(re.search(r"HOOK_STOP_TIMEOUT:-(\d+)", stop).group(1))
    assert hooks["ValidateService"][0]["timeout"] >= validate_bound + 60
    assert hooks["ApplicationStop"][0]["timeout"] >= stop_bound + 60


# Dockerfile


def test_dockerfile_is_multi_stage_from_a_base_pinned_by_digest():
    text = (APP / "Dockerfile").read_text()
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE).group(1)
    assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", base)
    assert re.findall(r"^FROM (.+)$", text, re.MULTILINE) == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]


def test_dockerfile_final_stage_runs_as_non_root_with_a_healthcheck():
    final = (APP / "Dockerfile").read_text().split("\nFROM ${BASE_IMAGE}\n")[1]
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    assert 'HEALTHCHECK' in final and '"python", "-m", "app.healthcheck"' in final
    assert 'CMD ["python", "-m", "app"]' in final
    assert "pip install" not in final  # dependencies come from the build stage's virtualenv


def test_dockerignore_keeps_tests_and_deployment_files_out_of_the_image():
    ignored = {line for line in (APP / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")}
    assert {"tests/", "hooks/", "ci/", "dist/", "buildspec.yml", "appspec.yml", "requirements-test.txt"} <= ignored
    assert "requirements.txt" not in ignored and "constraints.txt" not in ignored  # the build stage needs them


def test_constraints_pin_every_runtime_requirement_exactly():
    pins = {line.split("==")[0].lower() for line in (APP / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    wanted = {re.split(r"[\[<>=]", line)[0].lower() for line in (APP / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    assert wanted <= pins
    assert all("==" in line for line in (APP / "constraints.txt").read_text().splitlines()
               if line and not line.startswith("#"))


# shell scripts


def shellcheck() -> str:
    return installed_tool("shellcheck")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_is_shellcheck_clean(script):
    path = str(script.relative_to(ROOT))
    result = subprocess.run([shellcheck(), "--external-sources", "--severity=style", path], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_common_hook_library_is_shellcheck_clean():
    result = subprocess.run([shellcheck(), "--shell=bash", "app/hooks/common.sh"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
