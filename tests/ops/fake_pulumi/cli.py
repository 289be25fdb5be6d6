"""A stand-in for the Pulumi CLI, run as `pulumi` first on PATH in the tests.

It answers in the real CLI's JSON shapes (`updateInfoJSON` for `stack history --json`, `configValueJSON` for
`config --json`), keeps config in the project directory's Pulumi.<stack>.yaml as the real CLI does (plain values
as strings, secrets as `{secure: <ciphertext>}`), and appends every call (argv, cwd, stdin, relevant env, pid and
parent pid) to the JSON-lines log named by FAKE_PULUMI_LOG. Its stacks (history, outputs, locks) and behaviour
(failing `up`, a locked stack, injected faults: see faults.py) live in the JSON file named by FAKE_PULUMI_STATE,
which the test helpers write; two stand-ins running at once change it under a file lock.

Locking follows the real backends: `up` takes the stack's lock and releases it when it ends, including after a
cancellation, but not when it is terminated or killed (then `pulumi cancel` releases it). With the behaviour
`backend: "cloud"`, `up` records its history entry as `in-progress` when it starts (Pulumi Cloud), else only when
it ends (a DIY backend); the lock message is the one of that backend (pkg/backend/diy/lock.go; the service's 409).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

if __name__ == "__main__":  # run as a script by the `pulumi` wrapper: faults.py sits next to it on sys.path
    import faults
else:  # imported by the test helpers
    from tests.ops.fake_pulumi import faults

Failure = faults.Failure
CIPHER_PREFIX = "v1:"
LOCKED_MESSAGE = "error: [409] Conflict: Another update is currently in progress."
EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# Flags that take a value (the rest are booleans). `config set-all` takes values for --secret/--plaintext too.
VALUE_FLAGS = {"--stack", "-s", "--page-size", "--page", "--message", "-m", "--cwd", "-C"}


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
    """Atomic: a reader never sees half a file."""
    temporary = state_path().with_name(f"{state_path().name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state, indent=1))
    os.replace(temporary, state_path())


@contextmanager
def changing_state():
    """Load, change and save the state while holding its lock (two stand-ins may run at once)."""
    with open(state_path().with_name(state_path().name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = load_state()
        yield state
        save_state(state)


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


class Call:
    """One invocation: its parsed words and flags, the state as it was when it started, its working directory,
    the fault injected into it, its signal handling and its log record."""

    def __init__(self, argv: list[str], log: dict, signals: faults.Signals):
        self.words, self.flags = parse(argv)
        self.state = load_state()
        self.cwd = Path(flag(self.flags, "--cwd", "-C") or os.getcwd()).resolve()
        self.key = faults.command_key(self.words)
        self.fault = faults.active(self.state, self.key)
        self.log, self.signals = log, signals

    @property
    def stack_name(self) -> str | None:
        return flag(self.flags, "--stack", "-s")

    def stack(self) -> tuple[str, dict]:
        return stack_state(self.state, self.stack_name)

    def behaviour(self, name: str):
        return self.state["behaviour"].get(name)

    def block_here(self) -> None:
        if self.fault.get("block"):
            faults.block(self.key, float(self.fault["block"]), self.signals)


def cmd_history(call: Call) -> str:
    _, stack = call.stack()
    flags = call.flags
    size, page = int(flag(flags, "--page-size", default=10)), int(flag(flags, "--page", default=1))
    raw = call.behaviour("raw_history")
    entries = raw if raw is not None else sorted(stack["history"], key=lambda entry: entry["version"], reverse=True)
    if size > 0:
        entries = entries[(page - 1) * size : page * size]
    if raw is not None:
        return json.dumps(entries, indent=4)
    show = has(flags, "--show-secrets")
    shaped = []
    for entry in entries:
        item = {key: value for key, value in entry.items() if key != "config"}
        item["config"] = config_json(entry["config"], show)
        shaped.append(item)
    return json.dumps(shaped, indent=4)


def cmd_config_list(call: Call) -> str:
    name, _ = call.stack()
    config = plain_config(stack_file(find_project(call.cwd), name))
    return json.dumps(config_json(config, has(call.flags, "--show-secrets")), indent=4)


def cmd_config_set(call: Call, words: list[str]) -> str:
    name, _ = call.stack()
    if len(words) == 2:
        value = words[1]
    else:
        value = sys.stdin.read()
        call.log["stdin"] = value
        value = value[:-1] if value.endswith("\n") else value
    if call.fault.get("echo_stdin"):
        raise Failure(f"error: invalid configuration value {value!r} for {words[0]}")
    write_config_value(stack_file(find_project(call.cwd), name), words[0], value, has(call.flags, "--secret"))
    call.block_here()
    return ""


def cmd_config_set_all(call: Call) -> str:
    name, _ = call.stack()
    path = stack_file(find_project(call.cwd), name)
    for option, secret in (("--plaintext", False), ("--secret", True)):
        for pair in call.flags.get(option, []):
            key, _, value = pair.partition("=")
            write_config_value(path, key, value, secret)
    return ""


def cmd_config_rm(call: Call, words: list[str]) -> str:
    name, _ = call.stack()
    remove_config_value(stack_file(find_project(call.cwd), name), words[0])
    call.block_here()
    return ""


def git(cwd: Path, *args: str) -> str | None:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def locked_failure(call: Call, name: str) -> Failure:
    if call.behaviour("backend") == "diy":
        return Failure(faults.lock_message(name, int(call.behaviour("lock_lines") or 1)))
    return Failure(LOCKED_MESSAGE)


def step_seconds(call: Call) -> float:
    return float(call.behaviour("step_seconds") or 0)


def cmd_preview(call: Call) -> str:
    name, _ = call.stack()
    find_project(call.cwd)
    if call.behaviour("locked"):
        raise locked_failure(call, name)
    if call.behaviour("preview_fails"):
        raise Failure("error: preview failed: resource 'web' has a problem")
    lines = [f"Previewing update ({name}):", "", "     Type                 Name   Plan",
             "     pulumi:pulumi:Stack  delivery-" + name, " ~   aws:autoscaling:Group  fleet  update", "",
             "Resources:", "    ~ 1 to update", "    10 unchanged"]
    if not faults.run_engine(call.key, lines, call.fault, call.signals, step_seconds(call)):
        raise Failure("error: preview cancelled", 8)
    return ""


def cmd_up(call: Call) -> str:
    name, _ = call.stack()
    project = find_project(call.cwd)
    if not has(call.flags, "--yes", "-y", "--skip-preview", "-f"):
        raise Failure(
            "error: --yes or --skip-preview must be passed in to proceed when running in non-interactive mode"
        )
    version = start_update(call, name)
    config = plain_config(stack_file(project, name))
    head = git(call.cwd, "rev-parse", "HEAD")
    dirty = git(call.cwd, "status", "--porcelain")
    call.log["up"] = {"config": {k: v["value"] for k, v in config.items()}, "gitHead": head, "cwd": str(call.cwd)}
    lines = [f"Updating ({name}):", "", " ~   aws:autoscaling:Group  fleet  updating", " ~   aws:autoscaling:Group"
             "  fleet  updated", "", "Resources:", "    ~ 1 updated", "    10 unchanged", "", "Duration: 1m2s"]
    completed = faults.run_engine(call.key, lines, call.fault, call.signals, step_seconds(call))
    fails = bool(call.behaviour("up_fails")) or not completed
    environment = {"exec.kind": "cli"}
    if head:
        environment |= {"git.head": head, "git.dirty": "true" if dirty else "false"}
    entry = history_entry(version, "update", "failed" if fails else "succeeded", config, environment,
                          flag(call.flags, "--message", "-m", default=""))
    finish_update(name, entry)
    if not completed:
        raise Failure("error: update cancelled", 8)
    if fails:
        raise Failure("error: update failed")
    return ""


def start_update(call: Call, name: str) -> int:
    """Takes the stack's lock (refusing when someone holds it) and, on Pulumi Cloud, records the update as running."""
    with changing_state() as state:
        stack = state["stacks"][name]
        if state["behaviour"].get("locked") or state["behaviour"].get("locked_at_up") or stack.get("lock"):
            raise locked_failure(call, name)
        stack["lock"] = {"pid": os.getpid()}
        version = max((entry["version"] for entry in stack["history"]), default=0) + 1
        if state["behaviour"].get("backend") == "cloud":
            stack["history"].append(history_entry(version, "update", "in-progress", {}, {}, ""))
        return version


