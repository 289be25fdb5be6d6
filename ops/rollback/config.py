"""Stack config for `rollback stack`: the project and stack files checked before anything else, the diff from the
current config to the target's (secret values masked), the restore, which writes each key through `pulumi config
set` (value on standard input, so a secret never appears on a command line) and removes keys the target did not
have, and the snapshot of Pulumi.<stack>.yaml that is put back, byte for byte, when nothing was applied."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ops import interrupts
from ops.errors import OpsError, printable
from ops.pulumi_cli import run_pulumi, run_pulumi_json
from ops.stack_history import ConfigValue, Malformed, parse_config

# What `pulumi stack history --show-secrets` prints for a secret it could not decrypt.
UNDECRYPTABLE = "ERROR_UNABLE_TO_DECRYPT"


@dataclass(frozen=True)
class Change:
    key: str
    action: str  # "add", "remove" or "change"
    before: ConfigValue | None
    after: ConfigValue | None

    def describe(self) -> str:
        key = printable(self.key)
        if self.action == "add":
            return f"+ {key} = {self.after.shown()}"
        if self.action == "remove":
            return f"- {key} (was {self.before.shown()})"
        return f"~ {key}: {self.before.shown()} -> {self.after.shown()}"


def stack_file(project_dir: Path, stack: str) -> Path:
    """Pulumi.<stack>.yaml, named by the stack's short name (`org/project/prod` -> `Pulumi.prod.yaml`)."""
    return project_dir / f"Pulumi.{stack.split('/')[-1]}.yaml"


def check_project_files(project_dir: Path, stack: str) -> Path:
    """Pulumi.yaml and Pulumi.<stack>.yaml as readable UTF-8 regular files (or a one-line refusal, before anything is
    read or written); returns the stack file. The stack file must exist: it holds the config the rollback rewrites
    and the secrets provider settings a worktree needs."""
    project_file = next((project_dir / name for name in ("Pulumi.yaml", "Pulumi.yml") if (project_dir / name).exists()),
                        project_dir / "Pulumi.yaml")
    _check_text_file(project_file, "the project file", "is --cwd the Pulumi project directory?")
    path = stack_file(project_dir, stack)
    _check_text_file(path, "the stack file", "it holds the config to roll back; run from a checkout that has it")
    return path


def _check_text_file(path: Path, what: str, hint: str) -> None:
    where = printable(str(path))
    if not path.exists():
        raise OpsError(f"{what} {where} does not exist; {hint}")
    if not path.is_file():
        raise OpsError(f"{what} {where} is not a regular file")
    try:
        path.read_bytes().decode("utf-8")
    except OSError as error:
        raise OpsError(f"{what} {where} cannot be read: {printable(error.strerror or str(error))}") from None
    except UnicodeDecodeError as error:
        raise OpsError(f"{what} {where} is not UTF-8 text (byte {error.start}); Pulumi cannot read it") from None


def read_config(stack: str, cwd: Path) -> dict[str, ConfigValue]:
    """The stack's config as `pulumi config --json --show-secrets` reports it in `cwd`."""
    raw = run_pulumi_json(["config", "--stack", stack, "--show-secrets"], cwd=cwd)
    try:
        return parse_config(raw)
    except Malformed as error:
        raise OpsError(f"`pulumi config --json` printed config that cannot be read: {error}") from None


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
            run_pulumi(args, cwd=cwd, stdin_text=change.after.value + "\n", secret=change.after.secret)


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
    """Returns Pulumi.<stack>.yaml to the bytes `snapshot` saved (so a refused rollback leaves config untouched):
    through a temporary file and a rename, so the file is never half written, and with signals held off until it is
    done (the command is ending anyway)."""
    with interrupts.deferred(absorb=True):
        target = path.resolve()  # through a symlink, to the file itself
        if saved is None:
            target.unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            if target.read_bytes() == saved:
                return
        temporary = target.with_name(f".{target.name}.ops-{os.getpid()}.tmp")
        temporary.write_bytes(saved)
        with contextlib.suppress(OSError):
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
