"""A stand-in for the Pulumi CLI, run as `pulumi` first on PATH in the tests.

It answers in the real CLI's JSON shapes (`updateInfoJSON` for `stack history --json`, `configValueJSON` for
`config --json`), keeps config in the project directory's Pulumi.<stack>.yaml as the real CLI does (plain values
as strings, secrets as `{secure: <ciphertext>}`), and appends every call (argv, cwd, stdin, relevant env) to the
JSON-lines log named by FAKE_PULUMI_LOG. Its stacks (history, outputs) and behaviour (failing `up`, a locked
stack, ...) live in the JSON file named by FAKE_PULUMI_STATE, which the test helpers write.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

CIPHER_PREFIX = "v1:"
LOCKED_MESSAGE = "error: [409] Conflict: Another update is currently in progress."
EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# Flags that take a value (the rest are booleans). `config set-all` takes values for --secret/--plaintext too.
VALUE_FLAGS = {"--stack", "-s", "--page-size", "--page", "--message", "-m", "--cwd", "-C"}


class Failure(Exception):
    def __init__(self, message: str, code: int = 255):
        super().__init__(message)
        self.code = code


def encrypt(plaintext: str) -> str:
    """The stand-in's secrets provider: reversible, and the plaintext never appears in the file."""
    return CIPHER_PREFIX + base64.b64encode(bytes(b ^ 0x5A for b in plaintext.encode())).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext.startswith(CIPHER_PREFIX):
        raise Failure("error: failed to decrypt: unknown ciphertext format")
    return bytes(b ^ 0x5A for b in base64.b64decode(ciphertext[len(CIPHER_PREFIX) :])).decode()


