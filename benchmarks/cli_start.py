"""Benchmark: how long `python -m ops --help` takes from start to exit (target: <= 0.3 s), against its floor.

Each sample is a fresh interpreter started as the operator starts it (`python -m ops --help`, from the repository
root), timed from spawn to exit. In the same run, interleaved with it so that both see the same machine load, the
floors: `python -c pass` (the interpreter alone) and `python -c 'import argparse'` (the interpreter and the one
module the top-level help needs). The ratio to the argparse floor is what the CLI adds; the absolute figure is what
the operator waits. Also shown, for comparison only: `rollback --help` (which lists its layers without loading
them) and a command's own --help (`history --help`, which loads that one command's module).

Run: python benchmarks/cli_start.py [--repeat 20] [--compare DIR]
(DIR: another checkout, e.g. an older commit's `git archive`, whose `python -m ops --help` joins the same run)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.3
FLOOR, MEASURED = "python -c 'import argparse'", "python -m ops --help"
CASES = {
    "python -c pass": ["-c", "pass"],
    FLOOR: ["-c", "import argparse"],
    MEASURED: ["-m", "ops", "--help"],
    "python -m ops rollback --help": ["-m", "ops", "rollback", "--help"],
    "python -m ops history --help": ["-m", "ops", "history", "--help"],
}


def once(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to time `--help` from")
    args = parser.parse_args()
    cases = {name: (argv, ROOT) for name, argv in CASES.items()}
    if args.compare:
        cases[f"{MEASURED} ({args.compare})"] = (CASES[MEASURED], args.compare.resolve())
    for argv, cwd in cases.values():  # warm the file system cache and the .pyc files; not counted
        once(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):  # interleaved: a burst of load hits every case alike
        for name, (argv, cwd) in cases.items():
            times[name].append(once(argv, cwd))

    floor = statistics.median(times[FLOOR])
    width = max(len(name) for name in times)
    print(f"start to exit, {args.repeat} runs each, interleaved ({sys.executable})")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:{width}s} median {median * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms   "
              f"{median / floor:5.2f}x the argparse floor")
    measured = statistics.median(times[MEASURED])
    print(f"`python -m ops --help` adds {(measured - floor) * 1000:.1f} ms to the argparse floor "
          f"({measured / floor:.2f}x)")
    met = measured <= TARGET_SECONDS
    print(f"target median <= {TARGET_SECONDS * 1000:.0f} ms: {'met' if met else 'NOT met'} ({measured * 1000:.1f} ms)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
