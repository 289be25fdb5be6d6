"""The instances' boot script is shellcheck-clean."""

import shutil
import subprocess

import pytest

from components.fleet import USER_DATA


def test_user_data_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck is not installed; ./scripts/test installs it from requirements-dev.txt")
    result = subprocess.run([shellcheck, "--severity=style", str(USER_DATA)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