def format_time(moment: datetime) -> str:
    """Pulumi's JSON time format (what the Automation API parses with %Y-%m-%dT%H:%M:%S.%fZ)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- state -------------------------------------------------------------------------------------------------------


def state_path() -> Path:
    return Path(os.environ["FAKE_PULUMI_STATE"])


def load_state() -> dict:
    return json.loads(state_path().read_text())


def save_state(state: dict) -> None:
    state_path().write_text(json.dumps(state, indent=1))


def stack_state(state: dict, name: str | None) -> tuple[str, dict]:
    name = name or state.get("current")
    if not name:
        raise Failure("error: no stack selected; please use `pulumi stack select`")
    if name not in state["stacks"]:
        raise Failure(f"error: no stack named '{name}' found")
    return name, state["stacks"][name]


# --- config files --------------------------------------------------------------------------------------------------


def find_project(cwd: Path) -> Path:
    for folder in [cwd, *cwd.parents]:
        if (folder / "Pulumi.yaml").exists():
            return folder
    raise Failure(f"error: no Pulumi.yaml project file found (searching upwards from {cwd})")


def stack_file(project: Path, stack: str) -> Path:
    return project / f"Pulumi.{stack.split('/')[-1]}.yaml"


def read_stack_file(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def plain_config(path: Path) -> dict[str, dict]:
    """{key: {"value": plaintext, "secret": bool, "object": parsed-or-None}} from a Pulumi.<stack>.yaml."""
    config = {}
    for key, raw in (read_stack_file(path).get("config") or {}).items():
        if isinstance(raw, dict) and set(raw) == {"secure"}:
            config[key] = {"value": decrypt(raw["secure"]), "secret": True}
        elif isinstance(raw, dict | list):
            config[key] = {"value": json.dumps(raw), "secret": False, "object": raw}
        else:
            config[key] = {"value": str(raw), "secret": False}
    return config


def write_config_value(path: Path, key: str, value: str, secret: bool) -> None:
    document = read_stack_file(path)
    document.setdefault("config", {})[key] = {"secure": encrypt(value)} if secret else value
    document.setdefault("encryptionsalt", "v1:fakesalt")
    path.write_text(yaml.safe_dump(document, sort_keys=True))


def remove_config_value(path: Path, key: str) -> None:
    document = read_stack_file(path)
    (document.get("config") or {}).pop(key, None)
    path.write_text(yaml.safe_dump(document, sort_keys=True))


def config_json(config: dict[str, dict], show_secrets: bool) -> dict:
    """The CLI's configValueJSON: a secret's value is left out unless --show-secrets."""
    shown = {}
    for key, item in sorted(config.items()):
        entry: dict = {"secret": item["secret"]}
        if not item["secret"] or show_secrets:
            entry["value"] = item["value"]
            if item.get("object") is not None:
                entry["objectValue"] = item["object"]
        shown[key] = entry
    return shown


# --- commands ------------------------------------------------------------------------------------------------------


def parse(argv: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    value_flags = set(VALUE_FLAGS)
    if argv[:2] == ["config", "set-all"]:
        value_flags |= {"--secret", "--plaintext"}
    words, flags, index = [], {}, 0
    while index < len(argv):
        token = argv[index]
        if token.startswith("-"):
            name, _, inline = token.partition("=")
            if name in value_flags and not inline:
                index += 1
                inline = argv[index] if index < len(argv) else ""
            flags.setdefault(name, []).append(inline)
        else:
            words.append(token)
        index += 1
    return words, flags


def flag(flags: dict, *names: str, default=None):
    for name in names:
        if name in flags:
            return flags[name][-1]
    return default


def has(flags: dict, *names: str) -> bool:
    return any(name in flags for name in names)


def cmd_history(state: dict, flags: dict, cwd: Path, log: dict) -> str:
    _, stack = stack_state(state, flag(flags, "--stack", "-s"))
    size, page = int(flag(flags, "--page-size", default=10)), int(flag(flags, "--page", default=1))
    entries = sorted(stack["history"], key=lambda entry: entry["version"], reverse=True)
    if size > 0:
        entries = entries[(page - 1) * size : page * size]
    show = has(flags, "--show-secrets")
    shaped = []
    for entry in entries:
        item = {key: value for key, value in entry.items() if key != "config"}
        item["config"] = config_json(entry["config"], show)
        shaped.append(item)
    return json.dumps(shaped, indent=4)


def cmd_config_list(state: dict, flags: dict, cwd: Path, log: dict) -> str:
    name, _ = stack_state(state, flag(flags, "--stack", "-s"))
    config = plain_config(stack_file(find_project(cwd), name))
    return json.dumps(config_json(config, has(flags, "--show-secrets")), indent=4)


def cmd_config_set(state: dict, words: list[str], flags: dict, cwd: Path, log: dict) -> str:
    name, _ = stack_state(state, flag(flags, "--stack", "-s"))
    if len(words) == 2:
        value = words[1]
    else:
        value = sys.stdin.read()
        log["stdin"] = value
        value = value[:-1] if value.endswith("\n") else value
    write_config_value(stack_file(find_project(cwd), name), words[0], value, has(flags, "--secret"))
    return ""


def cmd_config_set_all(state: dict, flags: dict, cwd: Path, log: dict) -> str:
    name, _ = stack_state(state, flag(flags, "--stack", "-s"))
    path = stack_file(find_project(cwd), name)
    for option, secret in (("--plaintext", False), ("--secret", True)):
        for pair in flags.get(option, []):
            key, _, value = pair.partition("=")
            write_config_value(path, key, value, secret)
    return ""


def cmd_config_rm(state: dict, words: list[str], flags: dict, cwd: Path, log: dict) -> str:
    name, _ = stack_state(state, flag(flags, "--stack", "-s"))
    remove_config_value(stack_file(find_project(cwd), name), words[0])
    return ""


def git(cwd: Path, *args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def cmd_preview(state: dict, flags: dict, cwd: Path, log: dict) -> str:
    name, _ = stack_state(state, flag(flags, "--stack", "-s"))
    find_project(cwd)
    if state["behaviour"].get("locked"):
        raise Failure(LOCKED_MESSAGE)
    if state["behaviour"].get("preview_fails"):
        raise Failure("error: preview failed: resource 'web' has a problem")
    return f"Previewing update ({name}):\n\nResources:\n    ~ 1 to update\n    10 unchanged"


def cmd_up(state: dict, flags: dict, cwd: Path, log: dict) -> str:
    name, stack = stack_state(state, flag(flags, "--stack", "-s"))
    project = find_project(cwd)
    if not has(flags, "--yes", "-y", "--skip-preview", "-f"):
        raise Failure(
            "error: --yes or --skip-preview must be passed in to proceed when running in non-interactive mode"
        )
    if state["behaviour"].get("locked") or state["behaviour"].get("locked_at_up"):
        raise Failure(LOCKED_MESSAGE)
    config = plain_config(stack_file(project, name))
    head = git(cwd, "rev-parse", "HEAD")
    dirty = git(cwd, "status", "--porcelain")
    log["up"] = {"config": {k: v["value"] for k, v in config.items()}, "gitHead": head, "cwd": str(cwd)}
    fails = bool(state["behaviour"].get("up_fails"))
    version = max((entry["version"] for entry in stack["history"]), default=0) + 1
    environment = {"exec.kind": "cli"}
    if head:
        environment |= {"git.head": head, "git.dirty": "true" if dirty else "false"}
    stack["history"].append(
        history_entry(version, "update", "failed" if fails else "succeeded", config, environment,
                      flag(flags, "--message", "-m", default=""))
    )
    save_state(state)
    if fails:
        raise Failure("error: update failed")
    return f"Updating ({name}):\n\nResources:\n    ~ 1 updated\n    10 unchanged\n\nDuration: 1m2s"


def history_entry(version: int, kind: str, result: str, config: dict, environment: dict, message: str) -> dict:
    """One entry as the CLI prints it; `config` holds plaintext (the stand-in masks secrets when printing)."""
    start = EPOCH + timedelta(hours=version)
    entry = {
        "version": version,
        "kind": kind,
        "startTime": format_time(start),
        "message": message,
        "environment": environment,
        "config": config,
        "result": result,
    }
    if result != "in-progress":
        entry["endTime"] = format_time(start + timedelta(seconds=62))
        entry["resourceChanges"] = {"same": 10, "update": 1} if kind == "update" else {"same": 11}
    return entry


def cmd_stack(state: dict, words: list[str], flags: dict, cwd: Path, log: dict) -> str:
    if words[:1] == ["history"]:
        return cmd_history(state, flags, cwd, log)
    if words[:1] == ["output"]:
        _, stack = stack_state(state, flag(flags, "--stack", "-s"))
        return json.dumps(stack.get("outputs", {}), indent=4)
    if not words and has(flags, "--show-name"):
        return stack_state(state, flag(flags, "--stack", "-s"))[0]
    raise Failure(f"error: unknown command `stack {' '.join(words)}`")


def dispatch(argv: list[str], cwd: Path, log: dict) -> str:
    state = load_state()
    words, flags = parse(argv)
    if not words:
        raise Failure("error: no command")
    head, rest = words[0], words[1:]
    if head == "stack":
        return cmd_stack(state, rest, flags, cwd, log)
    if head == "config":
        sub, args = (rest[0], rest[1:]) if rest else ("", [])
        if sub == "":
            return cmd_config_list(state, flags, cwd, log)
        if sub == "set":
            return cmd_config_set(state, args, flags, cwd, log)
        if sub == "set-all":
            return cmd_config_set_all(state, flags, cwd, log)
        if sub == "rm":
            return cmd_config_rm(state, args, flags, cwd, log)
    if head == "preview":
        return cmd_preview(state, flags, cwd, log)
    if head == "up":
        return cmd_up(state, flags, cwd, log)
    if head == "install":
        find_project(cwd)
        return "Installing dependencies...\nFinished installing dependencies"
    if head == "version":
        return "v3.205.0"
    raise Failure(f"error: unknown command `{' '.join(words)}` for the stand-in pulumi")


def relevant_env() -> dict:
    """Pulumi and AWS settings the call ran with; anything that may be a secret is recorded only as set."""
    recorded = {}
    for key, value in os.environ.items():
        if key.startswith(("PULUMI_", "AWS_")):
            hidden = any(word in key for word in ("PASSPHRASE", "SECRET", "TOKEN", "KEY"))
            recorded[key] = "<set>" if hidden else value
    return recorded


def main(argv: list[str]) -> int:
    cwd = Path.cwd()
    log: dict = {"argv": argv, "cwd": str(cwd), "env": relevant_env()}
    code = 0
    try:
        output = dispatch(argv, cwd, log)
        if output:
            print(output)
    except Failure as failure:
        print(str(failure), file=sys.stderr)
        code = failure.code
    log["exitCode"] = code
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as handle:
        handle.write(json.dumps(log) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
