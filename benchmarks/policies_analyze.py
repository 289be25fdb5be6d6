"""Benchmark: the policy pack over a large synthetic stack, driven over the Analyzer gRPC protocol as the engine does,
next to its floor: a trivial pack with one no-op stack policy, over the same stack, in the same run.

What it claims and how it makes sure of it:

- The floor. pulumi-policy deserializes the whole stack (protobuf to dicts, the unknown-checking proxy, parents,
  dependencies) before it calls a stack policy; a trivial pack with one stack policy that does nothing pays exactly
  that. The trivial pack runs on the same interpreter with the same collector settings as the pack
  (guardrails.pack.tune_gc), and the two are timed alternately, round after round, so that both see the same
  machine. The ratio pack/floor is the pack's whole cost against what a stock pack pays before its first policy
  runs; target <= 2 at 10,000. (The pack builds the stack itself, faster than the SDK does: guardrails/sdk.py.)
- Linear growth. AnalyzeStack from 1,000 to 10,000 resources; target <= x11 (x10 is linear). Each size has its own
  pack process (configured once with that size's baseline, as the engine configures one pack per preview), and the
  sizes are measured in turn within every round (the order rotating), so that each round's growth ratio compares
  two measurements taken seconds apart, under the same load. The growth printed is the median of the per-round
  ratios, with their spread (min-max and interquartile range); a round at a small size times several calls and takes
  their median (a single short call is at the mercy of other load).
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

Run: python benchmarks/policies_analyze.py [--sizes 1000 5000 10000] [--repeat 7] [--pack DIR] [--no-analyze]
     [--analyze-rounds 2]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
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
SMALL_STACK_CALLS = 5000  # a round times AnalyzeStack SMALL_STACK_CALLS // resources times (at least once)
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


class Size:
    """One stack size: its pack process (configured with the size's baseline), the requests, and the samples."""

    def __init__(self, size: int, pack: PolicyPack, plan: MockRun, changes: dict[str, int]):
        providers = Providers(plan.resources)
        self.size, self.pack, self.changes = size, pack, changes
        self.resources = len(plan.resources)
        self.requests = [analyze_request(r, providers) for r in plan.resources]
        self.stack = [stack_resource(r, providers, plan.stack_outputs if r.type == STACK_TYPE else None)
                      for r in plan.resources]
        # Calls per round: small stacks are timed several times per round and the round keeps the median.
        self.calls = max(1, SMALL_STACK_CALLS // len(self.stack))
        self.rows: dict[str, list[float]] = collections.defaultdict(list)
        self.by_policy: collections.Counter = collections.Counter()

    def round(self, peer: PolicyPack, number: int, analyze: bool) -> None:
        """One round: Analyze over every resource (when asked), then AnalyzeStack, the pack and the floor in turn
        (alternating which goes first, so neither always runs right after the other's garbage)."""
        if analyze:
            started = time.perf_counter()
            for request in self.requests:
                self.pack.analyze(request)
            self.rows["analyze_mean"].append((time.perf_counter() - started) / len(self.requests))
        samples = collections.defaultdict(list)
        for call in range(self.calls):
            for who in (("pack", "peer") if (number + call) % 2 == 0 else ("peer", "pack")):
                wall, cpu, result = timed_stack(self.pack if who == "pack" else peer, self.stack)
                samples[f"{who}_wall"].append(wall)
                samples[f"{who}_cpu"].append(cpu)
                if who == "pack" and not self.by_policy:
                    self.by_policy.update(d.policy for d in result.diagnostics)
        for key, values in samples.items():
            self.rows[key].append(statistics.median(values))
        self.rows["ratio_wall"].append(self.rows["pack_wall"][-1] / self.rows["peer_wall"][-1])
        self.rows["ratio_cpu"].append(self.rows["pack_cpu"][-1] / max(self.rows["peer_cpu"][-1], 1e-3))

    def median(self, key: str) -> float:
        return statistics.median(self.rows[key])


def spread(values: list[float]) -> str:
    """Median, min-max and interquartile range of per-round values."""
    if len(values) < 2:
        return f"x{values[0]:.2f}"
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return (f"x{statistics.median(values):.2f} (per round: min x{min(values):.2f}, max x{max(values):.2f}, "
            f"IQR x{quartiles[0]:.2f}-x{quartiles[2]:.2f}, {len(values)} rounds)")


def growth(small: Size, large: Size, key: str) -> list[float]:
    """Per-round ratio large/small of one measurement, both taken in the same round."""
    return [b / a for a, b in zip(small.rows[key], large.rows[key], strict=True)]


def per_1k(count: float, resources: int) -> str:
    return f"{count * BLOCK / resources:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=7, help="rounds; every size is measured once per round")
    parser.add_argument("--pack", type=Path, default=PACK_DIR, help="policy pack directory (default: policies/)")
    parser.add_argument("--no-analyze", action="store_true", help="skip the per-resource Analyze timing")
    parser.add_argument("--analyze-rounds", type=int, default=2, help="rounds that also time Analyze (default 2)")
    args = parser.parse_args()

    print("running the prod program on the mock runtime for templates...", file=sys.stderr)
    program = run_program("prod", PROJECT_ROOT)
    config = load_policy_config(PACK_DIR / "config" / "prod.json")
    python = pack_python(PACK_DIR)
    settings = {"project": program.project, "stack": "prod", "stack_config": stack_config(PROJECT_ROOT, "prod"),
                "python": python}
    sizes = sorted(set(args.sizes))
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as processes:
        peer = processes.enter_context(PolicyPack(trivial_pack(Path(scratch) / "trivial"), **settings))
        peer.configure({})
        measured: dict[int, Size] = {}
        for size in sizes:
            stack = synthetic(program, size)
            baseline = write_baseline(stack, Path(scratch) / f"baseline-{size}.json")
            pack = processes.enter_context(PolicyPack(args.pack, **settings))
            pack.configure(with_baseline(config, pack.info()[1], baseline))
            plan, changes = planned_change(stack)
            measured[size] = Size(size, pack, plan, changes)
        print(f"pack {args.pack}; floor: a pack with one no-op stack policy; one pack process per size; {args.repeat} "
              f"rounds, every size once per round (order rotating); AnalyzeStack per round: the median of "
              + ", ".join(f"{m.calls} call{'s' if m.calls > 1 else ''} at {m.size:,}" for m in measured.values())
              + ", pack and floor alternating; values below: medians over the rounds, ratio = median of the "
              "per-round ratios", flush=True)
        for number in range(args.repeat):
            shift = number % len(sizes)
            for size in sizes[shift:] + sizes[:shift]:
                measured[size].round(peer, number, not args.no_analyze and number < args.analyze_rounds)
            print(f"  round {number + 1}/{args.repeat}: " + ", ".join(
                f"{m.size:,} {m.rows['pack_wall'][-1]:.3f} s" for m in measured.values()), file=sys.stderr)

    for m in measured.values():
        changed = ", ".join(f"{kind} {per_1k(count, m.size)}" for kind, count in sorted(m.changes.items()))
        violations = ", ".join(f"{p} {per_1k(c, m.size)}" for p, c in sorted(m.by_policy.items()))
        print(f"{m.resources:>6} planned vs {m.size:>6} deployed: changes per 1k: {changed}; diagnostics per 1k: "
              f"{violations}")
        print(f"        AnalyzeStack pack {m.median('pack_wall'):.3f} s wall / {m.median('pack_cpu'):.3f} s CPU; "
              f"floor {m.median('peer_wall'):.3f} s / {m.median('peer_cpu'):.3f} s; ratio x{m.median('ratio_wall'):.2f}"
              f" wall, x{m.median('ratio_cpu'):.2f} CPU"
              + (f"; Analyze mean {m.median('analyze_mean') * 1000:.3f} ms/resource" if m.rows["analyze_mean"]
                 else ""))

    verdicts = []
    top = measured[sizes[-1]]
    for measure_, key in (("wall", "wall"), ("pack CPU", "cpu")):
        ratio = top.median(f"ratio_{key}")
        verdicts.append((f"AnalyzeStack at {top.size:,} within x2 of the floor, {measure_}: x{ratio:.2f}",
                         ratio <= 2.0))
    if 1000 in measured and 10000 in measured:
        small, large = measured[1000], measured[10000]
        for measure_, key in (("wall", "wall"), ("pack CPU", "cpu")):
            ratios = growth(small, large, f"pack_{key}")
            print(f"growth 1,000 -> 10,000, {measure_}: pack {spread(ratios)}; floor "
                  f"{spread(growth(small, large, f'peer_{key}'))}")
            verdicts.append((f"growth 1,000 -> 10,000 <= x11, {measure_}: x{statistics.median(ratios):.2f} "
                             "(median of the per-round ratios; linear x10)", statistics.median(ratios) <= 11.0))
    if 5000 in measured:
        five = measured[5000]
        verdicts.append((f"AnalyzeStack at 5,000 <= 2 s, wall: {five.median('pack_wall'):.2f} s",
                         five.median("pack_wall") <= 2.0))
        if five.rows["analyze_mean"]:
            verdicts.append((f"Analyze at 5,000 <= 2 ms: {five.median('analyze_mean') * 1000:.2f} ms",
                             five.median("analyze_mean") <= 0.002))
    for text, ok in verdicts:
        print(f"target {'met' if ok else 'NOT met'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
