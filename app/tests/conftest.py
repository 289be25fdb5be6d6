"""Fixtures for the app's tests: the real service over HTTP on 127.0.0.1, stand-in `docker`/`aws` executables, an
instance's /etc/app/deploy.env, and AWS as a moto server on 127.0.0.1. Part of the template: they need nothing
outside app/, and run from the root of the repository that holds app/ (this project, or a team's app repository
made from the template)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from app.artifact import image_reference, release_record, write_bundle_inputs
from app.contract.gate import service_document

APP = Path(__file__).resolve().parent.parent  # the app package: the template
ROOT = APP.parent  # the repository's root, where CodeBuild runs the buildspec
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
GIT_SHA = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-abc123"
BUILD_ID = "delivery-dev-build:8f14e45f-ceea-467f-a8f5-b1c2d3e4f5a6"
PIPELINE_EXECUTION_ID = "3c59dc04-8f1e-4d2b-9a6e-0b7c1d2e3f40"
BUILT_AT = "2026-11-26T12:00:00Z"
STARTUP_SECONDS = 15


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def installed_tool(name: str) -> str:
    """A command-line tool from app/requirements-test.txt: on PATH, or beside this interpreter (an unactivated
    virtualenv)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed; app/requirements-test.txt installs it")
    return found


# app/buildspec.yml: what its commands name.

BUILD_OUTPUT = "app/dist/"  # written by the build (app/ci/build_image.sh); not part of the template
INSTALLED_MODULES = frozenset({"pip", "pytest"})  # `python -m` finds these in the interpreter, not in app/


def buildspec_commands(buildspec: dict) -> list[str]:
    """Every phase's commands, in order."""
    return [command for phase in buildspec["phases"].values() for command in phase["commands"]]


def paths_named(command: str) -> list[str]:
    """The relative paths a command names: words with a slash, also inside quotes (app/ci/build_image.sh)."""
    return re.findall(r"(?<![\w./$-])[\w.-]+(?:/[\w.*-]+)+", command)


def modules_run(command: str) -> list[str]:
    """The modules a command runs with `python -m`."""
    return re.findall(r"\bpython3? -m ([\w.]+)", command)


def module_file(root: Path, module: str) -> Path | None:
    """The file `python -m <module>` runs when it finds the module under root (a .py file, or a package's
    __main__.py), or None."""
    base = root.joinpath(*module.split("."))
    return next((c for c in (base.with_suffix(".py"), base / "__main__.py") if c.is_file()), None)


@dataclass
class RunningService:
    process: subprocess.Popen
    url: str
    port: int
    log_path: Path

    def log_lines(self) -> list[dict]:
        """The complete JSON lines the service wrote to stdout so far."""
        complete = self.log_path.read_text().split("\n")[:-1]  # a line still being written has no newline yet
        return [json.loads(line) for line in complete if line.strip()]

    def output(self) -> str:
        return self.log_path.read_text() + self.log_path.with_suffix(".err").read_text()

    def wait_for_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)


class ServiceLauncher:
    """Starts `python -m app` as the image does, with extra environment, and waits until /healthz answers 200."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[RunningService] = []

    def start(self, **env: str) -> RunningService:
        port = free_port()
        log_path = self.log_dir / f"service-{port}.log"
        environ = {**os.environ, "APP_HOST": "127.0.0.1", "APP_PORT": str(port), **env}
        with log_path.open("w") as log, log_path.with_suffix(".err").open("w") as err:
            process = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=environ, stdout=log, stderr=err)
        service = RunningService(process, f"http://127.0.0.1:{port}", port, log_path)
        self.started.append(service)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the service exited with {process.returncode}: {service.output()}")
            try:
                if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                    return service
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"the service did not become healthy within {STARTUP_SECONDS}s: {service.output()}")

    def stop_all(self) -> None:
        for service in self.started:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGKILL)
                service.process.wait(timeout=10)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """A function that starts a service of the test's own (stopped after the test)."""
    launcher = ServiceLauncher(tmp_path)
    yield launcher.start
    launcher.stop_all()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """One service with default settings and a known build identity, shared by a module's read-only tests."""
    launcher = ServiceLauncher(tmp_path_factory.mktemp("service"))
    yield launcher.start(APP_GIT_SHA=GIT_SHA, APP_IMAGE_DIGEST=DIGEST, APP_BUILD_TIME="2026-11-26T12:00:00Z")
    launcher.stop_all()


