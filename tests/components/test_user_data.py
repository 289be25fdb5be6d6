"""The instances' boot script is shellcheck-clean."""

import subprocess

from components.fleet import USER_DATA
from tests.conftest import installed_tool


def test_user_data_is_shellcheck_clean():
    result = subprocess.run([installed_tool("shellcheck"), "--severity=style", str(USER_DATA)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
