"""The program and the policy pack run offline: no engine, no provider plugin, no cloud (README, "Testing without a
cloud"). One module per concern:

    model.py          what an offline run records (Registration, MockRun) and the engine's type names (STACK_TYPE)
    stack_file.py     Pulumi.yaml and Pulumi.<stack>.yaml read the way the Pulumi CLI reads them
    mocks.py          the outputs and call results the mock runtime answers with (AWS's ARN formats)
    compat.py         every use of the Pulumi SDK beyond its documented API, each checked by
                      tests/ops/test_check_sdk_compat.py
    run.py            the child process that runs the program on the SDK's mock runtime, and the parent side
                      (`run_program`); `python -m ops.mockrun` is its command line
    policy_config.py  policy levels and properties, as the CLI computes them for --policy-pack-config
    messages.py       the Analyzer requests the engine sends for a run's resources, and what the pack answers
    analyzer.py       the policy pack as its own process and the gRPC client that drives it

Nothing here imports the SDK at import time except compat.py (and the modules that need its protobuf messages:
messages.py and analyzer.py), so the child process can set itself up before the SDK loads.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
PACK_DIR = PROJECT_ROOT / "policies"
"""The policy pack `ops check` and the tests run (policies/README.md)."""
