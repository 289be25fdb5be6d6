"""Benchmark: the offline run of the prod program against its import floor, in the same run. Target: the median run
takes at most 1.2 times the median floor.

- The offline run is `run_program` as `ops check` and the tests call it: a fresh `python -m ops.mockrun` child
  (interpreter start-up, imports, the stack file, registration of every resource on the SDK's mock runtime, the JSON
  document), read back in this process.
- The floor is a child process that imports exactly the modules the program uses: pulumi, pulumi_aws, and the
  pulumi_aws submodules the run touches. pulumi_aws loads its submodules lazily, on the first attribute read, so the
  floor reads an attribute of each; which ones the run touches, a probe run finds first (not timed). The floor exits
  the way the run's child does: stdout and stderr flushed, then os._exit.
- Both are timed here from just before the child is spawned to just after it is reaped, so the clock starts before
  the interpreter starts; with the same interpreter, environment and working directory; alternately, round after
  round, after one warm-up round each, so that both see the same machine.
- For comparison, timed the same way: the run's child with the cyclic garbage collector left on (the child turns it
  off; see ops/offline/run.py `child`), and the floor with it off, so that the share of each is visible.

    .venv/bin/python benchmarks/program_mock_run.py [--stack prod] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.offline import PROJECT_ROOT
from ops.offline.model import MockRun
from ops.offline.run import run_program

TARGET_RATIO = 1.2
# Runs the program once in a fresh process and prints the pulumi_aws submodules it loaded.
PROBE = """
import json, sys, types
from pathlib import Path
import pulumi_aws
from ops.offline.run import run_here
lazy = [name for name, module in sys.modules.items()
        if name.startswith("pulumi_aws.") and name.count(".") == 1 and type(module) is not types.ModuleType]
run_here(Path(sys.argv[1]), sys.argv[2])
print(json.dumps(sorted(name for name in lazy if type(sys.modules[name]) is types.ModuleType)))
"""
# The floor: the program's modules, each lazy submodule loaded by an attribute read, and the run's exit path.
FLOOR = """
import os, sys
if sys.argv[1] == "collector-off":
    import gc
    gc.disable()
import pulumi
import pulumi_aws
for name in sys.argv[2:]:
    getattr(sys.modules[name], "__floor__", None)
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""
# The run's child (ops.offline.run.child) without gc.disable().
COLLECTOR_ON = """
import os, sys
from ops.offline.run import main
code = main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""


def child_env() -> dict[str, str]:
    """The environment run_program gives its child."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}


def spawn(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=child_env(), check=True)


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def describe(seconds: list[float]) -> str:
    return f"{min(seconds):.2f} / {statistics.median(seconds):.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    modules = json.loads(spawn(["-c", PROBE, str(PROJECT_ROOT), args.stack]).stdout)
    cases = {
        "offline run (run_program)": lambda: run_program(args.stack),
        "import floor": lambda: spawn(["-c", FLOOR, "collector-on", *modules]),
        "offline run, collector on": lambda: spawn(["-c", COLLECTOR_ON, "-s", args.stack]),
        "import floor, collector off": lambda: spawn(["-c", FLOOR, "collector-off", *modules]),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for action in cases.values():  # warm the file system cache and the .pyc files; not counted
        action()
    evaluations = []  # the run's child's own figure
    for _ in range(args.repeat):
        for name, action in cases.items():
            seconds, result = timed(action)
            times[name].append(seconds)
            if isinstance(result, MockRun):
                run = result
                evaluations.append(run.evaluation_seconds)

    kinds = Counter("component" if r.type.startswith("delivery:") else "custom" if r.custom else "other"
                    for r in run.resources)
    print(f"stack {args.stack}: {len(run.resources)} registrations ({kinds['custom']} custom resources, "
          f"{kinds['component']} components, the root stack)")
    print(f"the program touches {len(modules)} pulumi_aws submodules: "
          f"{', '.join(name.removeprefix('pulumi_aws.') for name in modules)}")
    print(f"{args.repeat} rounds, wall time from spawn to exit (min / median):")
    width = max(map(len, cases)) + 2
    for name, seconds in times.items():
        print(f"  {name:<{width}}{describe(seconds)}")
    run_times, floor_times = times["offline run (run_program)"], times["import floor"]
    ratio = statistics.median(run_times) / statistics.median(floor_times)
    print(f"ratio offline run / import floor: median {ratio:.2f}, min {min(run_times) / min(floor_times):.2f} "
          f"(target <= {TARGET_RATIO})")
    collector_on = statistics.median(times["offline run, collector on"]) / statistics.median(floor_times)
    both_off = statistics.median(run_times) / statistics.median(times["import floor, collector off"])
    print(f"for comparison: the run with the collector on / the floor, median {collector_on:.2f}; the run / the floor "
          f"with the collector off in both, median {both_off:.2f}")
    print(f"inside the child, from its entry point (imports, stack file, registration): median "
          f"{statistics.median(evaluations):.2f} s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
