"""Stack history: `pulumi stack history --json` read page by page, parsed into typed entries, and the rollback
target chosen from them.

The JSON shape is the CLI's `updateInfoJSON`: version, kind, startTime, message, environment (git.head,
git.dirty, ...), config ({key: {value?, objectValue?, secret}}), result, and, once finished, endTime and
resourceChanges. Secret config values are present only when the CLI ran with `--show-secrets`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.pulumi_cli import run_pulumi_json

DEFAULT_PAGE_SIZE = 100
SUCCEEDED = "succeeded"
IN_PROGRESS = "in-progress"
UPDATE = "update"


@dataclass(frozen=True)
class ConfigValue:
    """One config value. `value` is None for a secret read without `--show-secrets`; objects keep their JSON
    text in `value` and the parsed form in `object_value`, as the CLI prints them."""

    value: str | None
    secret: bool
    object_value: Any = None

    @property
    def is_object(self) -> bool:
        return self.object_value is not None

    def shown(self) -> str:
        """What may be printed: never a secret's value."""
        return "[secret]" if self.secret else str(self.value)


def parse_config(raw: dict | None) -> dict[str, ConfigValue]:
    config = {}
    for key, item in (raw or {}).items():
        if not isinstance(item, dict):
            raise OpsError(f"config key `{key}` in the Pulumi CLI's JSON is not an object")
        config[key] = ConfigValue(item.get("value"), bool(item.get("secret", False)), item.get("objectValue"))
    return config


@dataclass(frozen=True)
class Entry:
    """One update of the stack's history (an `up`, `preview`, `refresh`, `destroy`, ...)."""

    version: int
    kind: str
    result: str
    start_time: datetime | None
    end_time: datetime | None
    message: str
    environment: dict[str, str] = field(default_factory=dict)
    config: dict[str, ConfigValue] = field(default_factory=dict)
    resource_changes: dict[str, int] | None = None

    @property
    def git_commit(self) -> str | None:
        return self.environment.get("git.head") or None

    @property
    def git_dirty(self) -> bool | None:
        dirty = self.environment.get("git.dirty")
        return None if dirty is None else dirty == "true"

    @property
    def duration(self) -> timedelta | None:
        if self.start_time and self.end_time:
            return self.end_time - self.start_time
        return None

    @property
    def is_good_update(self) -> bool:
        return self.kind == UPDATE and self.result == SUCCEEDED


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_entry(raw: dict) -> Entry:
    try:
        version = int(raw["version"])
    except (KeyError, TypeError, ValueError) as error:
        raise OpsError(f"a stack history entry has no valid version: {error}") from error
    return Entry(
        version=version,
        kind=str(raw.get("kind", "")),
        result=str(raw.get("result", "")),
        start_time=_parse_time(raw.get("startTime")),
        end_time=_parse_time(raw.get("endTime")),
        message=str(raw.get("message") or ""),
        environment={str(k): str(v) for k, v in (raw.get("environment") or {}).items()},
        config=parse_config(raw.get("config")),
        resource_changes=raw.get("resourceChanges"),
    )


def parse_history(raw_entries: Iterable[dict]) -> list[Entry]:
    """Typed entries, newest first, one per version (pages may overlap when the stack changes while reading)."""
    by_version = {}
    for raw in raw_entries:
        entry = parse_entry(raw)
        by_version[entry.version] = entry
    return sorted(by_version.values(), key=lambda entry: entry.version, reverse=True)


def read_history(
    stack: str, cwd: Path | str | None = None, show_secrets: bool = False, page_size: int = DEFAULT_PAGE_SIZE
) -> list[Entry]:
    """Every page of `pulumi stack history --json`, newest first. Stops at a short or empty page, or at a page
    that brings no new version (a backend that ignores paging must not loop us forever)."""
    raw_entries: list[dict] = []
    seen: set = set()
    page = 1
    while True:
        args = ["stack", "history", "--stack", stack, "--page-size", str(page_size), "--page", str(page)]
        if show_secrets:
            args.append("--show-secrets")
        batch = run_pulumi_json(args, cwd=cwd) or []
        if not isinstance(batch, list):
            raise OpsError("`pulumi stack history --json` did not print a list")
        new = [raw for raw in batch if isinstance(raw, dict) and raw.get("version") not in seen]
        raw_entries.extend(new)
        seen.update(raw.get("version") for raw in new)
        if len(batch) < page_size or not new:
            return parse_history(raw_entries)
        page += 1


def update_in_progress(entries: Sequence[Entry]) -> Entry | None:
    """The newest entry when it has not finished (another `up`, `refresh` or `destroy` holds the stack)."""
    if entries and entries[0].result == IN_PROGRESS:
        return entries[0]
    return None


def choose_target(entries: Sequence[Entry], to_version: int | None = None) -> Entry:
    """The version to roll back to. By default the newest succeeded update older than the newest update;
    `to_version` must name a succeeded update. `entries` are newest first."""
    if to_version is not None:
        chosen = next((entry for entry in entries if entry.version == to_version), None)
        if chosen is None:
            raise OpsError(f"version {to_version} is not in the stack's history")
        if not chosen.is_good_update:
            raise OpsError(
                f"version {to_version} is {_article(chosen.kind)} that {_result_phrase(chosen.result)}; "
                "only a succeeded update can be a rollback target"
            )
        return chosen
    newest_update = next((entry for entry in entries if entry.kind == UPDATE), None)
    if newest_update is None:
        raise OpsError("the stack's history has no update yet, so there is nothing to roll back to")
    for entry in entries:
        if entry.version < newest_update.version and entry.is_good_update:
            return entry
    raise OpsError(
        f"no succeeded update is older than the newest update (version {newest_update.version}); "
        "there is no earlier good version to roll back to"
    )


def _article(kind: str) -> str:
    kind = kind or "unknown operation"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _result_phrase(result: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", IN_PROGRESS: "is still in progress"}.get(
        result, f"ended with result `{result or 'unknown'}`"
    )


def changed_keys(before: dict[str, ConfigValue], after: dict[str, ConfigValue]) -> dict[str, list[str]]:
    """Config keys added, removed and changed from `before` to `after`. A secret whose value was not shown is
    compared by presence only; values never leave this function."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(key for key in set(before) & set(after) if before[key] != after[key])
    return {"added": added, "removed": removed, "changed": changed}
