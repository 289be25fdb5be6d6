"""Every use of the Pulumi Python SDK beyond its documented API on the program/ops side, in one module.

The offline run (run.py) drives the SDK's mock runtime as `pulumi.runtime.test` does, but records every registration
as the engine would receive it; the Analyzer client (messages.py, analyzer.py) speaks the engine's protocol with the
SDK's generated protobuf modules. None of the following is documented API. Each is named here, used from here only,
and checked by tests/ops/test_check_sdk_compat.py, which fails naming the internal when an SDK release changes it;
requirements.txt pins pulumi to the versions those tests passed on (to move the pin: install the new version, run
those tests, port what changed here, then widen it).

- `pulumi.runtime.mocks.MockMonitor`: subclassed (RecordingMonitor) and handed to `set_mocks(monitor=...)`. Its
  `RegisterResource(request)` answers with a RegisterResourceResponse (urn, id, object); for the root stack it answers
  before making sure the calling thread has an event loop. `set_mocks` registers the root stack first.
- `pulumi.runtime.sync_await._ensure_event_loop`: the monitor is called on the SDK's executor threads, and
  deserializing properties needs an event loop in that thread.
- `pulumi.runtime.sync_await._sync_await` and `pulumi.runtime.stack.run_pulumi_func`: run the program until every
  registration and output has settled (what `pulumi.runtime.test` does), and resolve the stack outputs.
- `pulumi.runtime.stack.Stack.outputs`: the root stack's exports, where `pulumi.export` puts them.
- `pulumi.runtime.rpc.deserialize_properties`: a registration's inputs and outputs (a protobuf Struct) as Python values.
- The resource monitor's RegisterResourceRequest fields (pulumi.runtime.proto.resource_pb2) that a Registration copies.
- The secret signature (`rpc._special_sig_key`, `rpc._special_secret_sig`): how a deserialized secret is marked.
- `PULUMI_CONFIG`: the stack's config as JSON in the environment, as pulumi-language-python passes it to the program;
  the SDK reads it at each read of a config value (`pulumi.runtime.config.get_config_env`).
- `pulumi.runtime.config.get_config_env` and `pulumi.runtime.config.CONFIG`: components/settings.py `engine_config()`
  reads them to list every config key. The program must not import ops, so that function reads them itself and
  tests/components/test_settings.py (TestEngineConfig) pins them next to it; test_check_sdk_compat.py checks that the
  config the offline run hands over reaches both `pulumi.Config` and `engine_config()`.
- `pulumi.runtime.proto.analyzer_pb2` and `analyzer_pb2_grpc`: the Analyzer protocol's messages and client stub.

Importing this module imports the SDK; the offline run's child process does so only after it has set itself up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.runtime
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import stack as _stack
from pulumi.runtime import sync_await as _sync_await_module
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ops.errors import OpsError
from ops.offline.model import Registration

__all__ = [
    "CONFIG_VARIABLE",
    "SECRET_SIG",
    "SECRET_SIG_KEY",
    "MockMonitor",
    "RecordingMonitor",
    "RunError",
    "analyzer_pb2",
    "analyzer_pb2_grpc",
    "deserialize_properties",
    "ensure_event_loop",
    "hand_config_to_program",
    "plain",
    "registration",
    "run_on_mocks",
    "run_pulumi_func",
    "stack_outputs",
    "sync_await",
]


def _internal(owner: Any, name: str, label: str | None = None) -> Any:
    """OWNER.NAME, or a one-line error naming it (LABEL) when this SDK release no longer has it."""
    try:
        return getattr(owner, name)
    except AttributeError:
        raise OpsError(f"pulumi {_sdk_version()} has no {label or owner.__name__ + '.' + name}, which the offline run "
                       "uses (ops/offline/compat.py); install the version requirements.txt pins") from None


def _sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi")
    except PackageNotFoundError:
        return "(unknown version)"


MockMonitor = _internal(_mocks, "MockMonitor")
ensure_event_loop: Callable[[], Any] = _internal(_sync_await_module, "_ensure_event_loop")
sync_await: Callable[[Any], Any] = _internal(_sync_await_module, "_sync_await")
run_pulumi_func = _internal(_stack, "run_pulumi_func")
deserialize_properties = _internal(_rpc, "deserialize_properties")
RunError = pulumi.RunError  # documented; named here so that run.py never imports the SDK itself

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # rpc._special_sig_key: marks a special value in a map
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # rpc._special_secret_sig: ...that is a secret (its "value")
CONFIG_VARIABLE = "PULUMI_CONFIG"


def hand_config_to_program(config: dict[str, str]) -> None:
    """Hands the stack's config (namespaced keys, string values) to the program as the language host does."""
    os.environ[CONFIG_VARIABLE] = json.dumps(config)


def plain(value: Any) -> Any:
    """Deserialized properties may hold SDK sentinels (secrets, unknowns); keep plain JSON values."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return plain(value.get("value"))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def registration(request, response) -> Registration:
    """What the engine receives for one RegisterResource call (options included) and what the mock answered."""
    return Registration(
        urn=response.urn, type=request.type, name=request.name, parent=request.parent, custom=request.custom,
        protect=bool(request.protect), provider=request.provider, dependencies=list(request.dependencies),
        property_dependencies={key: list(value.urns) for key, value in request.propertyDependencies.items()},
        aliases=list(request.aliasURNs), delete_before_replace=request.deleteBeforeReplace,
        ignore_changes=list(request.ignoreChanges), retain_on_delete=request.retainOnDelete,
        additional_secret_outputs=list(request.additionalSecretOutputs), id=response.id,
        inputs=plain(deserialize_properties(request.object)), outputs=plain(deserialize_properties(response.object)),
    )


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, new_resource: Callable[[str, str, dict], tuple[str, dict]],
                 call: Callable[[str, dict], dict]):
        super().__init__()
        self._new_resource, self._call = new_resource, call

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        return self._new_resource(args.typ, args.name, args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return self._call(args.token, args.args)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, recording every registration the engine would see, options included."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        ensure_event_loop()  # the SDK returns early for the root stack, before it makes sure of one
        self.registrations.append(registration(request, response))
        return response


def stack_outputs(root: pulumi.Resource) -> dict[str, Any]:
    """The root stack's exports, resolved to plain values."""
    exports = _internal(root, "outputs", "pulumi.runtime.stack.Stack.outputs")
    return plain({key: sync_await(pulumi.Output.from_input(value).future()) for key, value in exports.items()})


def run_on_mocks(program: Callable[[], object], *, project: str, stack: str,
                 new_resource: Callable[[str, str, dict], tuple[str, dict]],
                 call: Callable[[str, dict], dict]) -> tuple[list[Registration], dict[str, Any]]:
    """Runs PROGRAM on the SDK's mock runtime (not a preview: outputs are known) until every registration and output
    has settled. NEW_RESOURCE(type, name, inputs) gives a resource's id and outputs, CALL(token, args) a function's
    result. Returns the registrations in order, the root stack first, and the stack outputs. Once per process: the
    SDK's runtime state is global."""
    mocks = _Mocks(new_resource, call)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = pulumi.runtime.get_root_resource()  # set_mocks registered it: monitor.registrations[0]
    sync_await(run_pulumi_func(program))
    return monitor.registrations, stack_outputs(root)
