"""`python -m ops history`: the stack's updates, newest first, with what each one changed in config.

Secret values are read (`--show-secrets`) only so that a changed secret is reported as changed; no config value
is ever printed, only key names."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from pathlib import Path

from ops.argtypes import whole_number
from ops.errors import OpsError
from ops.stack_history import Entry, changed_keys, read_history


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "history",
        help="list the stack's updates, newest first",
        description="Every entry of `pulumi stack history` (all pages), newest first: version, kind, result, "
        "start, duration, git commit, message, resource changes and which config keys changed.",
    )
    parser.add_argument("-s", "--stack", required=True, help="the stack, e.g. dev or prod")
    parser.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    parser.add_argument("--limit", type=whole_number(1), help="show only the newest N entries")
    parser.add_argument("--cwd", default=".", help="the Pulumi project directory (default: the current one)")
    parser.set_defaults(handler=run)



def run(args: argparse.Namespace) -> int:
    if not Path(args.cwd).is_dir():
        raise OpsError(f"--cwd {args.cwd}: no such directory")
    entries = read_history(args.stack, cwd=args.cwd, show_secrets=True)
    rows = describe(entries)[: args.limit] if args.limit else describe(entries)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"stack {args.stack} has no history yet")
    else:
        print("\n\n".join(render(row) for row in rows))
    return 0


def describe(entries: list[Entry]) -> list[dict]:
    """One plain dict per entry (newest first), with the config keys changed from the entry before it."""
    rows = []
    for index, entry in enumerate(entries):
        previous = entries[index + 1] if index + 1 < len(entries) else None
        changes = changed_keys(previous.config, entry.config) if previous else None
        rows.append(
            {
                "version": entry.version,
                "kind": entry.kind,
                "result": entry.result,
                "start": _iso(entry.start_time),
                "durationSeconds": entry.duration.total_seconds() if entry.duration is not None else None,
                "gitCommit": entry.git_commit,
                "gitDirty": entry.git_dirty,
                "message": entry.message,
                "resourceChanges": entry.resource_changes,
                "configChanges": changes,
            }
        )
    return rows


def render(row: dict) -> str:
    commit = row["gitCommit"][:12] if row["gitCommit"] else "not recorded"
    if row["gitDirty"]:
        commit += " (dirty tree)"
    lines = [
        f"version {row['version']}  {row['kind']}  {row['result']}",
        f"  started   {row['start'] or 'unknown'}  took {_duration(row['durationSeconds'])}",
        f"  commit    {commit}",
        f"  message   {row['message'] or '-'}",
        f"  resources {_resource_changes(row['resourceChanges'])}",
        f"  config    {_config_changes(row['configChanges'])}",
    ]
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _duration(seconds: float | None) -> str:
    return "unknown" if seconds is None else str(timedelta(seconds=round(seconds)))


def _resource_changes(changes: dict | None) -> str:
    if not changes:
        return "none recorded"
    return ", ".join(f"{operation} {count}" for operation, count in sorted(changes.items()))


def _config_changes(changes: dict | None) -> str:
    if changes is None:
        return "first entry"
    parts = [f"{label} {', '.join(changes[label])}" for label in ("added", "removed", "changed") if changes[label]]
    return "; ".join(parts) or "unchanged"

