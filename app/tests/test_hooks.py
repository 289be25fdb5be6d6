"""The CodeDeploy hook scripts, run from a bundle as the agent runs them, on an "instance" whose deploy.env its
boot script wrote: ValidateService against the live service, the others against a stand-in `docker` (and `aws`)
that records its arguments."""

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


def test_validate_service_passes_when_healthy_with_the_deployed_digest(service, bundle, instance):
    result = run_hook(bundle(digest=DIGEST), "validate_service.sh", instance.env(port=service.port, **QUICK))
    assert result.returncode == 0, result.stderr
    assert f"ValidateService: healthy and serving {IMAGE_URI}" in result.stdout


def test_validate_service_fails_on_a_wrong_digest(service, bundle, instance, standins):
    result = run_hook(bundle(digest=OTHER_DIGEST), "validate_service.sh", instance.env(port=service.port, **QUICK))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"ValidateService: /version reports digest {DIGEST}, expected {OTHER_DIGEST}")
    assert ["logs", "--tail", "20", "app"] in standins.commands("docker")  # evidence for diagnose


def test_validate_service_fails_within_its_bound_when_nothing_answers(bundle, instance):
    started = time.monotonic()
    result = run_hook(bundle(), "validate_service.sh", instance.env(port=free_port(), **QUICK))
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ValidateService: /healthz did not return 200 within 1s (last status none, no answer)")


def test_validate_service_fails_with_the_last_status_while_the_service_is_unhealthy(start_service, bundle, instance):
    service = start_service(APP_IMAGE_DIGEST=DIGEST, APP_DRAIN_SECONDS="60")
    service.process.send_signal(signal.SIGTERM)  # draining: /healthz answers 503 for a minute
    wait_until(lambda: httpx.get(f"{service.url}/healthz").status_code == 503)
    result = run_hook(bundle(), "validate_service.sh", instance.env(port=service.port, **QUICK))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ValidateService: /healthz did not return 200 within 1s (last status 503)")


@pytest.mark.parametrize(("setting", "message"), [
    ({"HOOK_VALIDATE_TIMEOUT": "soon"}, "ValidateService: HOOK_VALIDATE_TIMEOUT must be whole seconds, got 'soon'"),
    ({"HOOK_VALIDATE_INTERVAL": "2s"},
     "ValidateService: HOOK_VALIDATE_INTERVAL must be seconds (e.g. 2 or 0.5), got '2s'"),
])
def test_validate_service_rejects_a_bad_timing_setting(bundle, instance, setting, message):
    result = run_hook(bundle(), "validate_service.sh", instance.env(**setting))
    assert result.returncode == 1
    assert result.stderr.strip() == message


# ApplicationStop


def test_application_stop_succeeds_when_nothing_runs(bundle, instance, standins):
    result = run_hook(bundle(), "application_stop.sh", instance.env())
    assert result.returncode == 0, result.stderr
    assert "ApplicationStop: no container named app; nothing to stop" in result.stdout
    assert standins.commands("docker") == [["ps", "--all", "--quiet", "--filter", "name=^/?app$"]]


def test_application_stop_stops_gracefully_then_removes(bundle, instance, standins):
    result = run_hook(bundle(), "application_stop.sh", instance.env(STANDIN_DOCKER_PS="4f2a9c1b"))
    assert result.returncode == 0, result.stderr
    assert standins.commands("docker")[1:] == [["stop", "--time", "30", "app"], ["rm", "--force", "app"]]


def test_application_stop_reports_a_failing_docker_by_hook_name(bundle, instance):
    env = instance.env(STANDIN_DOCKER_PS="4f2a9c1b", STANDIN_DOCKER_STOP_EXIT="1")
    result = run_hook(bundle(), "application_stop.sh", env)
    assert result.returncode == 1
    assert result.stderr.startswith("ApplicationStop: command failed (exit 1) at application_stop.sh:")
    assert "docker stop" in result.stderr


# BeforeInstall


def test_before_install_logs_in_and_pulls_by_digest_then_logs_out(bundle, instance, standins):
    result = run_hook(bundle(), "before_install.sh", instance.env(STANDIN_ECR_PASSWORD="tok3n"))
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


