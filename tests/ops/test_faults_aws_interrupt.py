"""Ctrl-C (or SIGTERM, SIGHUP) while `python -m ops rollback app --wait` follows a deployment: the deployment goes
on in CodeDeploy, and the command says so in one line, with the command to follow it, and exits 128 + the signal
(130 for Ctrl-C).

A real child process gets a real SIGINT. CodeDeploy is a small loopback server speaking the JSON protocol botocore
resolves for CodeDeploy (X-Amz-Target CodeDeploy_20141006.*): moto cannot keep a deployment InProgress, and a
Stubber cannot reach into another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.loopback import aws_endpoint

ROOT = Path(__file__).resolve().parents[2]
T0 = 1795000000  # epoch seconds, as the JSON protocol carries timestamps
REVISION = {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "app/build-1.zip", "bundleType": "zip"}}
BAD = {"revisionType": "S3", "s3Location": {"bucket": "artifacts", "key": "app/build-2.zip", "bundleType": "zip"}}


def deployment(deployment_id: str, status: str, revision: dict, minutes: int) -> dict:
    return {"deploymentId": deployment_id, "applicationName": "app", "deploymentGroupName": "fleet",
            "status": status, "revision": revision, "createTime": T0 + 60 * minutes,
            "deploymentOverview": {"Pending": 1, "InProgress": 1, "Succeeded": 1, "Failed": 0, "Skipped": 0,
                                   "Ready": 0}}


HISTORY = [deployment("d-BAD", "Failed", BAD, 20), deployment("d-GOOD", "Succeeded", REVISION, 10)]


def answer(target: str, request: dict) -> dict:
    """CodeDeploy as this test needs it: two past deployments, and the new one InProgress for ever."""
    operation = target.rsplit(".", 1)[-1]
    if operation == "ListDeployments":
        return {"deployments": [d["deploymentId"] for d in HISTORY]}
    if operation == "BatchGetDeployments":
        return {"deploymentsInfo": [d for d in HISTORY if d["deploymentId"] in request["deploymentIds"]]}
    if operation == "CreateDeployment":
        return {"deploymentId": "d-NEW"}
    if operation == "GetDeployment":
        return {"deploymentInfo": deployment(request["deploymentId"], "InProgress", REVISION, 30)}
    raise AssertionError(f"unexpected call {target}")


@pytest.fixture
def codedeploy() -> Iterator[str]:
    def respond(target: str, body: bytes) -> tuple[int, str, bytes]:
        return 200, "application/x-amz-json-1.1", json.dumps(answer(target, json.loads(body or b"{}"))).encode()

    with aws_endpoint(respond) as url:
        yield url


def default_sigint() -> None:
    """A shell that starts a job in the background ignores SIGINT for it, and Python then installs no handler;
    an operator's terminal does not. Give the child the terminal's default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_while_waiting_says_the_deployment_goes_on(codedeploy, tmp_path, signum):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": codedeploy, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "PYTHONUNBUFFERED": "1"})
    child = subprocess.Popen(
        [sys.executable, "-m", "ops", "rollback", "app", "--application", "app", "--deployment-group", "fleet",
         "--yes", "--wait", "--poll-interval", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
    )
    try:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "InProgress: instances" not in "".join(seen):
            seen.append(child.stdout.readline())  # waiting: the first progress line is out
        assert "created deployment d-NEW" in "".join(seen), "".join(seen)
        time.sleep(0.5)  # a few polls later
        child.send_signal(signum)
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert err.splitlines() == [f"interrupted ({signum.name}) during the wait for deployment d-NEW: it goes on in "
                                "CodeDeploy (only the wait stopped); follow it with: aws deploy get-deployment "
                                "--deployment-id d-NEW"]
