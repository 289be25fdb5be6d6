"""Benchmark: the policy pack over a large synthetic stack, driven over the Analyzer gRPC protocol as the engine does,
next to its floor: a trivial pack with one no-op stack policy, over the same stack, in the same run.

What it claims and how it makes sure of it:

- The floor. pulumi-policy deserializes the whole stack (protobuf to dicts, the unknown-checking proxy, parents,
  dependencies) before it calls a stack policy; a trivial pack with one stack policy that does nothing pays exactly
  that. The trivial pack runs on the same interpreter with the same collector settings as the pack
  (guardrails.pack.tune_gc), and the two are timed alternately, round after round, so that both see the same
  machine. The ratio pack/floor is the pack's own cost on top of what the SDK cannot avoid; target <= 2 at 10,000.
- Linear growth. AnalyzeStack from 1,000 to 10,000 resources; target <= x11 (x10 is linear).
- The same code paths at every size. The synthetic stack is the real prod program (run once on the mock runtime)
  copied until it has N resources; every copy renames its URNs and its physical names (bucket names, ids, ARNs), so
  joins by name find one partner as in a real stack, not every copy's; standalone SNS topics fill the remainder.
  The plan then differs from the baseline (the export of that stack) by the same changes in every block of 1,000
  resources: PER_1K below, which give one violation of each of s3-bucket-hardened, no-stateful-deletion,
  public-contract-kept and codedeploy-wave-size per 1,000 resources, and a change score over the budget at every
  size (change-budget reports once per stack). The benchmark prints the changes and the diagnostics per 1,000
  resources it measured, so a reader can check.
- Wall time is what a user waits; the pack process's CPU time (its threads' on-CPU time, from /proc) is printed
  too, because on a shared machine wall time also measures the other processes. Wall time also includes this
  client building and sending the request (the same for the pack and the floor, so it pulls the wall ratio towards
  1; the CPU ratio is the stricter one).

The pack runs with config/prod.json plus the baseline (every policy mandatory). Mean Analyze latency per resource is
printed as well (target <= 2 ms), and AnalyzeStack at 5,000 (target <= 2 s).

Run: python benchmarks/policies_analyze.py [--sizes 1000 5000 10000] [--repeat 5] [--pack DIR] [--no-analyze]
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.baseline import write_baseline
from ops.check import with_baseline
from ops.offline import PACK_DIR, PROJECT_ROOT
from ops.offline.analyzer import PolicyPack, pack_python
from ops.offline.messages import Providers, analyze_request, stack_resource
from ops.offline.model import STACK_TYPE, MockRun, Registration
from ops.offline.policy_config import load_policy_config
from ops.offline.run import run_program
from ops.offline.stack_file import stack_config

ROOT_TYPES = (STACK_TYPE, "pulumi:providers:aws")
BLOCK = 1000
# Changes made to every block of 1,000 resources of the plan (what each one triggers).
PER_1K = {
    "update": 12,  # 10 descriptions; a health-check path (public-contract-kept); a wave size (codedeploy-wave-size)
    "delete": 2,  # a log group (no-stateful-deletion); a bucket's BucketVersioning (s3-bucket-hardened)
    "create": 1,  # an SNS topic
}
DESCRIPTION_UPDATES = 10
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TOPIC = "aws:sns/topic:Topic"
# The collector settings of the pack (policies/guardrails/pack.py), so the floor is measured like the pack.
TRIVIAL_PACK = """\
import sys
sys.path.insert(0, {pack_dir!r})
from guardrails.pack import tune_gc
from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy

tune_gc()
PolicyPack(name="trivial", enforcement_level=EnforcementLevel.MANDATORY, policies=[
    StackValidationPolicy(name="no-op", description="Reads nothing.", validate=lambda args, report_violation: None),
])
"""


# ---------------------------------------------------------------------------------------------- the stack


def _physical_names(templates: list[Registration]) -> re.Pattern:
    """The physical names (ids, names, bucket names) of the program's resources, as one pattern."""
    names = set()
    for resource in templates:
        for value in (resource.id, resource.outputs.get("name"), resource.outputs.get("bucket")):
            if isinstance(value, str) and len(value) >= 8 and "-" in value and not value.startswith("arn:"):
                names.add(value)
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?![\w-])")


def _renamed_values(value, pattern: re.Pattern, suffix: str):
    if isinstance(value, str):
        return pattern.sub(lambda m: m.group(1) + suffix, value)
    if isinstance(value, dict):
        return {k: _renamed_values(v, pattern, suffix) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed_values(v, pattern, suffix) for v in value]
    return value