STANDIN = """#!{python}
# Stand-in for `{tool}`: records each call (arguments, and stdin for logins) as a JSON line in $STANDIN_LOG.
import json, os, sys
args = sys.argv[1:]
record = {{"tool": "{tool}", "args": args}}
if args[:1] == ["login"]:
    record["stdin"] = sys.stdin.read()
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps(record) + "\\n")
state = os.environ.get("STANDIN_REGISTRY", "")
{body}
"""

DOCKER_BODY = """
command = args[0] if args else ""
if command == "ps":
    print(os.environ.get("STANDIN_DOCKER_PS", ""))
if command == "push" and state:  # the registry now holds the pushed tag
    open(state, "w").write(os.environ["STANDIN_PUSHED_DIGEST"])
sys.exit(int(os.environ.get("STANDIN_DOCKER_" + command.upper() + "_EXIT", "0")))
"""

AWS_BODY = """
if args[:2] == ["ecr", "get-login-password"]:
    print(os.environ.get("STANDIN_ECR_PASSWORD", "registry-password"))
elif args[:2] == ["ecr", "batch-get-image"]:
    print(open(state).read() if state and os.path.exists(state) else "None")
elif args[:2] == ["deploy", "get-deployment"]:  # GetDeployment's answers, one per call, the last repeated
    answers = json.loads(os.environ.get("STANDIN_DEPLOYMENTS", "[]"))
    calls = sum(1 for line in open(os.environ["STANDIN_LOG"]) if '"get-deployment"' in line)
    if answers:
        print(json.dumps({"deploymentInfo": answers[min(calls, len(answers)) - 1]}))
sys.exit(int(os.environ.get("STANDIN_AWS_EXIT", "0")))
"""


@dataclass
class StandIns:
    bin_dir: Path
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def calls(self, tool: str | None = None) -> list[dict]:
        if not self.log.exists():
            return []
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [c for c in calls if tool is None or c["tool"] == tool]

    def commands(self, tool: str) -> list[list[str]]:
        return [c["args"] for c in self.calls(tool)]


@pytest.fixture
def standins(tmp_path: Path) -> StandIns:
    """`docker` and `aws` first on PATH, recording their arguments; their answers set through STANDIN_* vars."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, body in (("docker", DOCKER_BODY), ("aws", AWS_BODY)):
        path = bin_dir / tool
        path.write_text(STANDIN.format(python=sys.executable, tool=tool, body=body))
        path.chmod(0o755)
    log = tmp_path / "standin-calls.jsonl"
    path_var = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    # The scripts' own knobs (HOOK_*, BUILD_*) come only from each test, never from the caller's environment.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("HOOK_", "BUILD_", "STANDIN_"))}
    env = {**inherited, "PATH": path_var, "STANDIN_LOG": str(log),
           "HOOK_HEALTH_STATE_DIR": str(tmp_path / "app-health")}
    return StandIns(bin_dir, log, env)


@pytest.fixture
def bundle(tmp_path: Path) -> Callable[..., Path]:
    """A CodeDeploy bundle as the build assembles it: appspec.yml, hooks/, and the records app.artifact writes."""

    def make(digest: str = DIGEST, repository_uri: str = REPOSITORY_URI, drill: str = "0") -> Path:
        root = tmp_path / "bundle"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(APP / "hooks", root / "hooks")
        shutil.copy(APP / "appspec.yml", root / "appspec.yml")
        subprocess.run(
            [sys.executable, "-m", "app.artifact", "--out", str(root), "--repository-uri", repository_uri,
             "--commit", GIT_SHA, "--digest", digest, "--stack", "dev", "--build-id", BUILD_ID,
             "--pipeline-execution-id", PIPELINE_EXECUTION_ID, "--built-at", BUILT_AT, "--drill-failure-rate", drill],
            cwd=ROOT, check=True, capture_output=True)
        return root

    return make


@dataclass
class Instance:
    """An EC2 instance as the hooks see it: the stand-ins first on PATH, and the deploy.env its boot script writes
    (at HOOK_DEPLOY_ENV instead of /etc/app/deploy.env)."""

    deploy_env: Path
    base_env: dict[str, str]

    def env(self, port: int = 8080, log_group: str = "/app/containers", bake_minutes: int = 30,
            region: str = "us-east-1", **extra: str) -> dict[str, str]:
        """The hook's environment, after writing deploy.env with these settings as the boot script does:
        shell-quoted KEY=value lines. `extra` adds variables (HOOK_*, DEPLOYMENT_ID, STANDIN_*)."""
        settings = {"AWS_REGION": region, "APP_PORT": str(port), "APP_LOG_GROUP": log_group,
                    "BAKE_MINUTES": str(bake_minutes)}
        self.write("".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items()))
        return {**self.base_env, "HOOK_DEPLOY_ENV": str(self.deploy_env), **extra}

    def write(self, text: str) -> None:
        self.deploy_env.parent.mkdir(parents=True, exist_ok=True)
        self.deploy_env.write_text(text)


@pytest.fixture
def instance(tmp_path: Path, standins: StandIns) -> Instance:
    return Instance(tmp_path / "etc-app" / "deploy.env", standins.env)


def run_hook(bundle_dir: Path, script: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a hook from a bundle as the CodeDeploy agent does: by its path, with bash, from any directory."""
    return subprocess.run([str(bundle_dir / "hooks" / script)], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd="/")


