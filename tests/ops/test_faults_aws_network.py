"""AWS that misbehaves, seen by `python -m ops` run as its own process: an endpoint that accepts connections and
never answers, one that keeps throttling, a profile or a region that does not exist. Each command ends within a
bound, with exit code 2 and one line on stderr, never a traceback; `diagnose --json` still prints a document that
is valid against ops/diagnose/schema.json and carries the error."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from ops import aws
from ops.diagnose.render import SCHEMA_PATH
from tests.ops.loopback import aws_endpoint

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(SCHEMA_PATH.read_text())
DIAGNOSE = ["diagnose", "--pipeline", "app-prod"]
DIAGNOSE_JSON = [*DIAGNOSE, "--json"]
ROLLBACK = ["rollback", "app", "--application", "app", "--deployment-group", "fleet", "--dry-run"]
COMMANDS = [DIAGNOSE, DIAGNOSE_JSON, ROLLBACK]
# What one command may take against an endpoint that never answers: the first call's worst case (ops.aws), and
# the start-up of a Python process; the bound is a minute.
BOUND = 60.0


def run_ops(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ops", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    return result, time.monotonic() - started


def aws_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A clean AWS environment: fake credentials, no config files of this machine, no instance metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(overrides)
    return env


def assert_one_clear_line(result: subprocess.CompletedProcess, *says: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in says:
        assert text in lines[0]
    return lines[0]


def assert_json_document(result: subprocess.CompletedProcess, error_line: str) -> None:
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert document["status"] == "unknown" and document["exit_code"] == 2
    assert document["verdict"] == error_line.removeprefix("error: ")


# --- an endpoint that accepts and never answers ----------------------------------------------------------------------


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback TCP server that accepts every connection, reads nothing and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def test_an_endpoint_that_never_answers_ends_each_command_within_a_minute(silent_endpoint, tmp_path):
    env = aws_env(tmp_path, AWS_ENDPOINT_URL=silent_endpoint)
    with ThreadPoolExecutor(len(COMMANDS)) as pool:  # side by side: each waits out its own timeouts
        results = list(pool.map(lambda argv: run_ops(argv, env), COMMANDS))

    for argv, (result, took) in zip(COMMANDS, results, strict=True):
        assert took < BOUND, f"{argv} took {took:.1f}s"
        line = assert_one_clear_line(result, "AWS did not answer", silent_endpoint,
                                     f"within {aws.READ_TIMEOUT}s, {aws.ATTEMPTS} attempts")
        if argv is DIAGNOSE_JSON:
            assert_json_document(result, line)


# --- an endpoint that keeps throttling ------------------------------------------------------------------------------


THROTTLING = {
    "400 ThrottlingException": (400, "application/x-amz-json-1.1",
                                b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'),
    "503 Throttling": (503, "application/x-amz-json-1.1", b'{"__type": "Throttling", "message": "Rate exceeded"}'),
    "503 SlowDown": (503, "application/x-amz-json-1.1",
                     b'{"__type": "SlowDown", "message": "Please reduce your request rate."}'),
    "503 SlowDown in XML": (503, "application/xml", b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown'
                                                     b'</Code><Message>Please reduce your request rate.</Message>'
                                                     b'</Error>'),
}


@pytest.fixture(params=sorted(THROTTLING))
def throttling_endpoint(request) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server answering every request with one throttling or 503 body; it records the targets asked."""
    status, content_type, body = THROTTLING[request.param]
    asked: list[str] = []

    def respond(target: str, _body: bytes) -> tuple[int, str, bytes]:
        asked.append(target)
        return status, content_type, body

    with aws_endpoint(respond) as url:
        yield url, asked


@pytest.mark.parametrize("argv", [DIAGNOSE_JSON, ROLLBACK], ids=["diagnose --json", "rollback app"])
def test_throttling_is_retried_a_bounded_number_of_times_then_one_line(throttling_endpoint, tmp_path, argv):
    endpoint, asked = throttling_endpoint

    result, took = run_ops(argv, aws_env(tmp_path, AWS_ENDPOINT_URL=endpoint))

    assert took < BOUND
    assert len(asked) == aws.ATTEMPTS  # the first call, retried; then the command stops
    line = assert_one_clear_line(result, f"after {aws.ATTEMPTS} attempts")
    assert "kept throttling" in line or "answered HTTP 503" in line
    assert "<?xml" not in line
    if argv is DIAGNOSE_JSON:
        assert_json_document(result, line)


# --- a profile or a region that does not exist -----------------------------------------------------------------------


@pytest.mark.parametrize("argv", COMMANDS, ids=["diagnose", "diagnose --json", "rollback app"])
def test_a_profile_that_does_not_exist_is_one_line(tmp_path, argv):
    result, _ = run_ops(argv, aws_env(tmp_path, AWS_PROFILE="no-such-profile"))

    line = assert_one_clear_line(result, "AWS profile `no-such-profile` (AWS_PROFILE) is not in the AWS config")
    if argv is DIAGNOSE_JSON:
        assert_json_document(result, line)


@pytest.mark.parametrize("argv", COMMANDS, ids=["diagnose", "diagnose --json", "rollback app"])
def test_no_region_is_one_line(tmp_path, argv):
    env = aws_env(tmp_path)
    del env["AWS_DEFAULT_REGION"]

    result, _ = run_ops(argv, env)

    line = assert_one_clear_line(result, "no AWS region configured; set AWS_REGION")
    if argv is DIAGNOSE_JSON:
        assert_json_document(result, line)


@pytest.mark.parametrize("argv", COMMANDS, ids=["diagnose", "diagnose --json", "rollback app"])
def test_a_region_that_does_not_exist_is_one_line_naming_it(tmp_path, argv):
    """`moon-1` has the shape of a region, so botocore builds https://SERVICE.moon-1.amazonaws.com/; that name does
    not resolve (EndpointConnectionError), and the line says the region is not one botocore knows."""
    result, took = run_ops(argv, aws_env(tmp_path, AWS_DEFAULT_REGION="moon-1"))

    assert took < BOUND
    line = assert_one_clear_line(result, "cannot connect to AWS", ".moon-1.amazonaws.com",
                                 "`moon-1` is not a region botocore knows")
    if argv is DIAGNOSE_JSON:
        assert_json_document(result, line)


def test_a_region_name_of_the_wrong_shape_is_one_line_naming_it(tmp_path):
    result, _ = run_ops(DIAGNOSE_JSON, aws_env(tmp_path, AWS_DEFAULT_REGION="moon 1"))

    line = assert_one_clear_line(result, "`moon 1` is not a valid AWS region name")
    assert "AWS_ENDPOINT_URL" not in line
    assert_json_document(result, line)