def test_before_install_fails_clearly_when_the_pull_fails(bundle, instance, standins):
    result = run_hook(bundle(), "before_install.sh", instance.env(STANDIN_DOCKER_PULL_EXIT="1"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"BeforeInstall: could not pull {IMAGE_URI} (")
    assert standins.commands("docker")[-1][0] == "logout"


def test_before_install_refuses_an_image_json_without_a_digest_uri(bundle, instance, standins):
    root = bundle()
    (root / "image.json").write_text(
        f'{{"repository": "{REPOSITORY_URI}", "tag": "{GIT_SHA}", "digest": "{DIGEST}",'
        f' "uri": "{REPOSITORY_URI}:{GIT_SHA}"}}')
    result = run_hook(root, "before_install.sh", instance.env())
    assert result.returncode == 1
    assert "is not repository@digest; refusing to deploy by anything but digest" in result.stderr
    assert standins.commands("docker") == []


def test_before_install_names_a_missing_bundle_input(bundle, instance):
    root = bundle()
    (root / "image.json").unlink()
    result = run_hook(root, "before_install.sh", instance.env())
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"BeforeInstall: {root}/image.json is missing: the build writes it into the bundle (python -m app.artifact)")


# ApplicationStart


def test_application_start_runs_the_digest_with_restart_port_version_and_logs(bundle, instance, standins):
    env = instance.env(port=8081, log_group="/delivery/dev/app", HOOK_LOG_STREAM_PREFIX="ip-10-0-1-5")
    result = run_hook(bundle(drill="0.25"), "application_start.sh", env)
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


def test_application_start_replaces_a_leftover_container(bundle, instance, standins):
    result = run_hook(bundle(), "application_start.sh", instance.env(STANDIN_DOCKER_PS="4f2a9c1b"))
    assert result.returncode == 0, result.stderr
    commands = standins.commands("docker")
    assert commands[1] == ["rm", "--force", "app"]
    assert commands[2][0] == "run"


def test_application_start_fails_clearly_when_docker_run_fails(bundle, instance):
    result = run_hook(bundle(), "application_start.sh", instance.env(STANDIN_DOCKER_RUN_EXIT="125"))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"ApplicationStart: docker run of {IMAGE_URI} failed")


# What the hooks tell the instance's health reporter (components/fleet_health_report.sh)


def test_a_validated_release_is_recorded_for_the_health_reporter(service, bundle, instance, standins):
    state = Path(standins.env["HOOK_HEALTH_STATE_DIR"])
    state.mkdir()
    (state / "deploying").touch()
    result = run_hook(bundle(digest=DIGEST), "validate_service.sh", instance.env(port=service.port, **QUICK))
    assert result.returncode == 0, result.stderr
    assert (state / "released").read_text() == f"{service.port}\n"
    assert not (state / "deploying").exists()


def test_a_release_that_fails_validation_is_not_recorded(bundle, instance, standins):
    result = run_hook(bundle(), "validate_service.sh", instance.env(port=free_port(), **QUICK))
    assert result.returncode == 1
    assert not (Path(standins.env["HOOK_HEALTH_STATE_DIR"]) / "released").exists()


@pytest.mark.parametrize("script", ["application_stop.sh", "before_install.sh"])
def test_stopping_or_replacing_the_app_holds_the_health_reporter_off(bundle, instance, standins, script):
    run_hook(bundle(), script, instance.env())
    assert (Path(standins.env["HOOK_HEALTH_STATE_DIR"]) / "deploying").exists()


# The instance's settings (/etc/app/deploy.env, written by its boot script; HOOK_DEPLOY_ENV in the tests)


def test_the_same_bundle_runs_with_each_instances_own_settings(bundle, instance, standins):
    """One bundle is promoted from stack to stack unchanged: port, region and log group are the instance's."""
    root = bundle()
    for port, region, group in ((8080, "us-east-1", "/delivery/dev/app"), (9090, "eu-west-1", "/delivery/prod/app")):
        result = run_hook(root, "application_start.sh", instance.env(port=port, region=region, log_group=group))
        assert result.returncode == 0, result.stderr
        run = standins.commands("docker")[-1]
        assert run[run.index("--publish") + 1] == f"{port}:{port}"
        assert f"awslogs-region={region}" in run and f"awslogs-group={group}" in run


def test_before_install_logs_in_at_the_registrys_region_not_the_instances(bundle, instance, standins):
    """A promoted release was pushed by the stack that built it; the instance may be in another region."""
    result = run_hook(bundle(repository_uri="123456789012.dkr.ecr.eu-central-1.amazonaws.com/app-abc123"),
                      "before_install.sh", instance.env(region="us-west-2"))
    assert result.returncode == 0, result.stderr
    assert standins.commands("aws") == [["ecr", "get-login-password", "--region", "eu-central-1"]]