def _copy(template: Registration, suffix: str, root_urns: set[str], names: re.Pattern) -> Registration:
    """A copy of a resource with its own URN and physical names (references to other copied resources alike)."""

    def rename(urn: str) -> str:
        return urn if not urn or urn in root_urns else urn + suffix

    item = copy.deepcopy(template)
    item.urn, item.name, item.parent = rename(item.urn), item.name + suffix, rename(item.parent)
    item.id = _renamed_values(item.id, names, suffix)
    item.inputs = _renamed_values(item.inputs, names, suffix)
    item.outputs = _renamed_values(item.outputs, names, suffix)
    item.dependencies = [rename(u) for u in item.dependencies]
    item.property_dependencies = {k: [rename(u) for u in v] for k, v in item.property_dependencies.items()}
    item.aliases = [rename(u) for u in item.aliases]
    return item


def synthetic(run: MockRun, size: int) -> MockRun:
    """The program's resources copied until the stack holds `size` resources: whole copies, each with its own URNs
    and physical names, then standalone SNS topics for the rest (a partial copy could hold a bucket without its
    settings, a violation nobody planned). Resources are in URN order within a copy, so that the plan is the same
    whatever order the mock runtime registered them in."""
    roots = [r for r in run.resources if r.type in ROOT_TYPES]
    templates = sorted((r for r in run.resources if r.type not in ROOT_TYPES), key=lambda r: r.urn)
    root_urns = {r.urn for r in roots}
    names = _physical_names(templates)
    resources = list(roots)
    while len(resources) + len(templates) <= size:
        suffix = f"-c{(len(resources) - len(roots)) // len(templates)}"
        resources += [_copy(template, suffix, root_urns, names) for template in templates]
    filler = next(t for t in templates if t.type == TOPIC)
    resources += [_copy(filler, f"-f{index}", root_urns, names) for index in range(size - len(resources))]
    return MockRun(project=run.project, stack=run.stack, resources=resources, stack_outputs=run.stack_outputs)


def _first(block: list[Registration], type_: str) -> Registration:
    return next(r for r in block if r.type == type_)


