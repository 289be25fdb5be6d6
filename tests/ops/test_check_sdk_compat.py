"""ops/offline/compat.py is the only place the offline run and the Analyzer client use the Pulumi SDK beyond its
documented API. Each test here checks one internal it relies on and, when a pulumi release changes it, fails naming
the internal. requirements.txt pins pulumi to the versions these tests passed on; to move the pin, install the new
version, run these tests (and tests/components, tests/policies, which run the real program through the same code),
port what changed in compat.py, then widen the pin."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.metadata
import json
import subprocess
import sys
import textwrap
import threading
import types
from contextvars import ContextVar

import grpc
import pytest
from google.protobuf import struct_pb2
from packaging.requirements import Requirement
from pulumi.runtime import config as sdk_config
from pulumi.runtime import rpc as sdk_rpc
from pulumi.runtime.proto import resource_pb2

from ops.errors import OpsError
from ops.offline import PROJECT_ROOT, compat
from ops.offline.model import STACK_TYPE
from ops.offline.policy_config import LEVELS


def changed(internal: str, what: str) -> str:
    return (f"pulumi {importlib.metadata.version('pulumi')} changed {internal}, which ops/offline/compat.py relies on "
            f"({what}); see that module's docstring")


def test_the_installed_pulumi_is_one_the_pin_covers():
    lines = (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    pin = next(requirement for requirement in requirements if requirement.name == "pulumi")
    installed = importlib.metadata.version("pulumi")

    assert pin.specifier.contains(installed), (
        f"pulumi {installed} is installed but requirements.txt pins {pin}: these tests vouch only for the pinned "
        "versions")


def test_a_missing_internal_is_one_line_naming_it():
    module = types.SimpleNamespace(__name__="pulumi.runtime.somewhere")

    with pytest.raises(OpsError, match=r"^pulumi \S+ has no pulumi\.runtime\.somewhere\.gone, which the offline run"):
        compat._internal(module, "gone")


def test_the_secret_signature_is_the_sdks():
    assert sdk_rpc._special_sig_key == compat.SECRET_SIG_KEY, changed("rpc._special_sig_key", "compat.SECRET_SIG_KEY")
    assert sdk_rpc._special_secret_sig == compat.SECRET_SIG, changed("rpc._special_secret_sig", "compat.SECRET_SIG")
    struct = struct_pb2.Struct()
    struct.update({"password": {compat.SECRET_SIG_KEY: compat.SECRET_SIG, "value": "hunter2"}})

    deserialized = compat.deserialize_properties(struct)

    assert sdk_rpc.is_rpc_secret(deserialized["password"]), changed("deserialize_properties", "how a secret is kept")
    assert compat.plain(deserialized) == {"password": "hunter2"}, changed("the secret wrapper", "compat.plain")


def test_deserialize_properties_reads_a_struct_as_the_registrations_record_it():
    struct = struct_pb2.Struct()
    struct.update({"count": 7, "ratio": 0.5, "names": ["a", 1], "nested": {"on": True}, "nothing": None})

    assert compat.deserialize_properties(struct) == {"count": 7.0, "ratio": 0.5, "names": ["a", 1.0],
                                                     "nested": {"on": True}}, changed(
        "rpc.deserialize_properties", "numbers stay floats, a null is dropped: the recorded inputs and outputs")


def test_ensure_event_loop_gives_a_thread_its_loop_and_sync_await_runs_on_it():
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    seen: dict = {}

    def in_a_fresh_thread():  # as the SDK's executor threads call the monitor
        loop = compat.ensure_event_loop()
        seen["same loop"] = asyncio.get_event_loop() is loop
        seen["result"] = compat.sync_await(answer())
        loop.close()

    thread = threading.Thread(target=in_a_fresh_thread)
    thread.start()
    thread.join(timeout=10)

    assert seen.get("same loop"), changed("sync_await._ensure_event_loop", "sets the thread's event loop")
    assert seen.get("result") == 42, changed("sync_await._sync_await", "runs an awaitable to its result")


def test_the_register_resource_messages_have_the_fields_a_registration_copies():
    request = set(resource_pb2.RegisterResourceRequest.DESCRIPTOR.fields_by_name)
    response = set(resource_pb2.RegisterResourceResponse.DESCRIPTOR.fields_by_name)
    copied = {"type", "name", "parent", "custom", "protect", "provider", "dependencies", "propertyDependencies",
              "aliasURNs", "deleteBeforeReplace", "ignoreChanges", "retainOnDelete", "additionalSecretOutputs",
              "object"}

    assert copied <= request, changed("RegisterResourceRequest", f"registration() reads {sorted(copied - request)}")
    assert {"urn", "id", "object"} <= response, changed("RegisterResourceResponse", "compat.registration")


# A program with what the real one does: a component with a protected child, an explicit dependency, a secret input,
# a provider function call, and stack outputs (one of them secret). Each run needs a fresh process (global state).
PROGRAM = """
import json, sys
import pulumi
from ops.offline import compat

