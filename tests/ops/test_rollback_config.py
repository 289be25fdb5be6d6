"""The config diff shown in the plan, and what the restore refuses before writing anything."""

import pytest

from ops.errors import OpsError
from ops.rollback.config import UNDECRYPTABLE, check_restorable, diff, stack_file
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
