"""Test helpers for the stand-in `pulumi` (cli.py): put it first on PATH, describe stacks and their history, set
behaviour per test, and read back the calls it recorded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.fake_pulumi.cli import encrypt, history_entry, plain_config, stack_file, write_config_value

CLI = Path(__file__).resolve().parent / "cli.py"


class FakePulumi:
    def __init__(self, root: Path):
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
        self.state_path.write_text(json.dumps(state, indent=1))

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

    def history(self, stack: str) -> list[dict]:
        return self.load()["stacks"][stack]["history"]

    # calls
    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

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