def new_resource(type_, name, inputs):
    return f"{name}-id", {**inputs, "arn": f"arn:{name}"}

def call(token, args):
    return {"echo": args.get("say"), "token": token}

def program():
    if sys.argv[1] == "fail":
        raise pulumi.RunError("config `delivery:x` is wrong")
    parent = pulumi.ComponentResource("test:index:Group", "group")
    first = pulumi.CustomResource("test:index:Thing", "first", {"size": 1},
                                  pulumi.ResourceOptions(parent=parent))
    looked_up = pulumi.runtime.invoke("test:index:lookup", {"say": "hi"}).value
    pulumi.CustomResource(
        "test:index:Thing", "second", {"password": pulumi.Output.secret("hunter2"), "echo": looked_up["echo"]},
        pulumi.ResourceOptions(parent=parent, protect=True, depends_on=[first]))
    pulumi.export("firstId", first.id)
    pulumi.export("token", pulumi.Output.secret("s3cret"))

try:
    registrations, outputs = compat.run_on_mocks(program, project="proj", stack="dev", new_resource=new_resource,
                                                 call=call)
except compat.RunError as error:
    print(json.dumps({"run error": str(error)}))
else:
    print(json.dumps({"registrations": [vars(r) for r in registrations], "outputs": outputs}))
