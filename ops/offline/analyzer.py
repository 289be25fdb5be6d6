"""Runs the policy pack the way the Pulumi engine does, without the engine: as its own process, driven over the
Analyzer gRPC protocol.

How the engine starts a Python policy pack (pulumi/pkg/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer):
it reads PulumiPolicy.yaml, runs the `pulumi-analyzer-policy-python` plugin from the pack's directory, and that
script runs `<virtualenv>/bin/python -u -m pulumi.policy <engine address> .`; the pack's PolicyPack serves the
Analyzer service on 127.0.0.1 and prints its port on stdout. The environment carries PULUMI_CONFIG (the stack's
config), PULUMI_PROJECT, PULUMI_STACK, PULUMI_ORGANIZATION and PULUMI_DRY_RUN. The engine then calls Handshake
(Python packs answer UNIMPLEMENTED, which is fine), ConfigureStack, GetAnalyzerInfo, and Configure with every
policy's enforcement level and properties (schema defaults, overridden by --policy-pack-config). During the
deployment it calls Analyze for each resource with its inputs, and AnalyzeStack once with every resource's
outputs, parent and dependencies (the root stack's outputs are the stack outputs).

The pack does not dial the engine address, so we pass a placeholder. The messages are built and read in messages.py,
the levels and properties for Configure computed in policy_config.py."""

from __future__ import annotations

import json
import os
import select
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2

from ops.errors import OpsError
from ops.offline import PACK_DIR
from ops.offline.compat import analyzer_pb2, analyzer_pb2_grpc
from ops.offline.messages import (
    Analysis,
    Diagnostic,
    Providers,
    analyze_request,
    configure_request,
    read_analysis,
    read_info,
    stack_resource,
)
from ops.offline.model import STACK_TYPE
from ops.offline.policy_config import PolicyInfo, reconcile_config

ENGINE_ADDRESS = "127.0.0.1:0"  # placeholder: pulumi.policy parses it, but the pack never dials the engine
MAX_MESSAGE_BYTES = 400 * 1024 * 1024  # the engine's and the pack's gRPC limit
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]


def pack_python(pack_dir: Path) -> str:
    """The interpreter the engine's pulumi-analyzer-policy-python plugin would use: `<virtualenv>/bin/python` when
    PulumiPolicy.yaml names a virtualenv (relative to the pack), else python3 from PATH."""
    try:
        project = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise OpsError(f"cannot read {pack_dir / 'PulumiPolicy.yaml'}: {error}") from error
    runtime = project.get("runtime") if isinstance(project, dict) else None
    options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
    virtualenv = options.get("virtualenv")
    if not virtualenv:
        return "python3"
    python = (pack_dir / virtualenv).resolve() / "bin" / "python"
    if not python.is_file():
        raise OpsError(f"{pack_dir / virtualenv} (the virtualenv in PulumiPolicy.yaml) is not a virtual environment")
    return str(python)


