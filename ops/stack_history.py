"""Stack history: `pulumi stack history --json` read page by page, parsed into entries, and the rollback target
chosen from them.

The JSON shape is the CLI's `updateInfoJSON` (pkg/cmd/pulumi/stack/stack_history.go in github.com/pulumi/pulumi):
version (int), kind, startTime, message (strings), environment (map of strings: git.head, git.dirty, ...), config
({key: {value?: string, objectValue?: any, secret: bool}}, always present, `{}` when empty), result, and, once
finished, endTime and resourceChanges (map of ints). Secret config values are present only when the CLI ran with
`--show-secrets`.

Parsing reads, for every entry, only what choosing a target needs: version, kind and result. The rest of an entry is
read the first time it is asked for: its times, message, environment and resource changes together, its config on
its own (a rollback reads one entry's config, `ops history` those it shows). Nothing is guessed at: an entry without
a valid version is skipped with a note, a field that cannot be read is left unknown with a note (`Entry.problems`,
which lists what was found in the fields read so far), and a missing or malformed `config` is None ("not
recorded"), never "no keys" (restoring no keys would remove every key).

Reading a long history is mostly decoding JSON: 10,000 entries are about 40 MB of the CLI's indented JSON, some
700,000 dicts and strings, nearly all of it config that only the chosen entry's is read from. `read_history` pauses
the cyclic garbage collector while it reads and parses the pages: decoded JSON holds no reference cycles, so the
collector, which would otherwise run hundreds of times over the growing pile of new containers (and a few times over
every object in the process), can free nothing; reference counting frees it all as before
(benchmarks/rollback_history.py measures both)."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ops.errors import OpsError, printable
from ops.pulumi_cli import run_pulumi_json

DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 10_000
MAX_INT = 2**63 - 1  # the CLI's ints are Go int64
SUCCEEDED = "succeeded"
IN_PROGRESS = "in-progress"
UPDATE = "update"
COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")
_UNREAD: Any = object()  # a lazily read part that has not been read yet


class Malformed(ValueError):
    """A part of the CLI's JSON that does not have its documented shape; the message says which and how."""


@dataclass(slots=True)
class ConfigValue:
    """One config value (read-only by convention). `value` is None for a secret read without `--show-secrets`;
    objects keep their JSON text in `value` and the parsed form in `object_value`, as the CLI prints them."""

    value: str | None
    secret: bool
    object_value: Any = None

    @property
    def is_object(self) -> bool:
        return self.object_value is not None

    def shown(self) -> str:
        """What may be printed: never a secret's value, never a control character."""
        return "[secret]" if self.secret else printable(str(self.value))