def test_settings_are_read_verbatim_whatever_characters_they_hold(bundle, instance, standins):
    result = run_hook(bundle(), "application_start.sh", instance.env(log_group="/app/#1 $HOME `x`"))
    assert result.returncode == 0, result.stderr
    assert "awslogs-group=/app/#1 $HOME `x`" in standins.commands("docker")[-1]


@pytest.mark.parametrize(("script", "hook"), [
    ("before_install.sh", "BeforeInstall"), ("application_start.sh", "ApplicationStart"),
    ("validate_service.sh", "ValidateService"), ("after_allow_traffic.sh", "AfterAllowTraffic")])
def test_every_hook_that_needs_the_settings_names_a_missing_deploy_env(bundle, instance, standins, script, hook):
    env = {**instance.env(DEPLOYMENT_ID="d-ABCDEFGHI"), "HOOK_DEPLOY_ENV": str(instance.deploy_env.parent / "none")}
    result = run_hook(bundle(), script, env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{hook}: {instance.deploy_env.parent}/none is missing: the instance's boot script writes it (AWS_REGION, "
        "APP_PORT, APP_LOG_GROUP, BAKE_MINUTES)")
    assert standins.calls() == []


def settings_text(**overrides: str) -> str:
    settings = {"AWS_REGION": "us-east-1", "APP_PORT": "8080", "APP_LOG_GROUP": "/app/containers",
                "BAKE_MINUTES": "30", **overrides}
    return "".join(f"{key}='{value}'\n" for key, value in settings.items() if value is not None)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(settings_text(APP_LOG_GROUP=None),
                 " does not set APP_LOG_GROUP (the instance's boot script writes it)", id="no log group"),
    pytest.param(settings_text(AWS_REGION=""),
                 " does not set AWS_REGION (the instance's boot script writes it)", id="empty region"),
    pytest.param(settings_text(BAKE_MINUTES=None),
                 " does not set BAKE_MINUTES (the instance's boot script writes it)", id="no bake time"),
    pytest.param(settings_text(APP_PORT="70000"),
                 ": APP_PORT must be a TCP port from 1 to 65535, got '70000'", id="port out of range"),
    pytest.param(settings_text(APP_PORT="http"),
                 ": APP_PORT must be a TCP port from 1 to 65535, got 'http'", id="port not a number"),
    pytest.param(settings_text(BAKE_MINUTES="0"),
                 ": BAKE_MINUTES must be whole minutes from 1 to 55, got '0'", id="no bake"),
    pytest.param(settings_text(BAKE_MINUTES="56"),
                 ": BAKE_MINUTES must be whole minutes from 1 to 55, got '56'", id="bake past the hook limit"),
    pytest.param(settings_text(BAKE_MINUTES="30m"),
                 ": BAKE_MINUTES must be whole minutes from 1 to 55, got '30m'", id="bake with a unit"),
    pytest.param("AWS_REGION='us-east-1\n",
                 " could not be read as KEY=value lines (the instance's boot script writes it)", id="not shell"),
])
def test_a_deploy_env_without_a_valid_setting_fails_the_hook_with_one_line(bundle, instance, standins, text, message):
    env = instance.env()
    instance.write(text)
    result = run_hook(bundle(), "application_start.sh", env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"ApplicationStart: {instance.deploy_env}{message}"
    assert standins.commands("docker") == []


# What the release itself sets (release.json)


def test_the_drill_rate_is_the_releases_so_rolling_the_release_back_ends_the_drill(bundle, instance, standins):
    env = instance.env()
    instance.write(instance.deploy_env.read_text() + "DRILL_FAILURE_RATE='0.9'\n")  # not the instance's to say
    for drill, expected in (("0.25", "DRILL_FAILURE_RATE=0.25"), ("0", "DRILL_FAILURE_RATE=0.0")):
        result = run_hook(bundle(drill=drill), "application_start.sh", env)
        assert result.returncode == 0, result.stderr
        assert expected in standins.commands("docker")[-1]


def test_application_start_names_a_missing_release_record(bundle, instance, standins):
    root = bundle()
    (root / "release.json").unlink()
    result = run_hook(root, "application_start.sh", instance.env())
    assert result.returncode == 1
    assert result.stderr.strip() == (f"ApplicationStart: {root}/release.json is missing: the build writes it into the "
                                     "bundle (python -m app.artifact)")
    assert standins.commands("docker") == []
