"""Benchmark: a stack history of 10,000 entries read and the rollback target chosen (target: <= 0.3 s), against the
floor of decoding the same text with `json.loads` and nothing else.

"read + choose" is the in-process work `ops rollback stack` does on the CLI's output before its plan: `read_history`
itself (ops/stack_history.py), with only the Pulumi process replaced by the pages as the Pulumi CLI prints them
(`pulumi stack history --json`, pages of 100, indented as the CLI indents, as bytes on stdout), so that
`run_pulumi_json` decodes them as it does in use; then the in-progress check, the target choice, and the target's
details and config (the only config a rollback reads). The floor is `json.loads` of the same pages and nothing
else: what any reader that decodes the pages with json pays, with the garbage collector as it is. `read_history`
decodes with the cyclic collector paused (see ops/stack_history.py), so it can finish below that floor; the same
decoding with the collector paused is printed too, the floor of a reader that does so.

"history, every entry" is what `ops history --json` computes for every entry: its fields, its config and the config
keys changed from the entry before it. Its peer is the same diff done on the raw JSON objects with no reading at all
(keys and values compared as dicts), which is what a diff costs before any checking.

Entries mix updates, previews, refreshes and failed updates, with 30 config keys each (5 of them secrets); the
newest updates all failed, so the target is deep in the list. Each measurement and its floors run in turn, round
after round, so all see the same machine load; the target is judged on the worst run (and the median is printed).
CPU time (this process's) is printed next to wall time, because on a shared machine wall time also measures the
other processes.

Run: python benchmarks/rollback_history.py [--entries 10000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ops import pulumi_cli, stack_history
from ops.history import describe
from ops.stack_history import choose_target, collector_paused, parse_history, read_history, update_in_progress

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


def pages(entries: int) -> list[bytes]:
    """The CLI's stdout for each page, newest entries first."""
    newest_first = [make_entry(version, entries) for version in range(entries, 0, -1)]
    return [json.dumps(newest_first[start : start + PAGE_SIZE], indent=4).encode()
            for start in range(0, entries, PAGE_SIZE)]


def load(stdouts: list[bytes]) -> list:
    """The pages decoded, and nothing else: the floor."""
    return [entry for stdout in stdouts for entry in json.loads(stdout.decode("utf-8"))]


def load_paused(stdouts: list[bytes]) -> list:
    """The floor of a reader that decodes with the cyclic collector paused, as read_history does."""
    with collector_paused():
        return load(stdouts)


@contextmanager
def serving(stdouts: list[bytes]) -> Iterator[None]:
    """The Pulumi process replaced by its output: `pulumi stack history --page N` prints page N (an empty list past
    the last page, as the CLI does); everything after the process (run_pulumi_json's decoding) is ops' own."""
    real = pulumi_cli.run_pulumi

    def run_pulumi(args, cwd=None, stdin_text="", secret=False):
        page = int(args[args.index("--page") + 1])
        return pulumi_cli.Run(list(args), 0, stdout=stdouts[page - 1] if page <= len(stdouts) else b"[]")

    pulumi_cli.run_pulumi = run_pulumi
    try:
        yield
    finally:
        pulumi_cli.run_pulumi = real


@contextmanager
def collector_as_is() -> Iterator[None]:
    """read_history without its collector pause, for comparison."""
    real = stack_history.collector_paused
    stack_history.collector_paused = nullcontext
    try:
        yield
    finally:
        stack_history.collector_paused = real


def read_and_choose_unpaused():
    with collector_as_is():
        return read_and_choose()


def read_and_choose():
    """What `ops rollback stack` does with the history before its plan (the pages served by `serving`)."""
    history = read_history("prod", page_size=PAGE_SIZE)
    assert update_in_progress(history.entries) is None
    target = choose_target(history.entries).read()
    assert target.config is not None and target.environment_readable and not history.notes()
    return history, target


def choose(raw: list):
    """Parsing and choosing on pages already decoded."""
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


def in_turn(repeat: int, *works: Callable[[], object]) -> list[tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each work, the works run in turn, `repeat` rounds."""
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in works]
    for _ in range(repeat):
        for work, (wall, cpu) in zip(works, times, strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            work()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return times


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.1f} ms"


def line(label: str, samples: list[float], floor: list[float], floor_label: str) -> str:
    median, floor_median = statistics.median(samples), statistics.median(floor)
    return (f"{label:22s} median {ms(samples)}   max {max(samples) * 1000:7.1f} ms   {floor_label} {ms(floor)}   "
            f"ratio {median / floor_median:5.2f}x ({(median - floor_median) * 1000:+.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    stdouts = pages(args.entries)
    size_mb = sum(len(stdout) for stdout in stdouts) / 1e6
    with serving(stdouts):
        target = read_and_choose()[1].version
        # Nothing decoded is kept alive between runs (as in `ops rollback stack`, which reads the history once).
        (total, total_cpu), (floor, floor_cpu), (paused, paused_cpu), (unpaused, _) = in_turn(
            args.repeat, read_and_choose, lambda: load(stdouts), lambda: load_paused(stdouts),
            read_and_choose_unpaused)
    raw = load(stdouts)
    (alone, _), (listing, _), (peer, _) = in_turn(args.repeat, lambda: choose(raw),
                                                  lambda: describe(parse_history(raw).entries), lambda: raw_diffs(raw))

    print(f"history: {args.entries} entries, {len(stdouts)} pages, {size_mb:.1f} MB of CLI JSON; target version "
          f"{target}; {args.repeat} runs each, in turn")
    print(line("read + choose", total, floor, "floor (json.loads)"))
    print(f"{'':22s} CPU: median {ms(total_cpu)}, floor {ms(floor_cpu)}; floor with the collector paused: wall "
          f"{ms(paused)}, CPU {ms(paused_cpu)}")
    print(f"{'':22s} of which parsing and choosing on pages already decoded: median {ms(alone)}")
    print(line("  the same, collector on", unpaused, floor, "floor (json.loads)"))
    print(line("history, every entry", listing, peer, "peer (raw diff)   "))
    median, worst, goal = statistics.median(total), max(total), f"<= {TARGET_SECONDS * 1000:.0f} ms"
    print(f"target read + choose {goal}, median: {verdict(median)} ({median * 1000:.1f} ms; CPU "
          f"{statistics.median(total_cpu) * 1000:.1f} ms)")
    print(f"target read + choose {goal}, worst run: {verdict(worst)} ({worst * 1000:.1f} ms)")
    return 0 if worst <= TARGET_SECONDS else 1


def verdict(seconds: float) -> str:
    return "met" if seconds <= TARGET_SECONDS else "NOT met"


if __name__ == "__main__":
    sys.exit(main())
