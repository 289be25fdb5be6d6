"""Benchmark: a stack history of 1,000 updates parsed and the rollback target chosen (target: <= 0.5 s).

Measures the in-process work `ops rollback stack` does on the CLI's output: `json.loads` of the pages as the
Pulumi CLI prints them (`pulumi stack history --json`, 10 pages of 100), typed parsing, the in-progress check and
the target choice, plus the per-entry config diff `ops history` computes. Entries mix updates, previews,
refreshes and failed updates, with 30 config keys each (5 of them secrets), so the good target is deep in the list.

Run: python benchmarks/rollback_history.py [--entries 1000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.history import describe
from ops.stack_history import choose_target, parse_history, update_in_progress

PAGE_SIZE = 100


def make_entry(version: int) -> dict:
    kind = ["update", "preview", "refresh", "update"][version % 4]
    result = "failed" if version > 900 and kind == "update" else "succeeded"  # the newest hundred updates all fail
    config = {f"delivery:key{i}": {"value": f"value-{version // 50}-{i}", "secret": False} for i in range(25)}
    config |= {f"delivery:secret{i}": {"value": f"s3cret-{version // 100}-{i}", "secret": True} for i in range(5)}
    return {
        "version": version,
        "kind": kind,
        "startTime": f"2026-11-{1 + version % 28:02d}T10:00:00.000Z",
        "message": f"change {version}",
        "environment": {"git.head": f"{version:040x}", "git.dirty": "false", "exec.kind": "cli"},
        "config": config,
        "result": result,
        "endTime": f"2026-11-{1 + version % 28:02d}T10:01:02.000Z",
        "resourceChanges": {"same": 40, "update": 2},
    }


def pages(entries: int) -> list[str]:
    newest_first = [make_entry(version) for version in range(entries, 0, -1)]
    return [json.dumps(newest_first[start : start + PAGE_SIZE], indent=4) for start in range(0, entries, PAGE_SIZE)]


def parse_and_choose(texts: list[str]):
    raw = [entry for text in texts for entry in json.loads(text)]
    entries = parse_history(raw)
    assert update_in_progress(entries) is None
    return entries, choose_target(entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    texts = pages(args.entries)
    size_mb = sum(len(text) for text in texts) / 1e6

    choose_times, describe_times = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        entries, target = parse_and_choose(texts)
        choose_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        describe(entries)
        describe_times.append(time.perf_counter() - start)

    print(f"history: {args.entries} entries, {len(texts)} pages, {size_mb:.1f} MB of CLI JSON; target version "
          f"{target.version}")
    for label, times in (("parse + choose target", choose_times), ("history config diffs", describe_times)):
        print(f"{label:24s} median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms "
              f"over {args.repeat} runs")
    worst = max(choose_times)
    print(f"target <= 500 ms: {'met' if worst <= 0.5 else 'NOT met'} (worst run {worst * 1000:.1f} ms)")
    return 0 if worst <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
