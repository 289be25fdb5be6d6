"""The stack's dashboard next to the diagnosis: when the stack outputs carry `dashboardUrl`, the text and markdown say
"Dashboard: <url>" and --json has a `dashboardUrl` field (optional in the schema); a stack without that output (one
made before it existed) shows nothing of it."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.ops.diagnose.account import PIPELINE
from tests.ops.diagnose.builders import SCHEMA, diagnose_json, good_run, queue_run, run_cli
from tests.ops.fake_pulumi import FakePulumi

URL = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/app-prod"


def stack(tmp_path, monkeypatch, **extra) -> FakePulumi:
    pulumi = FakePulumi(tmp_path).install(monkeypatch)
    pulumi.add_stack("prod", outputs={"pipelineName": PIPELINE, **extra})
    return pulumi


@pytest.mark.parametrize("flag", [None, "--markdown"])
def test_the_dashboard_url_is_shown_when_the_stack_exports_it(account, capsys, tmp_path, monkeypatch, flag):
    stack(tmp_path, monkeypatch, dashboardUrl=URL)
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, out, _ = run_cli(capsys, "diagnose", "-s", "prod", *([flag] if flag else []))

    assert code == 0
    assert out.splitlines().count(f"Dashboard: {URL}") == 1


def test_json_carries_the_dashboard_url_and_validates(account, capsys, tmp_path, monkeypatch):
    stack(tmp_path, monkeypatch, dashboardUrl=URL)
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, out, _ = run_cli(capsys, "diagnose", "-s", "prod", "--json")

    document = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    assert code == 0
    assert document["dashboardUrl"] == URL


@pytest.mark.parametrize("flag", [None, "--markdown"])
def test_a_stack_without_the_output_shows_no_dashboard(account, capsys, tmp_path, monkeypatch, flag):
    stack(tmp_path, monkeypatch)
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, out, _ = run_cli(capsys, "diagnose", "-s", "prod", *([flag] if flag else []))

    assert code == 0
    assert "Dashboard" not in out


def test_json_without_the_output_has_no_field(account, capsys):
    """--pipeline alone reads no stack output: the document is as before, and still valid."""
    good, _ = good_run(account)
    queue_run(account, good, [])

    code, document = diagnose_json(capsys)

    assert code == 0
    assert "dashboardUrl" not in document


def test_escape_sequences_in_the_output_do_not_reach_the_terminal(account, capsys, tmp_path, monkeypatch):
    stack(tmp_path, monkeypatch, dashboardUrl="https://example.invalid/\x1b[2Jdash")
    good, _ = good_run(account)
    queue_run(account, good, [])

    _, out, _ = run_cli(capsys, "diagnose", "-s", "prod")

    assert "\x1b" not in out and "Dashboard: https://example.invalid/\\x1b[2Jdash" in out