sys.stdout.flush()
import os
os._exit(0)
"""


def run_program_on_mocks(mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRAM), mode], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, changed("the mock runtime", result.stderr.strip().splitlines()[-1:])
    return json.loads(result.stdout)


def test_a_program_on_the_mock_runtime_is_recorded_as_the_engine_sees_it():
    """MockMonitor subclassed and given to set_mocks, run_pulumi_func and _sync_await, Stack.outputs, together."""
    document = run_program_on_mocks("ok")
    registrations = {r["name"]: r for r in document["registrations"]}
    root = document["registrations"][0]

    assert root["type"] == STACK_TYPE and root["name"] == "proj-dev", changed(
        "set_mocks", "it registers the root stack first, through the monitor")
    assert set(registrations) == {"proj-dev", "group", "first", "second"}, changed(
        "MockMonitor.RegisterResource", "every registration reaches the subclass")
    group, first, second = registrations["group"], registrations["first"], registrations["second"]
    assert group["custom"] is False and group["parent"] == root["urn"], changed("RegisterResourceRequest", "parent")
    assert second["parent"] == group["urn"] and second["protect"] is True and first["protect"] is False, changed(
        "RegisterResourceRequest", "parent and protect")
    assert first["urn"] in second["dependencies"], changed("RegisterResourceRequest", "dependencies")
    assert second["inputs"] == {"password": "hunter2", "echo": "hi"}, changed(
        "rpc.deserialize_properties or the mock call", "inputs, the secret unwrapped, the call's result")
    assert second["id"] == "second-id" and second["outputs"]["arn"] == "arn:second", changed(
        "RegisterResourceResponse", "the mock's id and outputs")
    assert document["outputs"] == {"firstId": "first-id", "token": "s3cret"}, changed(
        "Stack.outputs", "the stack outputs, resolved, the secret unwrapped")


def test_a_run_error_in_the_program_reaches_the_caller():
    assert run_program_on_mocks("fail") == {"run error": "config `delivery:x` is wrong"}, changed(
        "run_pulumi_func", "it re-raises the program's error")


def test_the_config_the_offline_run_hands_over_reaches_the_program(monkeypatch):
    import pulumi

    from components.settings import engine_config

    monkeypatch.setenv(compat.CONFIG_VARIABLE, "{}")  # restored after the test
    compat.hand_config_to_program({"delivery:appName": "web", "aws:region": "eu-west-1"})

    def read():
        return pulumi.Config("delivery").get("appName"), pulumi.Config("aws").get("region"), engine_config()

    app_name, region, every_key = contextvars.copy_context().run(read)

    assert (app_name, region) == ("web", "eu-west-1"), changed("PULUMI_CONFIG", "read at each pulumi.Config read")
    assert every_key == {"delivery:appName": "web", "aws:region": "eu-west-1"}, changed(
        "config.get_config_env", "components/settings.py engine_config lists the keys")


def test_the_config_internals_engine_config_reads_are_there():
    """components/settings.py engine_config (which the program cannot import from ops) reads these two;
    tests/components/test_settings.py TestEngineConfig pins their behaviour next to it."""
    assert callable(getattr(sdk_config, "get_config_env", None)), changed("config.get_config_env", "engine_config")
    assert isinstance(getattr(sdk_config, "CONFIG", None), ContextVar), changed("config.CONFIG", "engine_config")


@pytest.mark.parametrize(("message", "fields"), [
    ("AnalyzeRequest", {"urn", "type", "name", "properties", "options", "provider"}),
    ("AnalyzerResource", {"urn", "type", "name", "properties", "options", "provider", "parent", "dependencies",
                          "propertyDependencies"}),
    ("AnalyzerResourceOptions", {"protect", "ignoreChanges", "deleteBeforeReplace", "deleteBeforeReplaceDefined",
                                 "additionalSecretOutputs", "aliases", "customTimeouts", "parent"}),
    ("AnalyzerProviderResource", {"urn", "type", "name", "properties"}),
    ("AnalyzerPropertyDependencies", {"urns"}),
    ("AnalyzeStackRequest", {"resources"}),
    ("AnalyzeResponse", {"diagnostics", "not_applicable"}),
    ("AnalyzeDiagnostic", {"policyName", "message", "description", "enforcementLevel", "urn"}),
    ("AnalyzerInfo", {"name", "policies"}),
    ("PolicyInfo", {"name", "description", "enforcementLevel", "policy_type", "configSchema"}),
    ("ConfigureAnalyzerRequest", {"policyConfig"}),
    ("PolicyConfig", {"enforcementLevel", "properties"}),
    ("AnalyzerHandshakeRequest", {"engine_address", "root_directory", "program_directory"}),
    ("AnalyzerStackConfigureRequest", {"stack", "project", "organization", "dry_run", "config"}),
])
def test_the_analyzer_messages_have_the_fields_the_client_uses(message, fields):
    present = set(getattr(compat.analyzer_pb2, message).DESCRIPTOR.fields_by_name)

    assert fields <= present, changed(f"analyzer_pb2.{message}", f"the client uses {sorted(fields - present)}")


def test_the_analyzer_enums_and_stub_are_the_ones_the_client_uses():
    assert set(compat.analyzer_pb2.EnforcementLevel.keys()) >= {level.upper() for level in LEVELS}, changed(
        "analyzer_pb2.EnforcementLevel", "the levels policy_config.LEVELS names")
    assert compat.analyzer_pb2.POLICY_TYPE_STACK, changed("analyzer_pb2.POLICY_TYPE_STACK", "a stack policy's kind")
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        stub = compat.analyzer_pb2_grpc.AnalyzerStub(channel)
        methods = ("Handshake", "ConfigureStack", "GetAnalyzerInfo", "Configure", "Analyze", "AnalyzeStack")
        assert all(callable(getattr(stub, name, None)) for name in methods), changed(
            "analyzer_pb2_grpc.AnalyzerStub", "the calls the engine makes")
