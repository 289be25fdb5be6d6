"""Times evaluating the prod program on the Pulumi SDK's mock runtime (a fresh process: interpreter start,
imports, registration of every resource) and counts what it registers. Target: under 2 s.

    .venv/bin/python benchmarks/program_mock_run.py [--stack prod] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.mockrun import run_program


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    timings, evaluations = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        run = run_program(args.stack)
        timings.append(time.perf_counter() - started)
        evaluations.append(run.evaluation_seconds)
    kinds = Counter("component" if r.type.startswith("delivery:") else "custom" if r.custom else "other"
                    for r in run.resources)
    print(f"stack {args.stack}: {len(run.resources)} registrations "
          f"({kinds['custom']} custom resources, {kinds['component']} components, the root stack)")
    print(f"import + registration over {args.repeat} runs: min {min(evaluations):.2f}s, "
          f"median {statistics.median(evaluations):.2f}s, max {max(evaluations):.2f}s (target < 2 s)")
    print(f"whole child process (adds interpreter start-up and JSON transfer): min {min(timings):.2f}s, "
          f"median {statistics.median(timings):.2f}s")
    return 0 if statistics.median(evaluations) < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
