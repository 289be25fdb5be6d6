"""The one exception type the CLI turns into a clear message and a non-zero exit (never a traceback), and how text
that comes from outside (Pulumi's output, stack history) is made safe to print."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls (\x9b alone starts an escape sequence on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class OpsError(Exception):
    """An expected failure: bad input, a missing tool, a refused operation. `exit_code` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every control character shown as \\xNN, so a terminal escape sequence in it cannot move the
    cursor, clear the screen or retitle the window; newlines are shown as \\n unless `keep_newlines`."""
    shown = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    return shown if keep_newlines else shown.replace("\n", "\\n")
