"""What keeps reading a long stack history fast changes nothing it reads: read_history decodes and parses with the
cyclic garbage collector paused and leaves it as it found it (also when it refuses a page), and the inline common
case of an entry's kind and result reads exactly what the careful reading would."""

from __future__ import annotations

import gc
import json

import pytest

from ops import stack_history
from ops.errors import OpsError
from ops.stack_history import Entry, _text, parse_history, read_history


def entry(version: int, **fields) -> dict:
    return {"version": version, "kind": "update", "result": "succeeded", "config": {}, **fields}


@pytest.fixture
def pages(monkeypatch):
    """Serves pages in place of `pulumi stack history --json`; records whether the collector was on for each."""
    served: list = []
    collector: list[bool] = []

    def run_pulumi_json(args, cwd=None):
        collector.append(gc.isenabled())
        page = int(args[args.index("--page") + 1])
        return json.loads(json.dumps(served[page - 1])) if page <= len(served) else []

    monkeypatch.setattr(stack_history, "run_pulumi_json", run_pulumi_json)
    return served, collector


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_history_is_read_with_the_collector_paused_and_it_is_back_on_after(pages):
    served, collector = pages
    served += [[entry(4), entry(3)], [entry(2), entry(1)]]

    history = read_history("dev", page_size=2)

    assert [e.version for e in history.entries] == [4, 3, 2, 1]
    assert collector == [False, False, False] and gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_the_collector_is_back_on_after_a_refused_page(pages):
    served, _ = pages
    served.append({"version": 1})

    with pytest.raises(OpsError, match="did not print a list"):
        read_history("dev")

    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(pages):
    served, collector = pages
    served.append([entry(1)])
    was = gc.isenabled()
    gc.disable()
    try:
        read_history("dev")
        assert not gc.isenabled() and collector == [False]
    finally:
        if was:
            gc.enable()


ODD = ["update", "", None, 5, 1.5, True, ["update"], {"k": "update"}, "\x1b[2Jupdate"]


@pytest.mark.parametrize("kind", ODD)
@pytest.mark.parametrize("result", ["succeeded", None, 0, ["failed"]])
def test_kind_and_result_read_inline_as_the_careful_reading_does(kind, result):
    raw = {"version": 1, "kind": kind, "result": result}
    problems: list[str] = []
    expected = (_text(raw, "kind", problems), _text(raw, "result", problems))

    read = Entry(raw, 1)

    assert (read.kind, read.result, read.problems, read.outcome_readable) == (*expected, tuple(problems), not problems)


@pytest.mark.parametrize("version", [1, 2**63 - 1, 0, -1, 2**63, True, False, 1.0, "1", None, [1]])
def test_versions_read_inline_as_valid_version_does(version):
    history = parse_history([{"version": version, "kind": "update", "result": "succeeded"}])

    valid = stack_history.valid_version(version)
    assert [e.version for e in history.entries] == ([] if valid is None else [valid])
    assert len(history.skipped) == (valid is None)
