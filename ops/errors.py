"""The one exception type the CLI turns into a clear message and a non-zero exit (never a traceback)."""


class OpsError(Exception):
    """An expected failure: bad input, a missing tool, a refused operation. `exit_code` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
