"""The temporary git worktree `rollback stack` runs the target's program from, in a repository with two commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.errors import OpsError
from ops.rollback.stack_lock import held
from ops.rollback.worktree import find_checkout, worktree_at
from tests.ops.fake_pulumi import git


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "repo"
    (repo / "infra").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "infra" / "__main__.py").write_text("one\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "infra" / "__main__.py").write_text("two\n")
    git(repo, "commit", "-q", "-am", "two")
    return repo, first, git(repo, "rev-parse", "HEAD")


def test_checkout_knows_head_its_commits_and_the_project_path(repo):
    path, first, second = repo
    checkout = find_checkout(path / "infra")
    assert checkout.head == second and checkout.project_path == Path("infra")
    assert checkout.is_head(second) and checkout.is_head(second[:10]) and not checkout.is_head(first)
    assert checkout.has_commit(first) and not checkout.has_commit("0" * 40)


def test_uncommitted_changes_are_listed_except_the_ignored_file(repo):
    path, _, _ = repo
    checkout = find_checkout(path / "infra")
    stack_file = path / "infra" / "Pulumi.prod.yaml"
    assert checkout.uncommitted(ignore=stack_file) == []
    stack_file.write_text("config: {}\n")
    assert checkout.uncommitted(ignore=stack_file) == []
    (path / "infra" / "new_module.py").write_text("x = 1\n")
    (path / "outside.txt").write_text("not in the project\n")
    assert checkout.uncommitted(ignore=stack_file) == ["infra/new_module.py"]


def test_a_folder_outside_git_has_no_checkout(tmp_path):
    assert find_checkout(tmp_path) is None


def test_worktree_holds_the_old_commit_and_is_removed_afterwards(repo):
    path, first, _ = repo
    checkout = find_checkout(path / "infra")
    with worktree_at(checkout, first) as project_dir:
        assert (project_dir / "__main__.py").read_text() == "one\n"
        assert git(project_dir, "rev-parse", "HEAD") == first
        assert len(git(path, "worktree", "list").splitlines()) == 2
    assert not project_dir.exists()
    assert len(git(path, "worktree", "list").splitlines()) == 1
    assert (path / "infra" / "__main__.py").read_text() == "two\n"


def test_worktree_is_removed_when_the_block_fails(repo):
    path, first, _ = repo
    checkout = find_checkout(path)
    with pytest.raises(RuntimeError), worktree_at(checkout, first) as project_dir:
        (project_dir / "scratch.txt").write_text("untracked")
        raise RuntimeError("boom")
    assert not project_dir.exists()
    assert len(git(path, "worktree", "list").splitlines()) == 1


def test_an_unknown_commit_is_a_clear_error(repo):
    path, _, _ = repo
    with pytest.raises(OpsError, match="could not create a git worktree at 000000000000"), worktree_at(
        find_checkout(path), "0" * 40
    ):
        pass
    assert len(git(path, "worktree", "list").splitlines()) == 1


def test_paths_with_spaces_and_renames_are_read_from_porcelain_z(repo):
    path, _, _ = repo
    checkout = find_checkout(path)
    (path / "infra" / "with space.py").write_text("x = 1\n")
    git(path, "mv", "infra/__main__.py", "infra/main renamed.py")
    assert sorted(checkout.uncommitted(ignore=path / "infra" / "Pulumi.prod.yaml")) == [
        "infra/main renamed.py", "infra/with space.py"]


def test_the_rollback_lock_folder_does_not_make_the_checkout_dirty(repo):
    path, _, _ = repo
    checkout = find_checkout(path / "infra")
    with held(path / "infra", "prod"):
        assert (path / "infra" / ".pulumi-ops" / "prod.lock").exists()
        assert checkout.uncommitted(ignore=path / "infra" / "Pulumi.prod.yaml") == []


def test_a_second_holder_of_the_rollback_lock_is_refused_and_told_who_holds_it(repo):
    path, _, _ = repo
    with held(path, "prod"), pytest.raises(OpsError, match=r"another `ops rollback stack` is running on stack "
                                                           r"acme/x/prod \(pid \d+"), held(path, "acme/x/prod"):
        pass
    with held(path, "prod"), held(path, "dev"):  # released, and another stack is another lock
        pass