def parse_config(raw: dict | None) -> dict[str, ConfigValue]:
    """`{key: configValueJSON}` as typed values; raises Malformed for anything else (`null` is no keys)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Malformed(f"config is {_kind_of(raw)}, not an object")
    parsed = {}
    for key, item in raw.items():
        # The common shape checked inline: this runs for every key of every entry `ops history` shows.
        if type(item) is dict and type(secret := item.get("secret")) is bool:
            value = item.get("value")
            if type(value) is str or (value is None and secret):
                parsed[str(key)] = ConfigValue(value, secret, item.get("objectValue"))
                continue
        raise Malformed(_config_problem(str(key), item))
    return parsed


def _config_problem(key: str, item: Any) -> str:
    where = f"config key {printable(key)}"
    if not isinstance(item, dict):
        return f"{where} is {_kind_of(item)}, not an object"
    secret, value = item.get("secret"), item.get("value")
    if not isinstance(secret, bool):
        return f"{where} has `secret` {_kind_of(secret)}, not true or false"
    if value is not None:
        return f"{where} has a value that is {_kind_of(value)}, not a string"
    return f"{where} has no value"


def _kind_of(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class _Details:
    """The part of an entry that choosing does not need, read together on first use."""

    start_time: datetime | None
    end_time: datetime | None
    message: str
    environment: dict[str, str]
    environment_readable: bool
    resource_changes: dict[str, int] | None


class Entry:
    """One update of the stack's history (an `up`, `preview`, `refresh`, `destroy`, ...), read from the raw JSON
    object. `version`, `kind` and `result` are read at once (`outcome_readable` says whether kind and result could
    be); the other attributes when first asked for. `config` is None when the entry recorded none that can be read;
    `problems` lists what could not be read in the fields read so far, for a note."""

    __slots__ = ("_config", "_details", "_problems", "_raw", "kind", "outcome_readable", "result", "version")

    def __init__(self, raw: dict, version: int):
        self._raw, self.version = raw, version
        self._problems: list[str] = []
        kind, result = raw.get("kind"), raw.get("result")
        # The common case inline (this runs for every entry of the history); _text says what is wrong otherwise.
        if type(kind) is not str or type(result) is not str:
            kind, result = _text(raw, "kind", self._problems), _text(raw, "result", self._problems)
        self.kind, self.result = kind, result
        self.outcome_readable = not self._problems
        self._details: _Details | None = None
        self._config: dict[str, ConfigValue] | None = _UNREAD

    def __repr__(self) -> str:
        return f"Entry(version={self.version}, kind={self.kind!r}, result={self.result!r})"

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self._problems)

    @property
    def is_good_update(self) -> bool:
        return self.kind == UPDATE and self.result == SUCCEEDED

    @property
    def config(self) -> dict[str, ConfigValue] | None:
        if self._config is _UNREAD:
            self._config = _entry_config(self._raw, self._problems)
        return self._config

    def read(self) -> Entry:
        """Reads every field now, so that `problems` is complete (a rollback reads its target so)."""
        _ = self._read_details(), self.config
        return self

    def _read_details(self) -> _Details:
        if self._details is None:
            self._details = _details(self._raw, self._problems)
        return self._details

    @property
    def start_time(self) -> datetime | None:
        return self._read_details().start_time

    @property
    def end_time(self) -> datetime | None:
        return self._read_details().end_time

    @property
    def message(self) -> str:
        return self._read_details().message

    @property
    def environment(self) -> dict[str, str]:
        return self._read_details().environment

    @property
    def environment_readable(self) -> bool:
        """Whether what a rollback needs from the environment (git.head, git.dirty) could be read."""
        return self._read_details().environment_readable

    @property
    def resource_changes(self) -> dict[str, int] | None:
        return self._read_details().resource_changes

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


@dataclass(frozen=True)
class History:
    """Entries newest first, and a note for each raw entry that was skipped because it had no valid version."""

    entries: list[Entry]
    skipped: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What could not be read: the skipped entries, and the problems found in the fields read so far."""
        notes = [f"skipped a stack history entry: {reason}" for reason in self.skipped]
        notes += [f"version {entry.version}: {'; '.join(entry._problems)}" for entry in self.entries if entry._problems]
        return notes


def valid_version(value: Any) -> int | None:
    if type(value) is int and 1 <= value <= MAX_INT:  # not a bool, which is an int to isinstance
        return value
    return None


def _text(raw: dict, key: str, problems: list[str]) -> str:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value or ""
    problems.append(f"`{key}` is {_kind_of(value)}, not a string")
    return ""


def _details(raw: dict, problems: list[str]) -> _Details:
    start, end = _time(raw, "startTime", problems), _time(raw, "endTime", problems)
    if start and end and end < start:
        problems.append("its end time is before its start time")
        end = None
    message = _text(raw, "message", problems)
    environment, environment_readable = _environment(raw.get("environment"), problems)
    changes = _resource_changes(raw.get("resourceChanges"), problems)
    return _Details(start, end, message, environment, environment_readable, changes)


def _time(raw: dict, key: str, problems: list[str]) -> datetime | None:
    """An RFC 3339 time as UTC. One without a zone is read as UTC (the CLI prints UTC); anything else is unknown."""
    text = raw.get(key)
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        problems.append(f"`{key}` is {_kind_of(text)}, not a time")
        return None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            problems.append(f"`{key}` has no time zone; read as UTC")
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        problems.append(f"`{key}` ({printable(text)[:40]}) is not a time")
        return None