def finish_update(name: str, entry: dict) -> None:
    """Records the update (replacing its in-progress entry) and releases the lock."""
    with changing_state() as state:
        stack = state["stacks"][name]
        stack["history"] = [old for old in stack["history"] if old["version"] != entry["version"]] + [entry]
        stack.pop("lock", None)
        state["ups"] = state.get("ups", 0) + 1


def cmd_cancel(call: Call) -> str:
    """`pulumi cancel`: ends the running update and releases the lock (pkg/cmd/pulumi/cancel/cancel.go)."""
    name = call.stack_name or (call.words[1] if len(call.words) > 1 else None)
    with changing_state() as state:
        name, stack = stack_state(state, name)
        stack.pop("lock", None)
        for entry in stack["history"]:
            if entry["result"] == "in-progress":
                entry["result"] = "failed"
    return f"The currently running update for '{name}' has been canceled!"


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


def cmd_stack(call: Call, words: list[str]) -> str:
    if words[:1] == ["history"]:
        return cmd_history(call)
    if words[:1] == ["output"]:
        _, stack = call.stack()
        return json.dumps(stack.get("outputs", {}), indent=4)
    if not words and has(call.flags, "--show-name"):
        return call.stack()[0]
    raise Failure(f"error: unknown command `stack {' '.join(words)}`")


