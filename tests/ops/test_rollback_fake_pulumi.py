"""The stand-in `pulumi` itself answers as the real CLI does, so the rollback tests prove something."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ops.fake_pulumi import FakePulumi, read_stack_config


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    fake = FakePulumi(tmp_path).install(monkeypatch)
    fake.add_stack("dev", outputs={"pipelineName": "p"})
    (tmp_path / "Pulumi.yaml").write_text("name: delivery\nruntime: python\n")
    monkeypatch.chdir(tmp_path)
    return fake


def pulumi(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["pulumi", *args], input=stdin, capture_output=True, text=True, check=False)


def test_history_pages_ten_at_a_time_by_default_and_hides_secrets_unless_asked(fake):
    for _ in range(12):
        fake.add_entry("dev", config={"delivery:pw": ("p4ss", True), "delivery:n": "1"})
    first = json.loads(pulumi("stack", "history", "--json", "--stack", "dev").stdout)
    assert [entry["version"] for entry in first] == list(range(12, 2, -1))
    assert first[0]["config"] == {"delivery:n": {"value": "1", "secret": False}, "delivery:pw": {"secret": True}}
    assert set(first[0]) == {"version", "kind", "startTime", "message", "environment", "config", "result",
                             "endTime", "resourceChanges"}
    second = json.loads(pulumi("stack", "history", "--json", "--stack", "dev", "--page", "2").stdout)
    assert [entry["version"] for entry in second] == [2, 1]
    shown = json.loads(pulumi("stack", "history", "--json", "--show-secrets", "--page-size", "1").stdout)
    assert shown[0]["config"]["delivery:pw"] == {"value": "p4ss", "secret": True}


def test_config_lives_encrypted_in_the_stack_file(fake, tmp_path):
    assert pulumi("config", "set", "delivery:pw", "--secret", "--stack", "dev", stdin="t0ps3cret\n").returncode == 0
    set_all = pulumi("config", "set-all", "--plaintext", "aws:region=eu-west-1", "--secret", "delivery:k=v2")
    assert set_all.returncode == 0
    text = (tmp_path / "Pulumi.dev.yaml").read_text()
    assert "t0ps3cret" not in text and "secure: v1:" in text and "aws:region: eu-west-1" in text
    listed = json.loads(pulumi("config", "--json", "--stack", "dev").stdout)
    assert listed["delivery:pw"] == {"secret": True}
    expected = {"aws:region": "eu-west-1", "delivery:k": "v2", "delivery:pw": "t0ps3cret"}
    assert read_stack_config(tmp_path, "dev") == expected
    assert pulumi("config", "rm", "delivery:k", "--stack", "dev").returncode == 0
    assert "delivery:k" not in json.loads(pulumi("config", "--json").stdout)


def test_a_locked_stack_fails_with_the_cli_text_and_every_call_is_logged(fake):
    fake.behave(locked=True)
    result = pulumi("up", "--yes", "--stack", "dev")
    assert result.returncode == 255
    assert result.stderr.strip() == "error: [409] Conflict: Another update is currently in progress."
    assert pulumi("stack", "--show-name").stdout.strip() == "dev"
    assert json.loads(pulumi("stack", "output", "--json").stdout) == {"pipelineName": "p"}
    assert fake.commands() == ["up", "stack", "stack output"]
    assert [call["exitCode"] for call in fake.calls()] == [255, 0, 0]


def test_outside_a_project_config_fails_like_the_cli(fake, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("no-project"))
    result = pulumi("config", "--json", "--stack", "dev")
    assert result.returncode == 255 and "no Pulumi.yaml project file found" in result.stderr
