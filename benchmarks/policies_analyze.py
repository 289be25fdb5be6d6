"""Benchmark: the policy pack over a large synthetic stack, driven over the Analyzer gRPC protocol as the engine does.

Targets: AnalyzeStack over 5,000 resources against a 5,000-resource baseline <= 2 s; mean Analyze latency per
resource <= 2 ms; and 1,000 vs 10,000 resources to show that the time grows linearly.

The synthetic stack is the real prod program (run once on the mock runtime) copied until it has N resources:
every copy renames its resources (so URNs, parents and dependencies stay consistent), keeping the real shapes,
IAM documents, pipeline stages and so on. The baseline is the stack export of that stack; the plan then differs
from it by about 1% updated and 0.2% deleted resources, so every change guardrail does its full matching and
diffing. The pack runs with config/prod.json plus the baseline (every policy mandatory).

Wall time is what a user waits; the pack process's CPU time (from /proc) is reported too, because on a shared
machine wall time also measures the other processes.

Run: python benchmarks/policies_analyze.py [--sizes 1000 5000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.analyzer import PACK_DIR, PolicyPack, _Providers, analyze_request, load_policy_config, stack_resource
from ops.baseline import write_baseline
from ops.check import with_baseline
from ops.mockrun import PROJECT_ROOT, MockRun, run_program, stack_config

ROOT_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:aws")


def renamer(copy_index: int, root_urns: set[str]):
    def rename(urn: str) -> str:
        if not urn or urn in root_urns:
            return urn
        head, name = urn.rsplit("::", 1)
        return f"{head}::{name}-{copy_index}"

    return rename


def synthetic(run: MockRun, size: int) -> MockRun:
    """The program's resources copied (renamed) until the stack holds `size` resources."""
    roots = [r for r in run.resources if r.type in ROOT_TYPES]
    templates = [r for r in run.resources if r.type not in ROOT_TYPES]
    root_urns = {r.urn for r in roots}
    resources = list(roots)
    copy_index = 0
    while len(resources) < size:
        rename = renamer(copy_index, root_urns)
        for template in templates[: size - len(resources)]:
            item = copy.deepcopy(template)
            item.urn, item.name, item.parent = rename(item.urn), f"{item.name}-{copy_index}", rename(item.parent)
            item.dependencies = [rename(u) for u in item.dependencies]
            item.property_dependencies = {k: [rename(u) for u in v] for k, v in item.property_dependencies.items()}
            resources.append(item)
        copy_index += 1
    return MockRun(project=run.project, stack=run.stack, resources=resources, stack_outputs=run.stack_outputs)


def planned_change(run: MockRun) -> MockRun:
    """The plan: ~1% of the resources updated, ~0.2% deleted."""
    plan = copy.deepcopy(run)
    for index, resource in enumerate(plan.resources):
        if index % 100 == 50 and resource.custom:
            resource.inputs["description"] = resource.outputs["description"] = "changed"
    plan.resources = [r for i, r in enumerate(plan.resources) if i < 2 or i % 500 != 250]
    return plan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), unaffected by other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pack: PolicyPack, plan: MockRun, repeat: int) -> dict:
    providers = _Providers(plan.resources)
    requests = [analyze_request(r, providers) for r in plan.resources]
    started = time.perf_counter()
    stack = [stack_resource(r, providers, plan.stack_outputs if r.type == "pulumi:pulumi:Stack" else None)
             for r in plan.resources]
    build_seconds = time.perf_counter() - started

    analyze_means, stack_seconds, stack_cpu, diagnostics = [], [], [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        for request in requests:
            pack.analyze(request)
        analyze_means.append((time.perf_counter() - started) / len(requests))
        started, cpu = time.perf_counter(), cpu_seconds(pack.pid)
        analysis = pack.analyze_stack(stack)
        stack_seconds.append(time.perf_counter() - started)
        stack_cpu.append(cpu_seconds(pack.pid) - cpu)
        diagnostics = len(analysis.diagnostics)
    return {
        "resources": len(plan.resources),
        "analyze_mean_ms": statistics.median(analyze_means) * 1000,
        "analyze_stack_s": statistics.median(stack_seconds),
        "analyze_stack_pack_cpu_s": statistics.median(stack_cpu),
        "analyze_stack_build_s": build_seconds,
        "stack_diagnostics": diagnostics,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print("running the prod program on the mock runtime for templates...", file=sys.stderr)
    program = run_program("prod", PROJECT_ROOT)
    config = load_policy_config(PACK_DIR / "config" / "prod.json")
    results = []
    with tempfile.TemporaryDirectory() as scratch, PolicyPack(
        PACK_DIR, project=program.project, stack="prod", stack_config=stack_config(PROJECT_ROOT, "prod")
    ) as pack:
        for size in args.sizes:
            stack = synthetic(program, size)
            baseline = write_baseline(stack, Path(scratch) / f"baseline-{size}.json")
            pack.configure(with_baseline(config, pack.info()[1], baseline))
            result = measure(pack, planned_change(stack), args.repeat)
            result["baseline_resources"] = size
            results.append(result)
            print(f"{result['resources']:>6} resources vs {size:>6}-resource baseline: "
                  f"AnalyzeStack {result['analyze_stack_s']:.3f} s wall, {result['analyze_stack_pack_cpu_s']:.2f} s "
                  f"pack CPU (request built in "
                  f"{result['analyze_stack_build_s']:.3f} s; {result['stack_diagnostics']} stack diagnostics), "
                  f"Analyze mean {result['analyze_mean_ms']:.3f} ms/resource", flush=True)

    by_size = {r["baseline_resources"]: r for r in results}
    if 1000 in by_size and 10000 in by_size:
        ratio = by_size[10000]["analyze_stack_s"] / by_size[1000]["analyze_stack_s"]
        cpu_ratio = by_size[10000]["analyze_stack_pack_cpu_s"] / by_size[1000]["analyze_stack_pack_cpu_s"]
        print(f"growth 1,000 -> 10,000: AnalyzeStack x{ratio:.1f} wall, x{cpu_ratio:.1f} pack CPU (linear would be "
              f"x10), Analyze mean "
              f"{by_size[1000]['analyze_mean_ms']:.3f} -> {by_size[10000]['analyze_mean_ms']:.3f} ms")
    if 5000 in by_size:
        five = by_size[5000]
        ok = five["analyze_stack_s"] <= 2.0 and five["analyze_mean_ms"] <= 2.0
        print(f"targets at 5,000 (AnalyzeStack <= 2 s, Analyze <= 2 ms): {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
