"""The CodeDeploy hook scripts, run from a bundle as the agent runs them: ValidateService against the live
service, the others against a stand-in `docker` (and `aws`) that records its arguments."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from app.tests.conftest import DIGEST, GIT_SHA, OTHER_DIGEST, REPOSITORY_URI, free_port, run_hook

IMAGE_URI = f"{REPOSITORY_URI}@{DIGEST}"


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


QUICK = {"HOOK_VALIDATE_TIMEOUT": "1", "HOOK_VALIDATE_INTERVAL": "0.1"}


# ValidateService


def test_validate_service_passes_when_healthy_with_the_deployed_digest(service, bundle, standins):
    result = run_hook(bundle(digest=DIGEST, port=service.port), "validate_service.sh", {**standins.env, **QUICK})
    assert result.returncode == 0, result.stderr
    assert f"ValidateService: healthy and serving {IMAGE_URI}" in result.stdout


def test_validate_service_fails_on_a_wrong_digest(service, bundle, standins):
    result = run_hook(bundle(digest=OTHER_DIGEST, port=service.port), "validate_service.sh", {**standins.env, **QUICK})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"ValidateService: /version reports digest {DIGEST}, expected {OTHER_DIGEST}")
    assert ["logs", "--tail", "20", "app"] in standins.commands("docker")  # evidence for diagnose


def test_validate_service_fails_within_its_bound_when_nothing_answers(bundle, standins):
    started = time.monotonic()
    result = run_hook(bundle(port=free_port()), "validate_service.sh", {**standins.env, **QUICK})
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ValidateService: /healthz did not return 200 within 1s (last status none, no answer)")


def test_validate_service_fails_with_the_last_status_while_the_service_is_unhealthy(start_service, bundle, standins):
    service = start_service(APP_IMAGE_DIGEST=DIGEST, APP_DRAIN_SECONDS="60")
    service.process.send_signal(signal.SIGTERM)  # draining: /healthz answers 503 for a minute
    wait_until(lambda: httpx.get(f"{service.url}/healthz").status_code == 503)
    result = run_hook(bundle(port=service.port), "validate_service.sh", {**standins.env, **QUICK})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ValidateService: /healthz did not return 200 within 1s (last status 503)")


@pytest.mark.parametrize(("setting", "message"), [
    ({"HOOK_VALIDATE_TIMEOUT": "soon"}, "ValidateService: HOOK_VALIDATE_TIMEOUT must be whole seconds, got 'soon'"),
    ({"HOOK_VALIDATE_INTERVAL": "2s"},
     "ValidateService: HOOK_VALIDATE_INTERVAL must be seconds (e.g. 2 or 0.5), got '2s'"),
])
def test_validate_service_rejects_a_bad_timing_setting(bundle, standins, setting, message):
    result = run_hook(bundle(), "validate_service.sh", {**standins.env, **setting})
    assert result.returncode == 1
    assert result.stderr.strip() == message


# ApplicationStop


def test_application_stop_succeeds_when_nothing_runs(bundle, standins):
    result = run_hook(bundle(), "application_stop.sh", standins.env)
    assert result.returncode == 0, result.stderr
    assert "ApplicationStop: no container named app; nothing to stop" in result.stdout
    assert standins.commands("docker") == [["ps", "--all", "--quiet", "--filter", "name=^/?app$"]]


def test_application_stop_stops_gracefully_then_removes(bundle, standins):
    result = run_hook(bundle(), "application_stop.sh", {**standins.env, "STANDIN_DOCKER_PS": "4f2a9c1b"})
    assert result.returncode == 0, result.stderr
    assert standins.commands("docker")[1:] == [["stop", "--time", "30", "app"], ["rm", "--force", "app"]]


def test_application_stop_reports_a_failing_docker_by_hook_name(bundle, standins):
    env = {**standins.env, "STANDIN_DOCKER_PS": "4f2a9c1b", "STANDIN_DOCKER_STOP_EXIT": "1"}
    result = run_hook(bundle(), "application_stop.sh", env)
    assert result.returncode == 1
    assert result.stderr.startswith("ApplicationStop: command failed (exit 1) at application_stop.sh:")
    assert "docker stop" in result.stderr


# BeforeInstall


def test_before_install_logs_in_and_pulls_by_digest_then_logs_out(bundle, standins):
    result = run_hook(bundle(), "before_install.sh", {**standins.env, "STANDIN_ECR_PASSWORD": "tok3n"})
    assert result.returncode == 0, result.stderr
    registry = REPOSITORY_URI.split("/")[0]
    assert standins.commands("aws") == [["ecr", "get-login-password", "--region", "us-east-1"]]
    assert standins.commands("docker") == [
        ["login", "--username", "AWS", "--password-stdin", registry],
        ["pull", "--quiet", IMAGE_URI],
        ["logout", registry],
    ]
    assert standins.calls("docker")[0]["stdin"].strip() == "tok3n"  # through stdin, never an argument
    assert "tok3n" not in result.stdout + result.stderr


def test_before_install_fails_clearly_when_the_pull_fails(bundle, standins):
    result = run_hook(bundle(), "before_install.sh", {**standins.env, "STANDIN_DOCKER_PULL_EXIT": "1"})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"BeforeInstall: could not pull {IMAGE_URI} (")
    assert standins.commands("docker")[-1][0] == "logout"


def test_before_install_refuses_an_image_json_without_a_digest_uri(bundle, standins):
    root = bundle()
    (root / "image.json").write_text(
        f'{{"repository": "{REPOSITORY_URI}", "tag": "{GIT_SHA}", "digest": "{DIGEST}",'
        f' "uri": "{REPOSITORY_URI}:{GIT_SHA}"}}')
    result = run_hook(root, "before_install.sh", standins.env)
    assert result.returncode == 1
    assert "is not repository@digest; refusing to deploy by anything but digest" in result.stderr
    assert standins.commands("docker") == []


def test_before_install_names_a_missing_bundle_input(bundle, standins):
    root = bundle()
    (root / "image.json").unlink()
    result = run_hook(root, "before_install.sh", standins.env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"BeforeInstall: {root}/image.json is missing: the build writes it into the bundle (python -m app.artifact)")


# ApplicationStart


def test_application_start_runs_the_digest_with_restart_port_version_and_logs(bundle, standins):
    env = {**standins.env, "HOOK_LOG_STREAM_PREFIX": "ip-10-0-1-5"}
    result = run_hook(bundle(port=8081, drill="0.25", log_group="/delivery/dev/app"), "application_start.sh", env)
    assert result.returncode == 0, result.stderr
    assert standins.commands("docker") == [
        ["ps", "--all", "--quiet", "--filter", "name=^/?app$"],
        ["run", "--detach",
         "--name", "app",
         "--restart", "unless-stopped",
         "--publish", "8081:8081",
         "--env", "APP_PORT=8081",
         "--env", f"APP_IMAGE_DIGEST={DIGEST}",
         "--env", "DRILL_FAILURE_RATE=0.25",
         "--log-driver", "awslogs",
         "--log-opt", "awslogs-region=us-east-1",
         "--log-opt", "awslogs-group=/delivery/dev/app",
         "--log-opt", "tag=ip-10-0-1-5/{{.Name}}/{{.ID}}",
         "--log-opt", "mode=non-blocking",
         "--log-opt", "max-buffer-size=4m",
         "--read-only", "--tmpfs", "/tmp",
         "--cap-drop", "ALL",
         "--security-opt", "no-new-privileges",
         IMAGE_URI],
    ]


def test_application_start_replaces_a_leftover_container(bundle, standins):
    result = run_hook(bundle(), "application_start.sh", {**standins.env, "STANDIN_DOCKER_PS": "4f2a9c1b"})
    assert result.returncode == 0, result.stderr
    commands = standins.commands("docker")
    assert commands[1] == ["rm", "--force", "app"]
    assert commands[2][0] == "run"


def test_application_start_fails_clearly_when_docker_run_fails(bundle, standins):
    result = run_hook(bundle(), "application_start.sh", {**standins.env, "STANDIN_DOCKER_RUN_EXIT": "125"})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"ApplicationStart: docker run of {IMAGE_URI} failed")


# What the hooks tell the instance's health reporter (components/fleet_health_report.sh)


def test_a_validated_release_is_recorded_for_the_health_reporter(service, bundle, standins):
    state = Path(standins.env["HOOK_HEALTH_STATE_DIR"])
    state.mkdir()
    (state / "deploying").touch()
    result = run_hook(bundle(digest=DIGEST, port=service.port), "validate_service.sh", {**standins.env, **QUICK})
    assert result.returncode == 0, result.stderr
    assert (state / "released").read_text() == f"{service.port}\n"
    assert not (state / "deploying").exists()


def test_a_release_that_fails_validation_is_not_recorded(bundle, standins):
    result = run_hook(bundle(port=free_port()), "validate_service.sh", {**standins.env, **QUICK})
    assert result.returncode == 1
    assert not (Path(standins.env["HOOK_HEALTH_STATE_DIR"]) / "released").exists()


@pytest.mark.parametrize("script", ["application_stop.sh", "before_install.sh"])
def test_stopping_or_replacing_the_app_holds_the_health_reporter_off(bundle, standins, script):
    run_hook(bundle(), script, standins.env)
    assert (Path(standins.env["HOOK_HEALTH_STATE_DIR"]) / "deploying").exists()