def _environment(raw: Any, problems: list[str]) -> tuple[dict[str, str], bool]:
    """The environment's strings, and whether what a rollback needs from it (git.head, git.dirty) is readable."""
    if raw is None:
        return {}, True
    if not isinstance(raw, dict):
        problems.append(f"`environment` is {_kind_of(raw)}, not an object")
        return {}, False
    environment, readable = {}, True
    for key, value in raw.items():
        if not isinstance(value, str):
            problems.append(f"environment `{printable(str(key))}` is {_kind_of(value)}, not a string")
            readable = readable and key not in ("git.head", "git.dirty")
        elif key == "git.head" and not COMMIT.fullmatch(value):
            problems.append(f"environment `git.head` ({printable(value)[:40]}) is not a commit id")
            readable = False
        elif key == "git.dirty" and value not in ("true", "false"):
            problems.append(f"environment `git.dirty` ({printable(value)[:20]}) is not true or false")
            readable = False
        else:
            environment[str(key)] = value
    return environment, readable


def _entry_config(raw: dict, problems: list[str]) -> dict[str, ConfigValue] | None:
    if raw.get("config") is None:
        problems.append("it records no config")
        return None
    try:
        return parse_config(raw["config"])
    except Malformed as error:
        problems.append(f"its config cannot be read: {error}")
        return None


def _resource_changes(raw: Any, problems: list[str]) -> dict[str, int] | None:
    if raw is None:
        return None
    counts_ok = isinstance(raw, dict) and all(
        isinstance(count, int) and not isinstance(count, bool) and 0 <= count <= MAX_INT for count in raw.values()
    )
    if not counts_ok:
        problems.append("`resourceChanges` is not a map of counts")
        return None
    return {str(operation): count for operation, count in raw.items()}


def parse_history(raw_entries: Iterable[Any]) -> History:
    """Entries, newest first, one per version (pages may overlap when the stack changes while reading), and a note
    for each raw entry skipped. Only version, kind and result are read here (see the module's docstring)."""
    by_version: dict[int, Entry] = {}
    skipped: list[str] = []
    for position, raw in enumerate(raw_entries, start=1):
        if not isinstance(raw, dict):
            skipped.append(f"entry {position} is {_kind_of(raw)}, not an object")
            continue
        version = raw.get("version")
        if type(version) is not int or not 1 <= version <= MAX_INT:
            version = valid_version(version)
        if version is None:
            shown = printable(repr(raw.get("version")))[:40] if "version" in raw else "missing"
            skipped.append(f"entry {position}: its version ({shown}) is not a whole number from 1 to {MAX_INT}")
            continue
        by_version[version] = Entry(raw, version)
    entries = [by_version[version] for version in sorted(by_version, reverse=True)]
    return History(entries, list(dict.fromkeys(skipped)))


def read_history(
    stack: str, cwd: Path | str | None = None, show_secrets: bool = False, page_size: int = DEFAULT_PAGE_SIZE
) -> History:
    """Every page of `pulumi stack history --json`, newest first. Stops at a short or empty page, or at a page
    that brings no new version (a backend that ignores paging must not loop us forever)."""
    raw_entries: list[Any] = []
    seen: set[int] = set()
    with collector_paused():
        for page in range(1, MAX_PAGES + 1):
            args = ["stack", "history", "--stack", stack, "--page-size", str(page_size), "--page", str(page)]
            if show_secrets:
                args.append("--show-secrets")
            batch = run_pulumi_json(args, cwd=cwd)
            batch = [] if batch is None else batch
            if not isinstance(batch, list):
                raise OpsError("`pulumi stack history --json` did not print a list")
            raw_entries.extend(batch)
            versions = {valid_version(raw.get("version")) for raw in batch if isinstance(raw, dict)} - {None}
            new = versions - seen
            seen |= versions
            if len(batch) < page_size or not new:
                break
        return parse_history(raw_entries)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (and back on after it, if it was on): for decoding JSON, which
    makes no reference cycles (see the module's docstring)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    kind = printable(kind) or "unknown operation"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _result_phrase(result: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", IN_PROGRESS: "is still in progress"}.get(
        result, f"ended with result `{printable(result) or 'unknown'}`"
    )


def changed_keys(
    before: dict[str, ConfigValue] | None, after: dict[str, ConfigValue] | None
) -> dict[str, list[str]] | None:
    """Config keys added, removed and changed from `before` to `after` (None when either was not recorded). A
    secret whose value was not shown is compared by presence only; values never leave this function."""
    if before is None or after is None:
        return None
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(key for key in before.keys() & after.keys() if before[key] != after[key])
    return {"added": added, "removed": removed, "changed": changed}