class PolicyPack:
    """The pack as a child process, and a gRPC client to it. Use as a context manager."""

    def __init__(self, pack_dir: Path = PACK_DIR, *, project: str, stack: str, organization: str = "organization",
                 dry_run: bool = True, stack_config: dict[str, str] | None = None, python: str | None = None,
                 startup_timeout: float = 30.0):
        self.pack_dir = Path(pack_dir).resolve()
        self.project, self.stack, self.organization, self.dry_run = project, stack, organization, dry_run
        self.stack_config = dict(stack_config or {})
        self.python, self.startup_timeout = python, startup_timeout
        self._process: subprocess.Popen | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._stderr_reader: threading.Thread | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._info: tuple[str, list[PolicyInfo]] | None = None

    def __enter__(self) -> PolicyPack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The pack process's id while it runs (benchmarks read its CPU time)."""
        return self._process.pid if self._process is not None else None

    # -- lifecycle

    def start(self) -> None:
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise OpsError(f"{self.pack_dir} is not a policy pack (no PulumiPolicy.yaml)")
        python = self.python or pack_python(self.pack_dir)
        env = {
            **os.environ,
            "PULUMI_CONFIG": json.dumps(self.stack_config),
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_ORGANIZATION": self.organization,
            "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
        }
        self._process = subprocess.Popen(
            [python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, "."],
            cwd=self.pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        port = self._read_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        except grpc.FutureTimeoutError:
            self.close()
            raise OpsError(f"the policy pack listens on port {port} but does not answer") from None
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        self._handshake_and_configure_stack()

    def _drain_stderr(self) -> None:
        for line in iter(self._process.stderr.readline, b""):
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _read_port(self) -> int:
        deadline = time.monotonic() + self.startup_timeout
        stdout = self._process.stdout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 0.1)
            if ready:
                line = stdout.readline().decode().strip()
                if line.isdigit():
                    return int(line)
                if not line and self._process.poll() is not None:
                    break
            elif self._process.poll() is not None:
                break
        if self._process.poll() is not None:
            self._stderr_reader.join(timeout=5)  # it exited: collect the rest of what it said
            detail = "; ".join(line for line in list(self._stderr)[-5:] if line) or "no output"
        else:
            detail = f"it printed no port within {self.startup_timeout:g}s"
        self.close()
        raise OpsError(f"the policy pack in {self.pack_dir} did not start: {detail}")

    def _handshake_and_configure_stack(self) -> None:
        directory = str(self.pack_dir)
        calls = [
            (self._stub.Handshake, analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=ENGINE_ADDRESS, root_directory=directory, program_directory=directory)),
            (self._stub.ConfigureStack, analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack, project=self.project, organization=self.organization, dry_run=self.dry_run,
                config=self.stack_config)),
        ]
        for call, request in calls:
            try:
                call(request)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNIMPLEMENTED:  # the engine tolerates UNIMPLEMENTED too
                    raise self._failure(error) from None

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process is not None:
            if self._stderr_reader is not None:
                self._stderr_reader.join(timeout=5)  # it reads until the pipe ends, which the exit just caused
            for pipe in (self._process.stdout, self._process.stderr):
                pipe.close()
        self._process = None

    def _failure(self, error: grpc.RpcError) -> OpsError:
        detail = error.details() or str(error.code())
        return OpsError(f"the policy pack failed: {detail.strip().splitlines()[-1] if detail.strip() else detail}")

    # -- the Analyzer protocol

    def info(self) -> tuple[str, list[PolicyInfo]]:
        """The pack's name and its policies (cached, as the engine caches it)."""
        if self._info is None:
            self._info = read_info(self._call(self._stub.GetAnalyzerInfo, empty_pb2.Empty()))
        return self._info

    def configure(self, given: dict[str, Any]) -> dict[str, tuple[str, dict]]:
        """Configure every policy (levels and properties) from a --policy-pack-config style mapping."""
        config = reconcile_config(self.info()[1], given)
        self._call(self._stub.Configure, configure_request(config))
        return config

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> Analysis:
        return read_analysis(self._call(self._stub.Analyze, request))

    def analyze_stack(self, resources: list[analyzer_pb2.AnalyzerResource]) -> Analysis:
        return read_analysis(self._call(self._stub.AnalyzeStack,
                                         analyzer_pb2.AnalyzeStackRequest(resources=resources)))

    def _call(self, method, request):
        if self._stub is None:
            raise OpsError("the policy pack is not running")
        try:
            return method(request)
        except grpc.RpcError as error:
            raise self._failure(error) from None


@dataclass
class Report:
    """Everything the pack said about one planned stack."""

    policies: list[PolicyInfo]
    levels: dict[str, str]
    diagnostics: list[Diagnostic]
    not_applicable: dict[str, str]

    @property
    def mandatory(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "mandatory"]


def analyze_resources(pack: PolicyPack, resources: list, stack_outputs: dict | None = None,
                      levels: dict[str, str] | None = None) -> Report:
    """Analyze every resource (inputs), then AnalyzeStack with all of them (outputs; the root stack's outputs are
    `stack_outputs` when given), as the engine does during a preview. The pack must be configured already."""
    providers = Providers(resources)
    diagnostics: list[Diagnostic] = []
    not_applicable: dict[str, str] = {}
    for resource in resources:
        analysis = pack.analyze(analyze_request(resource, providers))
        diagnostics += [_with_urn(d, resource.urn) for d in analysis.diagnostics]
    stack = [
        stack_resource(r, providers, stack_outputs if r.type == STACK_TYPE and stack_outputs is not None else None)
        for r in resources
    ]
    analysis = pack.analyze_stack(stack)
    diagnostics += analysis.diagnostics
    not_applicable.update(analysis.not_applicable)
    _, policies = pack.info()
    return Report(policies, dict(levels or {p.name: p.level for p in policies}), diagnostics, not_applicable)


def _with_urn(diagnostic: Diagnostic, urn: str) -> Diagnostic:
    # The engine attributes a resource policy's diagnostic to the resource it analyzed.
    return diagnostic if diagnostic.urn else Diagnostic(diagnostic.policy, diagnostic.level, diagnostic.message, urn)
