"""The world `ops releases` reads, built for its tests: real bundle zips with a release.json, published as versions of
releases/latest.zip in a versioned moto bucket, live records, copies in each stack's artifact bucket, and CodeDeploy
deployments of those copies, either in moto (which keeps every deployment `Created`, with no rollbackInfo, and lists
them oldest first) or in `FakeCodeDeploy`, a loopback endpoint speaking CodeDeploy's JSON protocol whose every answer
is first checked against the botocore service model (as a Stubber checks its responses), for the statuses and
rollbacks moto cannot show."""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.session
import jsonschema
from botocore.validate import validate_parameters

from ops.cli import main
from ops.releases.render import SCHEMA_PATH
from tests.ops.loopback import aws_endpoint

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
RELEASE_BUCKET = "delivery-releases"
RELEASE_KEY = "releases/latest.zip"
APPLICATION, GROUP = "app-prod", "app-prod-fleet"
DEV_APPLICATION, DEV_GROUP = "app-dev", "app-dev-fleet"
ARTIFACTS = {"dev": "app-dev-artifacts", "prod": "app-prod-artifacts"}
SCHEMA = json.loads(SCHEMA_PATH.read_text())
FLAGS = ["--release-bucket", RELEASE_BUCKET, "--application", APPLICATION, "--deployment-group", GROUP]


def commit_of(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def digest_of(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def execution_of(name: str) -> str:
    hexed = hashlib.md5(name.encode()).hexdigest()
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:32]}"


