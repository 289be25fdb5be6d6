"""Benchmark: a stack history of 10,000 entries read and the rollback target chosen (target: <= 0.3 s), against the
floor of decoding the same text with `json.loads` and nothing else.

"read + choose" is the in-process work `ops rollback stack` does on the CLI's output before its plan: `json.loads`
of the pages as the Pulumi CLI prints them (`pulumi stack history --json`, pages of 100, indented as the CLI
indents), the history parsed and checked (version, kind and result of every entry), the in-progress check, the
target choice, and the target's details and config (the only config a rollback reads). The floor is `json.loads` of
the same pages and nothing else: no reader can do less, so the ratio says what parsing and choosing add.

"history, every entry" is what `ops history --json` computes for every entry: its fields, its config and the config
keys changed from the entry before it. Its peer is the same diff done on the raw JSON objects with no reading at all
(keys and values compared as dicts), which is what a diff costs before any checking.

Entries mix updates, previews, refreshes and failed updates, with 30 config keys each (5 of them secrets); the
newest updates all failed, so the target is deep in the list. Each measurement and its floor run in turn, so both
see the same machine load.

Run: python benchmarks/rollback_history.py [--entries 10000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops.history import describe
from ops.stack_history import choose_target, parse_history, update_in_progress

PAGE_SIZE = 100
TARGET_SECONDS = 0.3


def make_entry(version: int, entries: int) -> dict:
    kind = ["update", "preview", "refresh", "update"][version % 4]
    failing = version > entries * 9 // 10 and kind == "update"  # the newest tenth of the updates all fail
    config = {f"delivery:key{i}": {"value": f"value-{version // 50}-{i}", "secret": False} for i in range(25)}
    config |= {f"delivery:secret{i}": {"value": f"s3cret-{version // 100}-{i}", "secret": True} for i in range(5)}
    return {
        "version": version,
        "kind": kind,
        "startTime": f"2026-11-{1 + version % 28:02d}T10:00:00.000Z",
        "message": f"change {version}",
        "environment": {"git.head": f"{version:040x}", "git.dirty": "false", "exec.kind": "cli"},
        "config": config,
        "result": "failed" if failing else "succeeded",
        "endTime": f"2026-11-{1 + version % 28:02d}T10:01:02.000Z",
        "resourceChanges": {"same": 40, "update": 2},
    }


def pages(entries: int) -> list[str]:
    newest_first = [make_entry(version, entries) for version in range(entries, 0, -1)]
    return [json.dumps(newest_first[start : start + PAGE_SIZE], indent=4) for start in range(0, entries, PAGE_SIZE)]


def load(texts: list[str]) -> list:
    """The pages decoded, and nothing else: the floor."""
    return [entry for text in texts for entry in json.loads(text)]


def read_and_choose(texts: list[str]):
    return choose(load(texts))


def choose(raw: list):
    history = parse_history(raw)
    assert update_in_progress(history.entries) is None
    target = choose_target(history.entries).read()
    assert target.config is not None and target.environment_readable and not history.notes()
    return history, target


def raw_diffs(raw: list[dict]) -> int:
    """The peer of `describe`: consecutive raw configs compared as plain dicts, with no checking at all."""
    changed = 0
    for newer, older in pairwise(raw):
        after, before = newer["config"], older["config"]
        changed += len(after.keys() ^ before.keys()) + sum(after[k] != before[k] for k in after.keys() & before.keys())
    return changed


def in_turn(repeat: int, *works: Callable[[], object]) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for work, samples in zip(works, times, strict=True):
            start = time.perf_counter()
            work()
            samples.append(time.perf_counter() - start)
    return times


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def line(label: str, samples: list[float], floor: list[float], floor_label: str) -> str:
    median, floor_median = statistics.median(samples), statistics.median(floor)
    return (f"{label:22s} median {ms(samples)}   max {max(samples) * 1000:7.1f} ms   {floor_label} {ms(floor)}   "
            f"ratio {median / floor_median:5.2f}x (+{(median - floor_median) * 1000:.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    texts = pages(args.entries)
    size_mb = sum(len(text) for text in texts) / 1e6
    _, target = read_and_choose(texts)

    raw = load(texts)
    total, floor, alone = in_turn(args.repeat, lambda: read_and_choose(texts), lambda: load(texts), lambda: choose(raw))
    listing, peer = in_turn(args.repeat, lambda: describe(parse_history(raw).entries), lambda: raw_diffs(raw))

    print(f"history: {args.entries} entries, {len(texts)} pages, {size_mb:.1f} MB of CLI JSON; target version "
          f"{target.version}; {args.repeat} runs each")
    print(line("read + choose", total, floor, "floor (json.loads)"))
    print(f"{'':22s} of which parsing and choosing on pages already decoded: median {ms(alone)}")
    print(line("history, every entry", listing, peer, "peer (raw diff)   "))
    worst = max(total)
    met = worst <= TARGET_SECONDS
    print(f"target read + choose <= {TARGET_SECONDS * 1000:.0f} ms: {'met' if met else 'NOT met'} (worst run "
          f"{worst * 1000:.1f} ms)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