def planned_change(stack: MockRun) -> tuple[MockRun, dict[str, int]]:
    """The plan: in every full block of 1,000 resources, the PER_1K changes. Returns it and the change counts."""
    plan = copy.deepcopy(stack)
    deleted, created = set(), []
    counts = collections.Counter()
    for start in range(0, len(plan.resources) - BLOCK + 1, BLOCK):
        block = plan.resources[start:start + BLOCK]
        described = [r for r in block if r.custom and isinstance(r.inputs.get("description"), str)]
        for index in range(DESCRIPTION_UPDATES):
            resource = described[index * len(described) // DESCRIPTION_UPDATES]
            resource.inputs["description"] = resource.outputs["description"] = f"changed {index}"
        group = _first(block, TARGET_GROUP)
        for props in (group.inputs, group.outputs):
            props["healthCheck"] = {**props["healthCheck"], "path": "/changed"}
        deployment = _first(block, DEPLOYMENT_GROUP)
        deployment.inputs["deploymentConfigName"] = "CodeDeployDefault.HalfAtATime"
        deployment.outputs["deploymentConfigName"] = "CodeDeployDefault.HalfAtATime"
        deployment.property_dependencies.pop("deploymentConfigName", None)
        deleted |= {_first(block, LOG_GROUP).urn, _first(block, VERSIONING).urn}
        topic = copy.deepcopy(_first(block, TOPIC))
        topic.urn, topic.name, topic.id = topic.urn + "-new", topic.name + "-new", topic.id + "-new"
        created.append(topic)
        counts.update(update=DESCRIPTION_UPDATES + 2, delete=2, create=1)
    plan.resources = [r for r in plan.resources if r.urn not in deleted] + created
    return plan, dict(counts)


def trivial_pack(directory: Path) -> Path:
    """A pack with one stack policy that reads nothing: what pulumi-policy costs by itself."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (directory / "__main__.py").write_text(TRIVIAL_PACK.format(pack_dir=str(PACK_DIR)))
    return directory


# ---------------------------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far, unaffected by other load on the machine: the sum of its threads' on-CPU time
    in nanoseconds (/proc/PID/task/*/schedstat; the gRPC server's threads live as long as the process), else
    user + system time in clock ticks (/proc/PID/stat, 10 ms steps)."""
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_stack(pack: PolicyPack, stack) -> tuple[float, float, object]:
    started, cpu = time.perf_counter(), cpu_seconds(pack.pid)
    analysis = pack.analyze_stack(stack)
    return time.perf_counter() - started, cpu_seconds(pack.pid) - cpu, analysis


def measure(pack: PolicyPack, peer: PolicyPack, plan: MockRun, repeat: int, analyze: bool) -> dict:
    providers = Providers(plan.resources)
    requests = [analyze_request(r, providers) for r in plan.resources]
    stack = [stack_resource(r, providers, plan.stack_outputs if r.type == STACK_TYPE else None)
             for r in plan.resources]
    rows = collections.defaultdict(list)
    analysis = None
    # Small stacks get more rounds (they are cheap, and a median of few short runs is at the mercy of other load).
    for round_ in range(max(repeat, repeat * 5000 // len(stack))):
        if analyze and round_ < repeat:
            started = time.perf_counter()
            for request in requests:
                pack.analyze(request)
            rows["analyze_mean"].append((time.perf_counter() - started) / len(requests))
        # Alternate which one goes first, so neither always runs right after the other's garbage.
        for who in (("pack", "peer") if round_ % 2 == 0 else ("peer", "pack")):
            wall, cpu, result = timed_stack(pack if who == "pack" else peer, stack)
            rows[f"{who}_wall"].append(wall)
            rows[f"{who}_cpu"].append(cpu)
            if who == "pack":
                analysis = result
        rows["ratio_wall"].append(rows["pack_wall"][-1] / rows["peer_wall"][-1])
        rows["ratio_cpu"].append(rows["pack_cpu"][-1] / max(rows["peer_cpu"][-1], 1e-3))
    result = {key: statistics.median(values) for key, values in rows.items()}
    result["resources"] = len(plan.resources)
    result["by_policy"] = collections.Counter(d.policy for d in analysis.diagnostics)
    return result


def per_1k(count: float, resources: int) -> str:
    return f"{count * BLOCK / resources:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pack", type=Path, default=PACK_DIR, help="policy pack directory (default: policies/)")
    parser.add_argument("--no-analyze", action="store_true", help="skip the per-resource Analyze timing")
    args = parser.parse_args()

    print("running the prod program on the mock runtime for templates...", file=sys.stderr)
    program = run_program("prod", PROJECT_ROOT)
    config = load_policy_config(PACK_DIR / "config" / "prod.json")
    python = pack_python(PACK_DIR)
    settings = {"project": program.project, "stack": "prod", "stack_config": stack_config(PROJECT_ROOT, "prod"),
                "python": python}
    results = {}
    with tempfile.TemporaryDirectory() as scratch, PolicyPack(args.pack, **settings) as pack, \
            PolicyPack(trivial_pack(Path(scratch) / "trivial"), **settings) as peer:
        peer.configure({})
        print(f"pack {args.pack}; floor: a pack with one no-op stack policy; AnalyzeStack: medians of at least "
              f"{args.repeat} alternating rounds (5x more at 1,000), ratio = median of the per-round ratios")
        for size in args.sizes:
            stack = synthetic(program, size)
            baseline = write_baseline(stack, Path(scratch) / f"baseline-{size}.json")
            pack.configure(with_baseline(config, pack.info()[1], baseline))
            plan, changes = planned_change(stack)
            result = measure(pack, peer, plan, args.repeat, not args.no_analyze)
            results[size] = result
            n = result["resources"]
            changed = ", ".join(f"{kind} {per_1k(count, size)}" for kind, count in sorted(changes.items()))
            violations = ", ".join(f"{p} {per_1k(c, size)}" for p, c in sorted(result["by_policy"].items()))
            print(f"{n:>6} planned vs {size:>6} deployed: changes per 1k: {changed}; diagnostics per 1k: {violations}")
            print(f"        AnalyzeStack pack {result['pack_wall']:.3f} s wall / {result['pack_cpu']:.2f} s CPU; "
                  f"floor {result['peer_wall']:.3f} s / {result['peer_cpu']:.2f} s; ratio x{result['ratio_wall']:.2f} "
                  f"wall, x{result['ratio_cpu']:.2f} CPU"
                  + (f"; Analyze mean {result['analyze_mean'] * 1000:.3f} ms/resource" if "analyze_mean" in result
                     else ""), flush=True)

    verdicts = []
    top = max(results)
    for measure_, key in (("wall", "wall"), ("pack CPU", "cpu")):
        ratio = results[top][f"ratio_{key}"]
        verdicts.append((f"AnalyzeStack at {top:,} within x2 of the floor, {measure_}: x{ratio:.2f}", ratio <= 2.0))
    if 1000 in results and 10000 in results:
        for measure_, key in (("wall", "wall"), ("pack CPU", "cpu")):
            growth = results[10000][f"pack_{key}"] / results[1000][f"pack_{key}"]
            floor = results[10000][f"peer_{key}"] / results[1000][f"peer_{key}"]
            verdicts.append((f"growth 1,000 -> 10,000 <= x11, {measure_}: x{growth:.1f} (floor x{floor:.1f}; linear "
                             "x10)", growth <= 11.0))
    if 5000 in results:
        five = results[5000]
        verdicts.append((f"AnalyzeStack at 5,000 <= 2 s, wall: {five['pack_wall']:.2f} s", five["pack_wall"] <= 2.0))
        if "analyze_mean" in five:
            verdicts.append((f"Analyze at 5,000 <= 2 ms: {five['analyze_mean'] * 1000:.2f} ms",
                             five["analyze_mean"] <= 0.002))
    for text, ok in verdicts:
        print(f"target {'met' if ok else 'NOT met'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
