"""The one check every component's Args class uses for its own invariants, so a wrong value fails where the
component is built, with a message that names the class, the field and what is allowed (not an IndexError or a
rejected API call minutes later)."""

from __future__ import annotations


def require(ok: bool, args: object, field: str, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{type(args).__name__}.{field} must be {allowed}, got {getattr(args, field)!r}")
