"""Run the Pulumi program offline, on the Pulumi SDK's mock runtime, with a stack's real config.

`python -m ops.mockrun -s STACK [--project-dir DIR]` prints the run as JSON (exit 2 with one line on stderr for a
mistake in the stack's config). The code lives in ops/offline/ (run.py, stack_file.py, mocks.py, model.py,
compat.py); this module is the command line, and keeps the names tests import from it.
"""

from ops.offline import PROJECT_ROOT
from ops.offline.mocks import ACCOUNT_ID
from ops.offline.model import STACK_TYPE, MockRun, Registration
from ops.offline.run import child, main, run_program
from ops.offline.stack_file import project_name, stack_config

__all__ = ["ACCOUNT_ID", "PROJECT_ROOT", "STACK_TYPE", "MockRun", "Registration", "main", "project_name",
           "run_program", "stack_config"]

if __name__ == "__main__":
    child()
