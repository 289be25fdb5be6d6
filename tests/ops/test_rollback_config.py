"""The config diff shown in the plan, and what the restore refuses before writing anything."""

import pytest

from ops.errors import OpsError
from ops.rollback.config import (
    UNDECRYPTABLE,
    check_project_files,
    check_restorable,
    diff,
    put_back,
    snapshot,
    stack_file,
)
from ops.stack_history import ConfigValue


def plain(value):
    return ConfigValue(value, False)


def secret(value):
    return ConfigValue(value, True)


def test_diff_lists_added_removed_and_changed_keys_with_secrets_masked():
    current = {"a": plain("1"), "pw": secret("new-pw"), "gone": plain("x"), "same": plain("s")}
    target = {"a": plain("2"), "pw": secret("old-pw"), "back": secret("token"), "same": plain("s")}
    lines = [change.describe() for change in diff(current, target)]
    assert lines == ["~ a: 1 -> 2", "+ back = [secret]", "- gone (was x)", "~ pw: [secret] -> [secret]"]
    assert not any("pw" in line and ("new-pw" in line or "old-pw" in line) for line in lines)


def test_a_value_turning_secret_is_a_change():
    assert [c.action for c in diff({"k": plain("v")}, {"k": secret("v")})] == ["change"]


@pytest.mark.parametrize("value", [None, UNDECRYPTABLE])
def test_an_undecryptable_target_secret_is_refused(value):
    with pytest.raises(OpsError, match=r"secret config \(delivery:pw\) could not be decrypted"):
        check_restorable({"delivery:pw": secret(value)}, [])


def test_a_structured_value_that_must_change_is_refused():
    target = {"delivery:tags": ConfigValue('{"a": 1}', False, {"a": 1})}
    current = {"delivery:tags": ConfigValue('{"a": 2}', False, {"a": 2})}
    with pytest.raises(OpsError, match="delivery:tags hold structured values"):
        check_restorable(target, diff(current, target))
    check_restorable(target, diff(target, target))  # unchanged structured values are fine


def test_the_stack_file_is_named_by_the_short_stack_name(tmp_path):
    assert stack_file(tmp_path, "acme/delivery/prod") == tmp_path / "Pulumi.prod.yaml"


def test_put_back_restores_the_bytes_through_a_rename_and_leaves_an_unchanged_file_alone(tmp_path):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_bytes(b"config:\n  a: 1\n")
    path.chmod(0o640)
    saved = snapshot(path)
    path.write_bytes(b"config:\n  a: 2\n")
    put_back(path, saved)
    assert path.read_bytes() == saved and oct(path.stat().st_mode & 0o777) == "0o640"
    inode = path.stat().st_ino
    put_back(path, saved)  # already as it was: not rewritten
    assert path.stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == ["Pulumi.prod.yaml"]


def test_put_back_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_bytes(b"one\n")
    link = tmp_path / "Pulumi.prod.yaml"
    link.symlink_to(real)
    saved = snapshot(link)
    real.write_bytes(b"two\n")
    put_back(link, saved)
    assert link.is_symlink() and real.read_bytes() == b"one\n"


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda d: (d / "Pulumi.prod.yaml").unlink(), "the stack file .* does not exist"),
        (lambda d: ((d / "Pulumi.prod.yaml").unlink(), (d / "Pulumi.prod.yaml").mkdir()), "is not a regular file"),
        (lambda d: (d / "Pulumi.prod.yaml").write_bytes(b"\xff"), "is not UTF-8 text"),
        (lambda d: (d / "Pulumi.yaml").unlink(), "the project file .* does not exist"),
    ],
)
def test_project_and_stack_files_are_checked_before_anything(tmp_path, breakage, message):
    (tmp_path / "Pulumi.yaml").write_text("name: delivery\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    assert check_project_files(tmp_path, "acme/delivery/prod") == tmp_path / "Pulumi.prod.yaml"
    breakage(tmp_path)
    with pytest.raises(OpsError, match=message):
        check_project_files(tmp_path, "prod")
