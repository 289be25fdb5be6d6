"""`python -m ops check -s STACK [--baseline FILE] [--json]`: the policy pack, offline, without cloud credentials
or the Pulumi CLI. Runs the program on the mock runtime with the stack's config, starts the pack as its own
process (as the engine does), configures it with policies/config/STACK.json (plus the baseline for the change
guardrails), sends every resource through Analyze and the whole stack through AnalyzeStack, prints the planned
resources (an offline preview) and the violations by policy. Exit 1 on any mandatory violation, 0 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ops.baseline import load_baseline
from ops.errors import OpsError
from ops.offline import PACK_DIR, PROJECT_ROOT
from ops.offline.model import STACK_TYPE

if TYPE_CHECKING:
    from ops.offline.analyzer import Report
    from ops.offline.policy_config import PolicyInfo

# The offline machinery (the SDK's protobuf modules, gRPC, jsonschema) is imported when the command runs, not when
# the CLI registers it: the other commands and `--help` do not pay for it.


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run the policy packs offline against the planned stack",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("-s", "--stack", required=True, help="stack name (dev, prod); decides the config files")
    parser.add_argument("--baseline", type=Path, help="a `pulumi stack export` file of the deployed stack")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--policy-pack", type=Path, default=PACK_DIR, help="policy pack directory")
    parser.add_argument("--policy-config", type=Path,
                        help="policy pack config (default: <policy pack>/config/STACK.json)")
    parser.set_defaults(handler=handle)


def with_baseline(config: dict, policies: list[PolicyInfo], baseline: Path) -> dict:
    """The config with `baseline` set for every policy that takes one (the change guardrails)."""
    result = dict(config)
    for policy in policies:
        if "baseline" not in policy.schema:
            continue
        entry = result.get(policy.name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        entry["baseline"] = str(baseline)
        result[policy.name] = entry
    return result


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check(stack: str, baseline: Path | None, pack_dir: Path, config_path: Path | None, project_dir: Path):
    """Runs the program offline and the pack over it; returns (run, report)."""
    from ops.offline import analyzer, policy_config
    from ops.offline.run import run_program
    from ops.offline.stack_file import stack_config

    config_path = config_path or pack_dir / "config" / f"{stack}.json"
    if not config_path.is_file():
        raise OpsError(f"no policy config for stack {stack}: {config_path} does not exist")
    config = policy_config.load_policy_config(config_path)
    if baseline is not None:
        baseline = baseline.resolve()
        load_baseline(baseline)
    _progress(f"running the program for stack {stack} offline (mock runtime)...")
    run = run_program(stack=stack, project_dir=project_dir)
    _progress(f"starting the policy pack in {pack_dir} and analyzing {len(run.resources)} resources...")
    with analyzer.PolicyPack(pack_dir, project=run.project, stack=stack,
                             stack_config=stack_config(project_dir, stack)) as pack:
        _, policies = pack.info()
        if baseline is not None:
            config = with_baseline(config, policies, baseline)
        levels = {name: level for name, (level, _) in pack.configure(config).items()}
        report = analyzer.analyze_resources(pack, run.resources, run.stack_outputs, levels)
    return run, report


def component_of(resource, by_urn: dict) -> str:
    """The top-level component a resource belongs to (its ancestor just below the root stack)."""
    current, top = resource, None
    while current is not None and current.type != STACK_TYPE:
        if not current.custom:
            top = current
        current = by_urn.get(current.parent)
    return f"{top.type} {top.name}" if top is not None else "(stack)"


def summary(run) -> dict:
    by_urn = {r.urn: r for r in run.resources}
    custom = [r for r in run.resources if r.custom]
    return {
        "total": len(run.resources),
        "custom": len(custom),
        "byComponent": dict(sorted(Counter(component_of(r, by_urn) for r in custom).items())),
        "byType": dict(sorted(Counter(r.type for r in run.resources).items())),
    }


def as_document(run, report: Report, baseline: Path | None) -> dict:
    violations = sorted((d.to_dict() for d in report.diagnostics),
                        key=lambda d: (d["policy"], d["urn"], d["message"]))
    return {
        "project": run.project,
        "stack": run.stack,
        "baseline": str(baseline.resolve()) if baseline else None,
        "resources": summary(run),
        "policies": {p.name: {"kind": p.kind, "level": report.levels.get(p.name, p.level)} for p in report.policies},
        "violations": violations,
        "notApplicable": dict(sorted(report.not_applicable.items())),
        "mandatoryViolations": sum(1 for v in violations if v["level"] == "mandatory"),
        "advisoryViolations": sum(1 for v in violations if v["level"] == "advisory"),
    }


def render_text(document: dict) -> str:
    resources = document["resources"]
    width = max((len(key) for key in [*resources["byComponent"], *resources["byType"]]), default=10) + 2
    lines = [f"Planned resources for {document['project']}/{document['stack']}: {resources['total']} "
             f"({resources['custom']} cloud resources)", "  by component:"]
    lines += [f"    {key:<{width}}{count:>4}" for key, count in resources["byComponent"].items()]
    lines.append("  by type:")
    lines += [f"    {key:<{width}}{count:>4}" for key, count in resources["byType"].items()]
    lines.append("")
    violations = document["violations"]
    if not violations:
        lines.append("Policies: no violations.")
    else:
        lines.append(f"Policy violations: {document['mandatoryViolations']} mandatory, "
                     f"{document['advisoryViolations']} advisory")
        for policy in sorted({v["policy"] for v in violations}):
            mine = [v for v in violations if v["policy"] == policy]
            for level in ("mandatory", "advisory"):
                items = [v for v in mine if v["level"] == level]
                if items:
                    lines.append(f"  [{level}] {policy} ({len(items)})")
                    lines += [f"    - {v['message']}" + (f"\n      at {v['urn']}" if v["urn"] else "") for v in items]
    for policy, reason in document["notApplicable"].items():
        lines.append(f"  [not applicable] {policy}: {reason}")
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    run_result, report = check(args.stack, args.baseline, args.policy_pack.resolve(), args.policy_config,
                               PROJECT_ROOT)
    document = as_document(run_result, report, args.baseline)
    print(json.dumps(document, indent=2, sort_keys=True) if args.json else render_text(document))
    return 1 if document["mandatoryViolations"] else 0
