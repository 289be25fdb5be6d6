"""Stack history as typed entries, how the rollback target is chosen from them, and that choosing reads no more of
the history than it needs."""

from datetime import timedelta

import pytest

from ops.errors import OpsError
from ops.history import describe
from ops.stack_history import ConfigValue, changed_keys, choose_target, parse_history, update_in_progress


def raw(version, kind="update", result="succeeded", commit=None, dirty=None, config=None):
    """An entry in the CLI's updateInfoJSON shape."""
    entry = {
        "version": version,
        "kind": kind,
        "startTime": "2026-11-01T10:00:00.000Z",
        "message": f"change {version}",
        "environment": {"exec.kind": "cli"},
        "config": config or {},
        "result": result,
    }
    if commit:
        entry["environment"]["git.head"] = commit
    if dirty is not None:
        entry["environment"]["git.dirty"] = "true" if dirty else "false"
    if result != "in-progress":
        entry |= {"endTime": "2026-11-01T10:01:02.000Z", "resourceChanges": {"same": 3, "update": 1}}
    return entry


def parsed(raw_entries: list) -> list:
    return parse_history(raw_entries).entries


def test_entries_are_typed_and_newest_first():
    entries = parsed([raw(1, commit="abcd", dirty=True), raw(3, kind="preview"), raw(2, result="failed")])
    assert [entry.version for entry in entries] == [3, 2, 1]
    oldest = entries[-1]
    assert oldest.git_commit == "abcd" and oldest.git_dirty is True
    assert oldest.duration == timedelta(seconds=62)
    assert oldest.resource_changes == {"same": 3, "update": 1}


def test_an_entry_without_commit_or_end_has_none():
    entry = parsed([raw(1, result="in-progress")])[0]
    assert entry.git_commit is None and entry.git_dirty is None and entry.duration is None
    assert entry.end_time is None and entry.resource_changes is None


def test_overlapping_pages_keep_one_entry_per_version():
    assert [entry.version for entry in parsed([raw(2), raw(1), raw(2)])] == [2, 1]


def test_secret_config_values_parse_with_or_without_their_value():
    config = {"delivery:pw": {"secret": True}, "aws:region": {"value": "eu-west-1", "secret": False}}
    entry = parsed([raw(1, config=config)])[0]
    assert entry.config["delivery:pw"] == ConfigValue(None, True)
    assert entry.config["delivery:pw"].shown() == "[secret]"
    assert entry.config["aws:region"].shown() == "eu-west-1"


def test_default_target_skips_previews_refreshes_and_failed_updates():
    history = [raw(1), raw(2, kind="refresh"), raw(3, kind="preview"), raw(4, result="failed"), raw(5)]
    entries = parsed([*history, raw(6, kind="destroy")])
    assert choose_target(entries).version == 1


def test_default_target_is_older_than_a_failed_newest_update():
    entries = parsed([raw(1), raw(2), raw(3, result="failed")])
    assert choose_target(entries).version == 2


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([], "no update yet"),
        ([raw(1, kind="preview")], "no update yet"),
        ([raw(1)], "no succeeded update is older"),
        ([raw(1, result="failed"), raw(2)], "no succeeded update is older"),
    ],
)
def test_no_eligible_default_target_is_refused(history, message):
    with pytest.raises(OpsError, match=message):
        choose_target(parsed(history))


def test_to_picks_a_succeeded_update():
    assert choose_target(parsed([raw(1), raw(2), raw(3)]), to_version=2).version == 2


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (9, "version 9 is not in the stack's history"),
        (2, "version 2 is a preview that succeeded; only a succeeded update"),
        (3, "version 3 is an update that failed"),
        (4, "version 4 is a refresh that succeeded"),
    ],
)
def test_to_refuses_anything_but_a_succeeded_update(version, message):
    entries = parsed([raw(1), raw(2, kind="preview"), raw(3, result="failed"), raw(4, kind="refresh"), raw(5)])
    with pytest.raises(OpsError, match=message):
        choose_target(entries, to_version=version)


def test_update_in_progress_is_the_newest_unfinished_entry():
    assert update_in_progress(parsed([raw(1), raw(2, result="in-progress")])).version == 2
    assert update_in_progress(parsed([raw(1, result="in-progress"), raw(2)])) is None


def test_changed_keys_reports_added_removed_and_changed_including_secrets():
    before = {"a": ConfigValue("1", False), "pw": ConfigValue("x", True), "gone": ConfigValue("1", False)}
    after = {"a": ConfigValue("2", False), "pw": ConfigValue("y", True), "new": ConfigValue("1", False)}
    assert changed_keys(before, after) == {"added": ["new"], "removed": ["gone"], "changed": ["a", "pw"]}
    assert changed_keys(before, before) == {"added": [], "removed": [], "changed": []}


