"""Run the Pulumi program offline, on the Pulumi SDK's mock runtime, with a stack's real config.

`python -m ops.mockrun -s STACK [--project-dir DIR]` prints the run as JSON (exit 2 with one line on stderr for a
mistake in the stack's config). The code lives in ops/offline/ (run.py, stack_file.py, mocks.py, model.py,
compat.py); this module is only the command line.
"""

from ops.offline.run import child

if __name__ == "__main__":
    child()
