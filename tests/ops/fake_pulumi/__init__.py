"""Test helpers for the stand-in `pulumi` (cli.py): put it first on PATH, describe stacks and their history, set
behaviour and inject faults (faults.py) per test, hold it at a step and release it, and read back the calls and
the signals it recorded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ops.fake_pulumi.cli import encrypt, history_entry, plain_config, stack_file, write_config_value

CLI = Path(__file__).resolve().parent / "cli.py"


class FakePulumi:
    def __init__(self, root: Path):
        self.root = root
        self.bin_dir = root / "fake-bin"
        self.state_path = root / "fake-pulumi-state.json"
        self.log_path = root / "fake-pulumi-log.jsonl"
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        wrapper = self.bin_dir / "pulumi"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{CLI}" "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log_path.write_text("")
        self.save({"current": None, "stacks": {}, "behaviour": {}})

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
        monkeypatch.setenv("PATH", f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        monkeypatch.setenv("FAKE_PULUMI_STATE", str(self.state_path))
        monkeypatch.setenv("FAKE_PULUMI_LOG", str(self.log_path))
        return self

    # state
    def load(self) -> dict:
        return json.loads(self.state_path.read_text())

    def save(self, state: dict) -> None:
        temporary = self.state_path.with_name(self.state_path.name + ".helper.tmp")
        temporary.write_text(json.dumps(state, indent=1))
        os.replace(temporary, self.state_path)

    def env(self) -> dict:
        """The environment a subprocess needs to find this stand-in (for tests that build their own)."""
        return {"FAKE_PULUMI_STATE": str(self.state_path), "FAKE_PULUMI_LOG": str(self.log_path)}

    def add_stack(self, name: str, outputs: dict | None = None) -> None:
        state = self.load()
        state["stacks"][name] = {"history": [], "outputs": outputs or {}}
        state["current"] = state["current"] or name
        self.save(state)

    def behave(self, **behaviour) -> None:
        state = self.load()
        state["behaviour"].update(behaviour)
        self.save(state)

    def add_entry(
        self,
        stack: str,
        kind: str = "update",
        result: str = "succeeded",
        config: dict | None = None,
        commit: str | None = None,
        dirty: bool = False,
        message: str = "",
    ) -> int:
        """Appends a history entry; `config` maps key -> plain value, or key -> ("value", True) for a secret."""
        state = self.load()
        history = state["stacks"][stack]["history"]
        version = max((entry["version"] for entry in history), default=0) + 1
        environment = {"exec.kind": "cli"}
        if commit:
            environment |= {"git.head": commit, "git.dirty": "true" if dirty else "false"}
        history.append(history_entry(version, kind, result, as_plain(config or {}), environment, message))
        self.save(state)
        return version

    def fault(self, command: str, **spec) -> None:
        """Injects a fault into `command` ("stack history", "config set", "preview", "up", ...; see faults.py)."""
        state = self.load()
        state["behaviour"].setdefault("faults", {})[command] = spec
        self.save(state)

    def history(self, stack: str) -> list[dict]:
        return self.load()["stacks"][stack]["history"]

    def lock(self, stack: str) -> dict | None:
        """The stack's backend lock, when an update holds it (or left it behind)."""
        return self.load()["stacks"][stack].get("lock")

    # holding a step
    def wait_at(self, command: str, timeout: float = 30.0) -> int:
        """Waits until a stand-in blocked by the `block` fault reached `command`; returns that stand-in's pid."""
        marker = self.root / "at" / command.replace(" ", "-")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                return int(marker.read_text())
            time.sleep(0.02)
        raise AssertionError(f"the stand-in pulumi never reached `{command}` within {timeout}s")

    def release(self, command: str) -> None:
        (self.root / "release").mkdir(exist_ok=True)
        (self.root / "release" / command.replace(" ", "-")).write_text("go")

    # calls
    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def calls(self) -> list[dict]:
        """Every finished call (a stand-in killed mid-call leaves no record, as it leaves no exit code)."""
        return [record for record in self.records() if "event" not in record]

    def signals(self) -> list[dict]:
        """Every signal a stand-in received: {"signal": "SIGINT", "argv": [...], "pid": N}."""
        return [record for record in self.records() if record.get("event") == "signal"]

    def commands(self) -> list[str]:
        """Each call as its command words, e.g. "stack history", "config set delivery:x", "preview", "up"."""
        return [command_words(call["argv"]) for call in self.calls()]


def as_plain(config: dict) -> dict:
    plain = {}
    for key, value in config.items():
        secret = isinstance(value, tuple)
        plain[key] = {"value": value[0] if secret else str(value), "secret": secret}
    return plain


def command_words(argv: list[str]) -> str:
    words = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in ("--stack", "-s", "--page-size", "--page", "--message", "-m"):
            skip = True
        elif not token.startswith("-"):
            words.append(token)
    return " ".join(words)


def write_stack_config(project_dir: Path, stack: str, config: dict) -> Path:
    """Writes Pulumi.<stack>.yaml the way the real CLI does (plain strings; secrets as {secure: ciphertext})."""
    path = stack_file(project_dir, stack)
    for key, value in config.items():
        secret = isinstance(value, tuple)
        write_config_value(path, key, value[0] if secret else str(value), secret)
    return path


def read_stack_config(project_dir: Path, stack: str) -> dict:
    """key -> plaintext value (secrets decrypted) of Pulumi.<stack>.yaml."""
    return {key: item["value"] for key, item in plain_config(stack_file(project_dir, stack)).items()}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


__all__ = ["FakePulumi", "encrypt", "git", "read_stack_config", "write_stack_config"]