# AWS: a moto server on 127.0.0.1, reached through AWS_ENDPOINT_URL exactly as real code reaches a custom endpoint.

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
MOTO_STARTUP_SECONDS = 30


def _moto_api(endpoint: str, path: str, body: bytes = b"") -> None:
    """POST to moto's own API (reset, reset-auth); the body as text/plain, which is how moto reads it."""
    request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=body, method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=5).close()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server (app/requirements-test.txt installs it) in its own process for the
    session."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + MOTO_STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the moto server exited with {process.returncode}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the moto server did not answer on {endpoint} within {MOTO_STARTUP_SECONDS}s")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Aws:
    """A clean moto account. `env` is an environment for a command that uses AWS: no AWS_* of the caller's (no real
    profile or CodeBuild credentials can leak in), fake credentials, and the moto endpoint."""

    endpoint: str
    env: dict[str, str]

    def client(self, service: str, **credentials: str):
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing",
                **credentials}
        return boto3.session.Session(**keys, region_name="us-east-1").client(service, endpoint_url=self.endpoint)

    def enforce_iam_as(self, user: str, policy: dict[str, Any]) -> dict[str, str]:
        """Make an IAM user with this inline policy, then have moto check every request's signature and IAM
        permissions as AWS does (until the test ends). Returns `env` with the user's access key."""
        iam = self.client("iam")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="only-this", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        _moto_api(self.endpoint, "reset-auth", b"0")  # from now on: no request without a permitted identity
        env = {k: v for k, v in self.env.items() if k != "AWS_SESSION_TOKEN"}
        return {**env, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@pytest.fixture
def aws(moto_server: str) -> Iterator[Aws]:
    _moto_api(moto_server, "reset")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    yield Aws(moto_server, {**inherited, **FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": moto_server})
    _moto_api(moto_server, "reset-auth", b"inf")  # anyone again, for the next test


def release_bundle(directory: Path, contract: dict[str, Any] | None = None, commit: str = GIT_SHA,
                   stack: str = "dev") -> Path:
    """A release's bundle as app/artifact.py writes it (image.json, release.json, contract/openapi.json), with the
    contract `contract` (default: the service's own), in `directory`."""
    image = image_reference(REPOSITORY_URI, commit, DIGEST)
    release = release_record(image, stack, BUILD_ID, PIPELINE_EXECUTION_ID, BUILT_AT)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    shutil.copy(APP / "appspec.yml", directory / "appspec.yml")
    write_bundle_inputs(directory, image, release, service_document() if contract is None else contract)
    return directory


def zipped(directory: Path) -> bytes:
    """A bundle directory as the pipeline passes it on: a zip archive with the bundle's files at its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()
