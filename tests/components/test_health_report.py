"""The instances' health reporter (components/fleet_health_report.sh), run as systemd runs it: against a real HTTP
server on 127.0.0.1 (or none), with a stand-in `aws` that records what it is asked. It replaces an instance only
when a release that passed ValidateService stops answering; a fleet waiting for its first release, and a
deployment in progress, are left alone."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.fleet import HEALTH_REPORT, user_data
from tests.conftest import free_port, installed_tool

AWS_STANDIN = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


class Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def healthy_port():
    server = http.server.HTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


class Instance:
    def __init__(self, root: Path):
        self.state = root / "app-health"
        self.state.mkdir()
        self.log = root / "aws-calls.jsonl"
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "aws").write_text(AWS_STANDIN)
        (bin_dir / "aws").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(self.log),
                    "HEALTH_STATE_DIR": str(self.state), "HEALTH_INSTANCE_ID": "i-0123456789abcdef0",
                    "HEALTH_REGION": "us-east-1"}

    def released(self, port: int) -> None:
        (self.state / "released").write_text(f"{port}\n")

    def deploying(self, minutes_ago: float = 0) -> None:
        marker = self.state / "deploying"
        marker.touch()
        then = time.time() - minutes_ago * 60
        os.utime(marker, (then, then))

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(HEALTH_REPORT)], env=self.env, capture_output=True, text=True, timeout=30)

    def reports(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def instance(tmp_path) -> Instance:
    return Instance(tmp_path)


def test_an_instance_without_a_release_reports_nothing(instance):
    for _ in range(5):
        result = instance.check()
        assert result.returncode == 0, result.stderr
    assert instance.reports() == []
    assert result.stdout.strip() == "app-health: no release validated on this instance yet: nothing to report"


def test_a_healthy_release_is_left_alone(instance, healthy_port):
    instance.released(healthy_port)
    for _ in range(4):
        assert instance.check().returncode == 0
    assert instance.reports() == []


def test_a_release_that_stops_answering_is_reported_unhealthy_after_three_checks_in_a_row(instance):
    instance.released(free_port())
    outputs = [instance.check().stdout.strip() for _ in range(3)]
    assert outputs[0].endswith("failed (1 of 3 in a row)")
    assert instance.reports() == [["autoscaling", "set-instance-health", "--region", "us-east-1", "--instance-id",
                                   "i-0123456789abcdef0", "--health-status", "Unhealthy"]]


def test_one_good_answer_starts_the_count_again(instance, healthy_port):
    dead = free_port()
    instance.released(dead)
    instance.check()
    instance.check()
    instance.released(healthy_port)
    instance.check()
    instance.released(dead)
    instance.check()
    instance.check()
    assert instance.reports() == []


def test_a_deployment_in_progress_is_never_reported(instance):
    instance.released(free_port())
    instance.deploying()
    for _ in range(5):
        assert "a deployment is changing the app" in instance.check().stdout
    assert instance.reports() == []


def test_a_deployment_marker_left_by_a_failed_deployment_expires(instance):
    instance.released(free_port())
    instance.deploying(minutes_ago=121)
    for _ in range(3):
        instance.check()
    assert len(instance.reports()) == 1


def test_a_garbled_release_marker_is_not_a_reason_to_replace_the_instance(instance):
    (instance.state / "released").write_text("eighty\n")
    for _ in range(3):
        assert instance.check().returncode == 0
    assert instance.reports() == []


def test_the_reporter_and_the_boot_script_that_installs_it_are_shellcheck_clean(tmp_path):
    script = tmp_path / "user-data.sh"
    script.write_text(user_data({"AWS_REGION": "us-east-1", "APP_PORT": "8080", "APP_LOG_GROUP": "/app/logs",
                                 "BAKE_MINUTES": "30"}))
    for path in (HEALTH_REPORT, script):
        result = subprocess.run([installed_tool("shellcheck"), "--severity=style", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout
