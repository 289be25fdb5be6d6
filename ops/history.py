"""`python -m ops history`: the stack's updates, newest first, with what each one changed in config.

Secret values are read (`--show-secrets`) only so that a changed secret is reported as changed; no config value
is ever printed, only key names. An entry that cannot be read in full is shown with what could be read and a note on
stderr; one without a valid version is skipped with a note. Text from the history (messages, keys) is printed with
its control characters escaped, so it cannot drive the terminal."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timedelta

from ops.argtypes import existing_directory, stack_name, whole_number
from ops.errors import printable
from ops.stack_history import Entry, History, changed_keys, read_history

MAX_NOTES = 10


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "history",
        description="Every entry of `pulumi stack history` (all pages), newest first: version, kind, result, "
        "start, duration, git commit, message, resource changes and which config keys changed.",
    )
    parser.add_argument("-s", "--stack", required=True, type=stack_name, help="the stack, e.g. dev or prod")
    parser.add_argument("--json", action="store_true", help="print the entries as a JSON list")
    parser.add_argument("--limit", type=whole_number(1), help="show only the newest N entries")
    parser.add_argument("--cwd", default=".", help="the Pulumi project directory (default: the current one)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cwd = existing_directory(args.cwd, "--cwd")
    history = read_history(args.stack, cwd=cwd, show_secrets=True)
    rows = describe(history.entries, args.limit)
    print_notes(history)  # after `describe`, which read the fields it shows: their problems are known now
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"stack {args.stack} has no history yet")
    else:
        oldest = len(history.entries) - 1
        print("\n\n".join(render(row, oldest=index == oldest) for index, row in enumerate(rows)))
    return 0


def print_notes(history: History, limit: int = MAX_NOTES) -> None:
    notes = history.notes()
    for note in notes[:limit]:
        print(f"note: {printable(note)}", file=sys.stderr)
    if len(notes) > limit:
        print(f"note: and {len(notes) - limit} more entries that could not be read in full", file=sys.stderr)


def describe(entries: list[Entry], limit: int | None = None) -> list[dict]:
    """One plain dict per entry (newest first; the newest `limit` only), with the config keys changed from the entry
    before it. Reads the config of the entries shown and of the one before the oldest shown, and no other."""
    shown = entries[:limit] if limit else entries
    rows = []
    for index, entry in enumerate(shown):
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
                "configRecorded": entry.config is not None,
                "notes": list(entry.problems),  # last: every field of the entry has been read by now
            }
        )
    return rows


def render(row: dict, oldest: bool = False) -> str:
    commit = row["gitCommit"][:12] if row["gitCommit"] else "not recorded"
    if row["gitDirty"]:
        commit += " (dirty tree)"
    lines = [
        f"version {row['version']}  {_one_line(row['kind'])}  {_one_line(row['result'])}",
        f"  started   {row['start'] or 'unknown'}  took {_duration(row['durationSeconds'])}",
        f"  commit    {commit}",
        f"  message   {_one_line(row['message']) or '-'}",
        f"  resources {_resource_changes(row['resourceChanges'])}",
        f"  config    {_config_changes(row, oldest)}",
    ]
    return "\n".join(lines)


def _one_line(text: str, limit: int = 200) -> str:
    shown = printable(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "unknown"
    return str(timedelta(seconds=round(seconds)))


def _resource_changes(changes: dict | None) -> str:
    if not changes:
        return "none recorded"
    return ", ".join(f"{_one_line(operation, 40)} {count}" for operation, count in sorted(changes.items()))


def _config_changes(row: dict, oldest: bool) -> str:
    changes = row["configChanges"]
    if not row["configRecorded"]:
        return "not recorded (see the note)"
    if changes is None:
        return "first entry" if oldest else "unknown (the entry before it recorded no config)"
    labels = ("added", "removed", "changed")
    parts = [f"{label} {', '.join(_one_line(key, 80) for key in changes[label])}" for label in labels if changes[label]]
    return "; ".join(parts) or "unchanged"