def release_json(name: str, stack: str = "dev", built_at: datetime | None = None, **changes) -> dict:
    """release.json (schema 1) of the build `name`, as the building stack's pipeline writes it."""
    built_at = built_at or datetime.now(UTC)
    document = {
        "schema": 1,
        "commit": commit_of(name),
        "image": {"repository": "app", "tag": commit_of(name), "digest": digest_of(name),
                  "uri": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/app@{digest_of(name)}"},
        "stack": stack,
        "buildId": f"app-dev-build:{execution_of('build ' + name)}",
        "pipelineExecutionId": execution_of(name),
        "builtAt": built_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contract": "contract/openapi.json",
    }
    document.update(changes)
    return document


def bundle(release: dict | bytes | None, **extra_members: bytes) -> bytes:
    """A CodeDeploy bundle zip as the build writes it; `release` is release.json (a dict, raw bytes, or absent)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("appspec.yml", "version: 0.0\nos: linux\n")
        archive.writestr("hooks/application_start.sh", "#!/bin/sh\n")
        archive.writestr("image.json", "{}")
        archive.writestr("contract/openapi.json", "{}")
        if release is not None:
            archive.writestr("release.json", release if isinstance(release, bytes) else json.dumps(release))
        for name, data in extra_members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def _session() -> boto3.session.Session:
    """One session for every test's World (it caches the service models; the moto endpoint is the session's)."""
    return boto3.session.Session(region_name=REGION)


class World:
    """The buckets and the CodeDeploy groups, in moto (the `aws` fixture's server)."""

    def __init__(self):
        session = _session()
        self.s3 = session.client("s3")
        self.codedeploy = session.client("codedeploy")
        self._make_bucket(RELEASE_BUCKET, versioned=True)
        self._make_bucket(ARTIFACTS["dev"], versioned=True)
        self._make_bucket(ARTIFACTS["prod"], versioned=False)  # a revision without a version: GetObject plain
        for application, group in ((APPLICATION, GROUP), (DEV_APPLICATION, DEV_GROUP)):
            self.codedeploy.create_application(applicationName=application, computePlatform="Server")
            self.codedeploy.create_deployment_group(applicationName=application, deploymentGroupName=group,
                                                    serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
        self._artifacts = 0

    def _make_bucket(self, name: str, versioned: bool) -> None:
        self.s3.create_bucket(Bucket=name)
        if versioned:
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def publish(self, zip_bytes: bytes) -> str:
        """A new version of releases/latest.zip; its VersionId."""
        return self.s3.put_object(Bucket=RELEASE_BUCKET, Key=RELEASE_KEY, Body=zip_bytes)["VersionId"]

    def live(self, stack: str, zip_bytes: bytes) -> None:
        self.s3.put_object(Bucket=RELEASE_BUCKET, Key=f"live/{stack}.zip", Body=zip_bytes)

    def artifact(self, stack: str, zip_bytes: bytes) -> dict:
        """The pipeline's copy of a bundle in the stack's artifact bucket: the revision's s3Location."""
        self._artifacts += 1
        key = f"app-{stack}/BuildArtif/{self._artifacts:07d}"
        answer = self.s3.put_object(Bucket=ARTIFACTS[stack], Key=key, Body=zip_bytes)
        location = {"bucket": ARTIFACTS[stack], "key": key, "bundleType": "zip"}
        if answer.get("VersionId"):
            location["version"] = answer["VersionId"]
        return location

    def deploy(self, stack: str, zip_bytes: bytes, application: str = APPLICATION, group: str = GROUP) -> str:
        """A moto deployment (status Created) of a copy of `zip_bytes`; its id."""
        location = self.artifact(stack, zip_bytes)
        return self.codedeploy.create_deployment(applicationName=application, deploymentGroupName=group,
                                                 revision={"revisionType": "S3", "s3Location": location},
                                                 description="CodePipeline deploy")["deploymentId"]


class FakeCodeDeploy:
    """CodeDeploy's ListDeployments and BatchGetDeployments over the JSON protocol, newest first as AWS lists them,
    `page_size` ids a page. Every answer is validated against the botocore model's output shape before it is sent;
    `fault(target, body) -> (status, content type, body) | None` may answer instead; `calls` records the targets."""

    def __init__(self, page_size: int = 100):
        self.model = botocore.session.get_session().get_service_model("codedeploy")
        self.page_size = page_size
        self.deployments: list[dict] = []  # newest first
        self.calls: list[str] = []
        self.fault: Callable[[str, dict], tuple[int, str, bytes] | None] | None = None
        self._lock = threading.Lock()

    def add(self, deployment_id: str, status: str, location: dict, created: datetime, creator: str = "user",
            rollback: dict | None = None, description: str = "CodePipeline deploy",
            error: dict | None = None) -> dict:
        info = {
            "applicationName": APPLICATION, "deploymentGroupName": GROUP, "deploymentId": deployment_id,
            "deploymentConfigName": "CodeDeployDefault.OneAtATime", "status": status,
            "revision": {"revisionType": "S3", "s3Location": location}, "createTime": created,
            "creator": creator, "description": description, "computePlatform": "Server",
            "deploymentOverview": {"Pending": 0, "InProgress": 0, "Succeeded": 2, "Failed": 0, "Skipped": 0,
                                   "Ready": 0},
        }
        if status in ("Succeeded", "Failed", "Stopped"):
            info["completeTime"] = created + timedelta(minutes=12)
        if rollback:
            info["rollbackInfo"] = rollback
        if error:
            info["errorInformation"] = error
        self.deployments.insert(0, info)
        self.deployments.sort(key=lambda d: d["createTime"], reverse=True)
        return info

    def answer(self, target: str, request: dict) -> tuple[int, str, bytes]:
        with self._lock:
            self.calls.append(target)
        if self.fault:
            faulted = self.fault(target, request)
            if faulted is not None:
                return faulted
        operation = target.rsplit(".", 1)[-1]
        if operation == "ListDeployments":
            assert (request["applicationName"], request["deploymentGroupName"]) == (APPLICATION, GROUP), request
            start = int(request.get("nextToken") or 0)
            ids = [d["deploymentId"] for d in self.deployments]
            response = {"deployments": ids[start : start + self.page_size]}
            if start + self.page_size < len(ids):
                response["nextToken"] = str(start + self.page_size)
        elif operation == "BatchGetDeployments":
            ids = request["deploymentIds"]
            if len(ids) > 25:
                return error_answer(400, "BatchLimitExceededException", "The maximum number of names or IDs "
                                                                        "allowed for this request (25) was exceeded.")
            response = {"deploymentsInfo": [d for d in self.deployments if d["deploymentId"] in ids]}
        else:
            raise AssertionError(f"unexpected call {target}")
        validate_parameters(response, self.model.operation_model(operation).output_shape)
        return 200, "application/x-amz-json-1.1", json.dumps(response, default=_epoch).encode()

    @contextmanager
    def serving(self) -> Iterator[str]:
        def respond(target: str, body: bytes) -> tuple[int, str, bytes]:
            return self.answer(target, json.loads(body or b"{}"))

        with aws_endpoint(respond) as url:
            yield url


def error_answer(status: int, code: str, message: str) -> tuple[int, str, bytes]:
    """An error in AWS's JSON protocol shape."""
    return status, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()


def _epoch(value):
    if isinstance(value, datetime):
        return value.timestamp()  # the JSON protocol carries timestamps as epoch seconds
    raise TypeError(value)


# --- running the command --------------------------------------------------------------------------------------------


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """`python -m ops ARGV` in process (the real entry point): (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def releases_json(capsys, *argv: str) -> dict:
    """`python -m ops releases ARGV --json`, exit 0, the document validated against the schema."""
    code, out, err = run_cli(capsys, "releases", *argv, "--json")
    assert code == 0, err
    document = json.loads(out)
    validate(document)
    return document


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def run_process(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120,
                **popen) -> subprocess.CompletedProcess:
    """`python -m ops ARGV` as its own process, with this test's environment (moto's endpoint, fake credentials)."""
    return subprocess.run([sys.executable, "-m", "ops", *argv], cwd=ROOT, env=env or os.environ.copy(),
                          capture_output="stdout" not in popen, text=True, timeout=timeout, check=False, **popen)


def rows_by_commit(document: dict) -> dict[str, dict]:
    return {row["commit"]: row for row in document["releases"] if row["commit"]}


Answer = tuple[int, str, bytes]


class Endpoint:
    """A loopback HTTP server for any request (S3's reads are GETs): `respond(method, path, headers)` answers it, or
    returns None to pass it on to `upstream` (moto) as it came: a proxy that injects faults into chosen calls. While
    `hold` is clear, a request waits (until it is set, or 60 s); `reached` is set by the first request `holds(...)`
    matches. Each request line is recorded."""

    def __init__(self, respond: Callable[[str, str, dict], Answer | None], upstream: str | None = None,
                 holds: Callable[[str, str], bool] = lambda method, path: True):
        self.respond, self.upstream, self.holds, self.requests = respond, upstream, holds, []
        self.hold = threading.Event()
        self.hold.set()
        self.reached = threading.Event()

    def forward(self, method: str, path: str, headers: dict, body: bytes) -> Answer:
        host = self.upstream.removeprefix("http://")
        connection = http.client.HTTPConnection(host, timeout=30)
        try:
            connection.request(method, path, body=body or None,
                               headers={k: v for k, v in headers.items() if k.lower() != "host"})
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type", "application/xml"), answer.read()
        finally:
            connection.close()

    @contextmanager
    def serving(self) -> Iterator[str]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                endpoint.requests.append(f"{self.command} {self.path} {self.headers.get('X-Amz-Target', '')}".strip())
                if endpoint.holds(self.command, self.path):
                    endpoint.reached.set()
                    endpoint.hold.wait(60)
                answer = endpoint.respond(self.command, self.path, dict(self.headers))
                if answer is None:
                    answer = endpoint.forward(self.command, self.path, dict(self.headers), payload)
                status, content_type, body = answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _any

            def log_message(self, *_):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            self.hold.set()
            server.shutdown()
            server.server_close()


def s3_error(status: int, code: str, message: str) -> tuple[int, str, bytes]:
    """An error in S3's REST-XML shape."""
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>4442587FB7D0A2F9</RequestId></Error>").encode()
    return status, "application/xml", body
