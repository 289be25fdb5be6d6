"""Fault class 4, malformed or surprising stack history: wrong types, a missing `config`, huge numbers, list-shaped
fields, mixed time zones, terminal escape sequences. The stand-in serves the entries verbatim (as a broken backend
or a future CLI could), and `ops history` (JSON and text) and `ops rollback stack` must answer with a clear refusal
or a skipped entry with a note: never a traceback, never an escape sequence on the terminal, never a secret, and a
missing `config` never means "remove every key".

The real shape is the CLI's updateInfoJSON (pkg/cmd/pulumi/stack/stack_history.go in github.com/pulumi/pulumi):
version int, kind/startTime/message string, environment map[string]string, config map[string]configValueJSON
({value *string, objectValue any, secret bool}), result string, endTime *string, resourceChanges *map[string]int."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ops.fake_pulumi.cli import config_json
from tests.ops.fake_pulumi.harness import OLD_SECRET, STACK, Project, Verdict, build_project, run_main

pytestmark = pytest.mark.slow
TARGET, NEWEST = 1, 5  # in build_project's history: version 1 is the default target, version 5 the newest update
SKIP, NOTE, FINE = "skip", "note", "fine"


def setter(key: str, value) -> Callable[[dict], None]:
    def mutate(entry: dict) -> None:
        entry[key] = copy.deepcopy(value)

    return mutate


def remover(key: str) -> Callable[[dict], None]:
    return lambda entry: entry.pop(key, None)


def in_environment(key: str, value) -> Callable[[dict], None]:
    return lambda entry: entry["environment"].__setitem__(key, value)


def config_item(value) -> Callable[[dict], None]:
    return lambda entry: entry["config"].__setitem__("delivery:fleetSize", copy.deepcopy(value))


# (id, mutation, what `ops history` does with the entry, rollback exit when it is the target, when it is the newest)
MUTATIONS = [
    ("version-string", setter("version", "5"), SKIP, 2, 2),
    ("version-float", setter("version", 5.5), SKIP, 2, 2),
    ("version-bool", setter("version", True), SKIP, 2, 2),
    ("version-null", setter("version", None), SKIP, 2, 2),
    ("version-missing", remover("version"), SKIP, 2, 2),
    ("version-negative", setter("version", -3), SKIP, 2, 2),
    ("version-zero", setter("version", 0), SKIP, 2, 2),
    ("version-huge", setter("version", 10**30), SKIP, 2, 2),
    ("version-infinite", setter("version", float("inf")), SKIP, 2, 2),
    ("version-list", setter("version", [5]), SKIP, 2, 2),
    ("version-object", setter("version", {"n": 5}), SKIP, 2, 2),
    ("kind-number", setter("kind", 5), NOTE, 2, 2),
    ("kind-list", setter("kind", ["update"]), NOTE, 2, 2),
    ("result-list", setter("result", ["succeeded"]), NOTE, 2, 2),
    ("result-number", setter("result", 1), NOTE, 2, 2),
    ("start-number", setter("startTime", 1_700_000_000), NOTE, 0, 0),
    ("start-garbage", setter("startTime", "yesterday"), NOTE, 0, 0),
    ("start-no-zone", setter("startTime", "2026-11-01T10:00:00"), NOTE, 0, 0),
    ("start-other-zone", setter("startTime", "2026-11-01T12:00:00+02:00"), FINE, 0, 0),
    ("start-list", setter("startTime", ["2026-11-01T10:00:00Z"]), NOTE, 0, 0),
    ("start-extreme", setter("startTime", "0001-01-01T00:00:00+14:00"), NOTE, 0, 0),
    ("end-before-start", setter("endTime", "2020-01-01T00:00:00.000Z"), NOTE, 0, 0),
    ("message-escapes", setter("message", "\x1b[2J\x1b]0;pwned\x07 fine"), FINE, 0, 0),
    ("message-newlines", setter("message", "one\ntwo\rthree"), FINE, 0, 0),
    ("message-number", setter("message", 42), NOTE, 0, 0),
    ("message-huge", setter("message", "m" * 1_000_000), FINE, 0, 0),
    ("environment-list", setter("environment", ["git.head", "abc"]), NOTE, 2, 0),
    ("environment-string", setter("environment", "git.head=abc"), NOTE, 2, 0),
    ("git-head-number", in_environment("git.head", 123), NOTE, 2, 0),
    ("git-head-option", in_environment("git.head", "--upload-pack=touch /tmp/pwned"), NOTE, 2, 0),
    ("git-dirty-list", in_environment("git.dirty", ["true"]), NOTE, 2, 0),
    ("config-missing", remover("config"), NOTE, 2, 0),
    ("config-null", setter("config", None), NOTE, 2, 0),
    ("config-list", setter("config", [{"key": "aws:region"}]), NOTE, 2, 0),
    ("config-string", setter("config", "aws:region=us-east-1"), NOTE, 2, 0),
    ("config-item-string", config_item("2"), NOTE, 2, 0),
    ("config-value-number", config_item({"value": 2, "secret": False}), NOTE, 2, 0),
    ("config-secret-string", config_item({"value": "2", "secret": "false"}), NOTE, 2, 0),
    ("config-secret-missing", config_item({"value": "2"}), NOTE, 2, 0),
    ("config-secret-null", lambda e: e["config"]["delivery:dbPassword"].__setitem__("secret", None), NOTE, 2, 0),
    ("resources-list", setter("resourceChanges", [1, 2]), NOTE, 0, 0),
    ("resources-string-count", setter("resourceChanges", {"update": "1"}), NOTE, 0, 0),
    ("resources-float", setter("resourceChanges", {"update": 1e308}), NOTE, 0, 0),
    ("resources-negative", setter("resourceChanges", {"update": -1}), NOTE, 0, 0),
    ("resources-huge", setter("resourceChanges", {"update": 10**40}), NOTE, 0, 0),
]
COMMANDS = ["history-json", "history-text", "rollback-dry-run"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return build_project(tmp_path, monkeypatch)


def raw_history(project: Project) -> list[dict]:
    """The history as `pulumi stack history --json --show-secrets` prints it, newest first."""
    entries = []
    for entry in sorted(project.fake.history(STACK), key=lambda e: e["version"], reverse=True):
        entries.append({**entry, "config": config_json(entry["config"], show_secrets=True)})
    return entries


def serve(project: Project, entries) -> None:
    """Serves `entries` verbatim; JSON that Python's json would refuse to write (huge ints) is written by hand."""
    project.fake.behave(raw_history=entries)


