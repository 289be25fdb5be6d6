"""Stack config for `rollback stack`: the diff from the current config to the target's (secret values masked),
and the restore, which writes each key through `pulumi config set` (value on standard input, so a secret never
appears on a command line) and removes keys the target did not have."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ops.errors import OpsError
from ops.pulumi_cli import run_pulumi, run_pulumi_json
from ops.stack_history import ConfigValue, parse_config

# What `pulumi stack history --show-secrets` prints for a secret it could not decrypt.
UNDECRYPTABLE = "ERROR_UNABLE_TO_DECRYPT"


@dataclass(frozen=True)
class Change:
    key: str
    action: str  # "add", "remove" or "change"
    before: ConfigValue | None
    after: ConfigValue | None

    def describe(self) -> str:
        if self.action == "add":
            return f"+ {self.key} = {self.after.shown()}"
        if self.action == "remove":
            return f"- {self.key} (was {self.before.shown()})"
        return f"~ {self.key}: {self.before.shown()} -> {self.after.shown()}"


def stack_file(project_dir: Path, stack: str) -> Path:
    """Pulumi.<stack>.yaml, named by the stack's short name (`org/project/prod` -> `Pulumi.prod.yaml`)."""
    return project_dir / f"Pulumi.{stack.split('/')[-1]}.yaml"


def read_config(stack: str, cwd: Path) -> dict[str, ConfigValue]:
    """The stack's config as `pulumi config --json --show-secrets` reports it in `cwd`."""
    raw = run_pulumi_json(["config", "--stack", stack, "--show-secrets"], cwd=cwd)
    if raw is not None and not isinstance(raw, dict):
        raise OpsError("`pulumi config --json` did not print an object")
    return parse_config(raw)


def diff(current: dict[str, ConfigValue], target: dict[str, ConfigValue]) -> list[Change]:
    changes = []
    for key in sorted(set(current) | set(target)):
        before, after = current.get(key), target.get(key)
        if before == after:
            continue
        action = "add" if before is None else "remove" if after is None else "change"
        changes.append(Change(key, action, before, after))
    return changes


def check_restorable(target: dict[str, ConfigValue], changes: list[Change]) -> None:
    """Refuses, before anything is written, what cannot be restored exactly."""
    unreadable = sorted(key for key, value in target.items() if value.secret and value.value in (None, UNDECRYPTABLE))
    if unreadable:
        raise OpsError(
            f"the target's secret config ({', '.join(unreadable)}) could not be decrypted from the stack history; "
            "make the stack's secrets provider available (e.g. PULUMI_CONFIG_PASSPHRASE) and retry"
        )
    structured = [
        change.key for change in changes if any(v is not None and v.is_object for v in (change.before, change.after))
    ]
    if structured:
        raise OpsError(
            f"config key(s) {', '.join(structured)} hold structured values that differ from the target's; "
            "`pulumi config set` cannot restore them exactly, so set them by hand with `--path` and retry"
        )


def apply(stack: str, cwd: Path, changes: list[Change]) -> None:
    """Writes each change with the Pulumi CLI in `cwd`; a secret is set with `--secret` and its value on stdin."""
    for change in changes:
        if change.action == "remove":
            run_pulumi(["config", "rm", change.key, "--stack", stack], cwd=cwd)
        else:
            mode = "--secret" if change.after.secret else "--plaintext"
            # The CLI strips one trailing newline from stdin, so a value that ends in one survives intact.
            args = ["config", "set", change.key, mode, "--stack", stack]
            run_pulumi(args, cwd=cwd, stdin_text=change.after.value + "\n")


def restore(stack: str, cwd: Path, target: dict[str, ConfigValue]) -> list[Change]:
    """Makes the stack config in `cwd` equal to `target` and checks it by reading it back."""
    changes = diff(read_config(stack, cwd), target)
    check_restorable(target, changes)
    apply(stack, cwd, changes)
    left = [change.key for change in diff(read_config(stack, cwd), target)]
    if left:
        raise OpsError(f"the stack config still differs from the target after the restore: {', '.join(left)}")
    return changes


def snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def put_back(path: Path, saved: bytes | None) -> None:
    """Returns Pulumi.<stack>.yaml to the bytes `snapshot` saved (so a refused rollback leaves config untouched)."""
    if saved is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(saved)
