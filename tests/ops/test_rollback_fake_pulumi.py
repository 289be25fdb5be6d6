"""The stand-in `pulumi` itself answers as the real CLI does, so the rollback tests prove something."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
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


def start(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(["pulumi", *args], stdout=stdout, stderr=subprocess.PIPE)


def test_the_first_signal_cancels_the_engine_cleanly_and_the_second_terminates_leaving_the_lock(fake):
    fake.fault("up", block=20)
    first = start("up", "--yes", "--stack", "dev")
    fake.wait_at("up")
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=20)
    assert first.returncode == 8 and b"SIGTERM received; cancelling." in out
    assert fake.history("dev")[-1]["result"] == "failed" and fake.lock("dev") is None

    (fake.root / "at" / "up").unlink()
    fake.behave(step_seconds=1)
    second = start("up", "--yes", "--stack", "dev")
    fake.wait_at("up")
    second.send_signal(signal.SIGINT)
    time.sleep(0.3)
    second.send_signal(signal.SIGINT)
    out, _ = second.communicate(timeout=20)
    assert second.returncode == 255 and b"^C received; terminating" in out
    assert fake.lock("dev") is not None
    assert [event["signal"] for event in fake.signals()] == ["SIGTERM", "SIGINT", "SIGINT"]
    cancelled = pulumi("cancel", "--stack", "dev", "--yes")
    assert cancelled.returncode == 0 and "has been canceled" in cancelled.stdout and fake.lock("dev") is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_outside_the_engine_a_signal_kills_the_cli_as_go_does(fake, signum):
    fake.fault("config set", block=20)
    process = subprocess.Popen(["pulumi", "config", "set", "k", "--stack", "dev"], stdin=subprocess.PIPE)
    process.stdin.write(b"v\n")
    process.stdin.close()
    fake.wait_at("config set")
    process.send_signal(signum)
    assert process.wait(timeout=20) == -signum
    assert [event["signal"] for event in fake.signals()] == [signal.Signals(signum).name]


def test_a_closed_output_pipe_kills_the_engine_with_sigpipe_and_leaves_the_lock(fake):
    fake.fault("up", block=20)
    reader, writer = os.pipe()
    process = start("up", "--yes", "--stack", "dev", stdout=writer)
    os.close(writer)
    fake.wait_at("up")
    os.close(reader)
    process.send_signal(signal.SIGINT)  # it cancels, writes its summary, and the write kills it
    assert process.wait(timeout=20) == -signal.SIGPIPE
    assert fake.lock("dev") is not None


def test_faults_diy_lock_binary_json_kill_mid_output_and_after_up(fake):
    fake.add_entry("dev", config={"delivery:n": "1"})
    fake.fault("preview", lock_lines=3)
    locked = pulumi("preview", "--stack", "dev")
    lines = locked.stderr.splitlines()
    assert locked.returncode == 255 and len(lines) == 4
    assert lines[0].startswith("error: the stack is currently locked by 3 lock(s). Either wait")
    fake.fault("stack history", binary="stdout")
    raw = subprocess.run(["pulumi", "stack", "history", "--json", "--stack", "dev"], capture_output=True, check=False)
    with pytest.raises(UnicodeDecodeError):
        raw.stdout.decode("utf-8")
    fake.fault("stack history", kill_after=2)
    killed = subprocess.run(["pulumi", "stack", "history", "--json"], capture_output=True, check=False)
    assert killed.returncode == -signal.SIGKILL and killed.stdout.count(b"\n") == 1
    fake.fault("stack history", fail={"stderr": "error: later", "code": 255}, after_up=True)
    assert pulumi("stack", "history", "--json").returncode == 0
    assert pulumi("up", "--yes", "--stack", "dev").returncode == 0
    assert pulumi("stack", "history", "--json").stderr.strip() == "error: later"
