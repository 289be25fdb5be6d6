"""One `ops rollback stack` at a time per stack and project checkout: an exclusive `flock` on
`.pulumi-ops/<stack>.lock` in the project directory, taken before the first read and held to the very end (worktree
removed, config file put back). A second run is refused at once, naming the holder. The kernel releases a flock
when its holder exits, however it exits (SIGKILL included), so a killed run never leaves a stale lock; the file
itself stays, and is never deleted (deleting a flock'd file lets two runs lock two different files).

This guards one checkout's stack file and worktrees. Two operators on different machines are kept apart by the
backend's own lock on `pulumi up` (Pulumi Cloud's 409, a self-managed backend's lock file)."""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ops.errors import OpsError, printable

LOCK_DIR = ".pulumi-ops"


def lock_path(project_dir: Path, stack: str) -> Path:
    """By the stack's short name, like its stack file: `acme/delivery/prod` and `prod` share Pulumi.prod.yaml."""
    return project_dir / LOCK_DIR / f"{stack.split('/')[-1]}.lock"


@contextlib.contextmanager
def held(project_dir: Path, stack: str) -> Iterator[None]:
    path = lock_path(project_dir, stack)
    descriptor = _open(path)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OpsError(
                f"another `ops rollback stack` is running on stack {stack} ({_holder(descriptor)}); wait for it to "
                f"finish and retry (nothing was read or changed; the lock is {path})"
            ) from None
        _write_holder(descriptor)
        yield
    finally:
        os.close(descriptor)  # releases the flock


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# ops rollback stack's locks (see ops/rollback/stack_lock.py)\n*\n")
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OpsError(
            f"cannot use the rollback lock {path}: {printable(error.strerror or str(error))}; nothing was changed"
        ) from None


def _write_holder(descriptor: int) -> None:
    holder = {
        "pid": os.getpid(),
        "user": _user(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(sys.argv[1:])[:300],
    }
    with contextlib.suppress(OSError):
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode(), 0)


def _holder(descriptor: int) -> str:
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0) or b"{}")
        return printable(f"pid {holder['pid']}, {holder['user']}@{holder['host']}, since {holder['since']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown user"