def cmd_config(call: Call, rest: list[str]) -> str:
    sub, args = (rest[0], rest[1:]) if rest else ("", [])
    commands = {"": lambda: cmd_config_list(call), "set": lambda: cmd_config_set(call, args),
                "set-all": lambda: cmd_config_set_all(call), "rm": lambda: cmd_config_rm(call, args)}
    if sub not in commands:
        raise Failure(f"error: unknown command `config {sub}` for the stand-in pulumi")
    return commands[sub]()


def dispatch(call: Call) -> str:
    words = call.words
    if not words:
        raise Failure("error: no command")
    faults.before(call.fault, call.key, call.stack_name or "")
    if call.key in ("stack history", "stack output", "config"):
        call.block_here()  # a read held before it answers
    head, rest = words[0], words[1:]
    if head == "stack":
        return cmd_stack(call, rest)
    if head == "config":
        return cmd_config(call, rest)
    if head == "preview":
        return cmd_preview(call)
    if head == "up":
        return cmd_up(call)
    if head == "cancel":
        return cmd_cancel(call)
    if head == "install":
        find_project(call.cwd)
        call.block_here()
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
    signals = faults.Signals(argv)
    signals.outside_engine()
    log: dict = {"argv": argv, "cwd": os.getcwd(), "env": relevant_env(), "pid": os.getpid(), "ppid": os.getppid()}
    code = 0
    try:
        call = Call(argv, log, signals)
        log["cwd"] = str(call.cwd)
        output = dispatch(call)
        if call.key in ("stack history", "config", "stack output") or output or "kill_after" in call.fault:
            faults.write_answer(call.fault, faults.shape_output(call.fault, output))
    except Failure as failure:
        if str(failure):
            faults.say(str(failure) + "\n", fd=2)
        code = failure.code
    log["exitCode"] = code
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as handle:
        handle.write(json.dumps(log) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
