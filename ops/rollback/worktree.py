"""Git for `rollback stack`: where the project lives in its repository, and a temporary `git worktree` at the
target's recorded commit that is removed in every case.

git runs in its own session with signals deferred, so a Ctrl-C neither reaches it from the terminal nor cuts it
short: it finishes (it is quick) and the signal is handled after it. Removing the worktree holds signals off until
it is done."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ops import interrupts
from ops.errors import OpsError, printable


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if not shutil.which("git"):
        raise OpsError("git was not found on PATH; it is needed to run the target version's program")
    with interrupts.deferred():
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, check=False, start_new_session=True,
            encoding="utf-8", errors="surrogateescape", stdin=subprocess.DEVNULL,
        )


@dataclass(frozen=True)
class Checkout:
    """The git repository holding the Pulumi project: its top folder, HEAD, and the project's path inside it."""

    top: Path
    head: str
    project_path: Path

    def has_commit(self, commit: str) -> bool:
        return _git(["cat-file", "-e", f"{commit}^{{commit}}"], self.top).returncode == 0

    def uncommitted(self, ignore: Path) -> list[str]:
        """Paths under the project with uncommitted changes (untracked included, ignored files not), bar `ignore`."""
        status = _git(["status", "--porcelain", "-z", "--", str(self.top / self.project_path)], self.top)
        skip = ignore.resolve().relative_to(self.top).as_posix()
        return [path for path in _porcelain_paths(status.stdout) if path != skip]

    def is_head(self, commit: str) -> bool:
        resolved = _git(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], self.top)
        return resolved.returncode == 0 and resolved.stdout.strip() == self.head


def _porcelain_paths(output: str) -> list[str]:
    """The paths of `git status --porcelain -z`: "XY path", NUL-separated; a rename or copy adds the old path as a
    field of its own, which is skipped."""
    fields, paths = output.split("\0"), []
    index = 0
    while index < len(fields):
        entry = fields[index]
        if len(entry) > 3:
            paths.append(entry[3:])
            index += 1 if entry[0] not in "RC" else 2
        else:
            index += 1
    return paths


def find_checkout(project_dir: Path) -> Checkout | None:
    """The checkout holding `project_dir`, or None when it is not in a git repository (or has no commit yet)."""
    top = _git(["rev-parse", "--show-toplevel"], project_dir)
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], project_dir)
    if top.returncode != 0 or head.returncode != 0:
        return None
    top_path = Path(top.stdout.strip()).resolve()
    try:
        return Checkout(top_path, head.stdout.strip(), project_dir.resolve().relative_to(top_path))
    except ValueError:  # git's top folder is not above the project as the file system sees it
        return None


@contextmanager
def worktree_at(checkout: Checkout, commit: str) -> Iterator[Path]:
    """A detached worktree at `commit` in a temporary folder; yields the project's folder inside it and removes
    the worktree (and git's record of it) however the block ends."""
    parent = Path(tempfile.mkdtemp(prefix="ops-rollback-"))
    path = parent / "worktree"
    try:
        added = _git(["worktree", "add", "--detach", str(path), commit], checkout.top)
        if added.returncode != 0:
            raise OpsError(f"could not create a git worktree at {commit[:12]}: {_last_line(added)}")
        yield path / checkout.project_path
    finally:
        with interrupts.deferred(absorb=True):
            remove_worktree(checkout, path)
            shutil.rmtree(parent, ignore_errors=True)


def remove_worktree(checkout: Checkout, path: Path) -> None:
    removed = _git(["worktree", "remove", "--force", str(path)], checkout.top)
    _git(["worktree", "prune"], checkout.top)
    if removed.returncode != 0 and path.exists():
        print(f"warning: could not remove the worktree {path}: {_last_line(removed)}; remove it with: git worktree "
              f"remove --force {path}", file=sys.stderr)


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return printable(lines[-1]) if lines else f"exit code {result.returncode}"