def test_an_entry_without_a_valid_version_is_skipped_with_a_note():
    history = parse_history([raw(2), {**raw(1), "version": True}, "junk", {**raw(3), "version": 10**30}])
    assert [entry.version for entry in history.entries] == [2]
    assert len(history.skipped) == 3
    assert all(note.startswith("skipped a stack history entry") for note in history.notes())


def test_a_missing_config_is_not_recorded_never_no_keys():
    entry = parse_history([{key: v for key, v in raw(1).items() if key != "config"}]).entries[0]
    assert entry.config is None and entry.problems == ("it records no config",)
    assert changed_keys({"a": ConfigValue("1", False)}, entry.config) is None


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ([], "config is a list, not an object"),
        ({"k": "v"}, "config key k is a string, not an object"),
        ({"k": {"value": 2, "secret": False}}, "has a value that is a number"),
        ({"k": {"value": "v", "secret": "false"}}, "has `secret` a string, not true or false"),
        ({"k": {"value": "v"}}, "has `secret` null"),
        ({"k": {"secret": False}}, "config key k has no value"),
    ],
)
def test_a_malformed_config_is_unreadable_with_the_reason(config, problem):
    entry = parse_history([{**raw(1), "config": config}]).entries[0]
    assert entry.config is None and problem in entry.problems[0]


def test_times_are_utc_whatever_zone_they_were_written_in():
    entries = parse_history([
        {**raw(1), "startTime": "2026-11-01T12:00:00+02:00", "endTime": "2026-11-01T10:01:02Z"},
        {**raw(2), "startTime": "2026-11-01T10:00:00", "endTime": "2026-11-01T10:01:02.000Z"},
    ]).entries
    assert [entry.duration for entry in entries] == [timedelta(seconds=62), timedelta(seconds=62)]
    assert entries[0].problems == ("`startTime` has no time zone; read as UTC",)


@pytest.mark.parametrize(
    ("environment", "readable"),
    [
        ({"git.head": "a" * 40, "git.dirty": "false"}, True),
        ({"git.head": "--upload-pack=touch /tmp/x"}, False),
        ({"git.head": 123}, False),
        ({"git.dirty": ["true"]}, False),
        (["git.head"], False),
        ({"exec.kind": 5}, True),  # not what a rollback needs: noted only
    ],
)
def test_the_recorded_commit_must_be_a_commit_id(environment, readable):
    entry = parse_history([{**raw(1), "environment": environment}]).entries[0]
    assert entry.environment_readable is readable
    assert entry.git_commit in (None, "a" * 40)


def test_wrong_kinds_results_and_counts_are_noted_and_left_unknown():
    entry = parse_history([{**raw(1), "kind": ["update"], "resourceChanges": {"update": True}}]).entries[0]
    assert entry.kind == "" and not entry.outcome_readable and not entry.is_good_update
    assert entry.resource_changes is None and len(entry.problems) == 2


# --- only what choosing needs is read -------------------------------------------------------------------------------


def unreadable_but_kind_and_result(version: int, **fields) -> dict:
    """An entry whose every field but version, kind and result is malformed."""
    return {**raw(version, **fields), "config": "junk", "startTime": 5, "message": [], "environment": "x",
            "resourceChanges": [1]}


def test_parsing_and_choosing_read_only_version_kind_and_result():
    history = parse_history([unreadable_but_kind_and_result(v) for v in (1, 2, 3)] + [{**raw(4), "kind": 7}])
    target = choose_target(history.entries)
    assert update_in_progress(history.entries) is None and target.version == 2
    assert history.notes() == ["version 4: `kind` is a number, not a string"]  # nothing else was read


def test_the_rest_of_an_entry_is_read_and_noted_when_asked_for():
    entry = parse_history([unreadable_but_kind_and_result(1)]).entries[0]
    assert entry.message == "" and entry.problems == (
        "`startTime` is a number, not a time", "`message` is a list, not a string",
        "`environment` is a string, not an object", "`resourceChanges` is not a map of counts")
    assert entry.config is None and entry.problems[-1] == "its config cannot be read: config is a string, not an object"
    assert entry.read() is entry and len(entry.problems) == 5  # read once: asking again notes nothing twice


def test_history_reads_the_config_of_the_entries_it_shows_and_of_the_one_before_them():
    entries = parse_history([unreadable_but_kind_and_result(v) for v in range(1, 6)]).entries
    rows = describe(entries, limit=2)
    assert [row["version"] for row in rows] == [5, 4]
    assert [bool(entry.problems) for entry in entries] == [True, True, True, False, False]
    assert rows[0]["notes"] == list(entries[0].problems) and rows[0]["configRecorded"] is False