def run(project: Project, command: str):
    cwd = ["--cwd", str(project.path)]
    argv = {
        "history-json": ["history", "-s", STACK, "--json", *cwd],
        "history-text": ["history", "-s", STACK, *cwd],
        "rollback-dry-run": ["rollback", "stack", "-s", STACK, "--dry-run", *cwd],
    }[command]
    return run_main(argv)


def judge(result, command: str, expect: str, rollback_code: int, version: int) -> Verdict:
    verdict = Verdict(result).no_secret()
    verdict.expect("\x1b" not in result.stdout + result.stderr, "a terminal escape sequence was printed")
    if command == "rollback-dry-run":
        verdict.exit_code(rollback_code)
        verdict.expect("- aws:region" not in result.stdout, "the plan removes every key")
        if rollback_code == 2:
            verdict.expect(result.stderr.strip().splitlines()[-1:][0].startswith("error: ")
                           if result.stderr.strip() else False, "no one-line error")
        return verdict
    verdict.exit_code(0)
    if expect in (SKIP, NOTE):
        verdict.expect("note: " in result.stderr, "no note about the malformed entry")
    if command == "history-json" and result.returncode == 0:
        try:
            versions = [row["version"] for row in json.loads(result.stdout)]
        except (ValueError, TypeError, KeyError):
            return verdict.expect(False, "--json did not print a list of entries")
        wanted = [v for v in (5, 4, 3, 2, 1) if not (expect == SKIP and v == version)]
        verdict.expect(versions == wanted, f"versions {versions}, not {wanted}")
    if command == "history-text":
        verdict.expect(all(len(line) < 2000 for line in result.stdout.splitlines()), "an unbounded line was printed")
    return verdict


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("position", ["target", "newest"])
@pytest.mark.parametrize(
    ("name", "mutate", "expect", "as_target", "as_newest"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_a_malformed_entry(project, name, mutate, expect, as_target, as_newest, position, command):
    version = TARGET if position == "target" else NEWEST
    entries = raw_history(project)
    mutate(next(entry for entry in entries if entry["version"] == version))
    serve(project, entries)
    code = as_target if position == "target" else as_newest
    judge(run(project, command), command, expect, code, version).done()


@pytest.mark.parametrize("mutation", ["config-missing", "config-null", "config-list"])
def test_a_target_without_readable_config_never_removes_every_key(project, mutation):
    mutate = next(m[1] for m in MUTATIONS if m[0] == mutation)
    project.run_at_head()  # versions 6 (target) and 7, at HEAD: the rollback would rewrite this checkout's file
    entries = raw_history(project)
    mutate(next(entry for entry in entries if entry["version"] == 6))
    serve(project, entries)
    before = project.stack_file.read_bytes()
    result = run_main(["rollback", "stack", "-s", STACK, "--yes", "--cwd", str(project.path)])
    verdict = Verdict(result).exit_code(2)
    last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    verdict.expect(last.startswith("error: version 6 has no config that can be read"), f"refusal: {last!r}")
    verdict.keep(project.stack_file.read_bytes() == before, "Pulumi.prod.yaml changed")
    removed = [c for c in project.fake.commands() if c.startswith("config rm")]
    verdict.keep(not removed, f"keys were removed: {removed}")
    verdict.done()


PAGES = {
    "object-not-list": ({"version": 1}, 2, 2),
    "strings": (["update", "preview"], 0, 2),
    "null": ("null", 0, 2),
    "empty-objects": ([{}, {}], 0, 2),
    "deep-nesting": ("[" * 100_000 + "]" * 100_000, 2, 2),
    "huge-integer-text": ('[{"version": 1' + "0" * 5000 + "}]", 2, 2),
}


@pytest.mark.parametrize("command", ["history-json", "rollback-dry-run"])
@pytest.mark.parametrize("page", PAGES, ids=list(PAGES))
def test_a_malformed_page(project, page, command):
    body, history_code, rollback_code = PAGES[page]
    if isinstance(body, str):  # raw JSON text the stand-in prints as is
        project.fake.fault("stack history", fail={"stdout": body, "stderr": "", "code": 0})
    else:
        serve(project, body)
    result = run(project, command)
    verdict = Verdict(result).exit_code(history_code if command == "history-json" else rollback_code)
    if result.returncode == 2:
        verdict.expect(result.stderr.strip().splitlines()[-1].startswith("error: "), "no one-line error")
    verdict.done()


def test_mixed_time_zones_give_sane_durations(project):
    entries = raw_history(project)
    zones = ["2026-11-01T14:00:00+02:00", "2026-11-01T12:00:00Z", "2026-11-01T12:00:00", "2026-11-01T07:00:00-05:00"]
    for entry, start in zip(entries, zones, strict=False):
        entry["startTime"], entry["endTime"] = start, "2026-11-01T12:01:02.000Z"
    serve(project, entries)
    result = run(project, "history-json")
    verdict = Verdict(result).exit_code(0)
    rows = json.loads(result.stdout) if result.returncode == 0 else []
    durations = [row["durationSeconds"] for row in rows[:4]]
    verdict.expect(durations == [62.0, 62.0, 62.0, 62.0], f"durations {durations}")
    verdict.expect(OLD_SECRET not in result.stdout, "printed a secret").done()
