"""Reading resource properties safely during preview, and reporting what could not be judged.

During `pulumi preview` some properties are unknown. The SDK's proxy raises `UnknownValueError` on access, which
would stop a policy at the first unknown. Instead we copy the properties into plain data with an `Unknown` marker,
judge everything that is known, and only then raise one error naming every path that could not be judged (the SDK
turns it into an advisory diagnostic, so an unknown never blocks a preview and never hides a known violation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from guardrails.sdk import UNKNOWN_STRING_VALUE, UnknownValueError


class Unknown:
    """A value that cannot be known until the update runs."""

    _instance: Unknown | None = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def plain(value: Any) -> Any:
    """Deep copy of a (proxied) property value into dicts, lists and scalars; unknowns become UNKNOWN."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def get(data: Any, *path: str | int, default: Any = None) -> Any:
    """The value at `path`, UNKNOWN if any step is unknown, `default` if any step is missing or null."""
    current = data
    for step in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return default
            current = current[step]
        else:
            if not isinstance(current, dict) or current.get(step) is None:
                return default
            current = current[step]
    return current


def as_list(value: Any) -> list:
    """A property that AWS accepts as one item or a list, as a list (UNKNOWN stays UNKNOWN)."""
    if value is None:
        return []
    if value is UNKNOWN or isinstance(value, list):
        return value
    return [value]


def is_true(value: Any) -> bool:
    """True for `true` and `"true"` (some pulumi-aws flags are strings)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


class NotJudged(UnknownValueError):
    """Raised after all known values were judged; the SDK reports it as an advisory 'can't run during preview'."""

    def __init__(self, paths: list[str]):
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = "could not judge (unknown until the update runs): " + "; ".join(paths)


class Findings:
    """Collects violations (reported at once) and unknown paths (reported together at the end)."""

    def __init__(self, report_violation, subject: str = ""):
        self._report = report_violation
        self._subject = subject
        self._unknown: list[str] = []
        self.count = 0

    def violation(self, message: str, urn: str | None = None) -> None:
        self.count += 1
        self._report(message, urn)

    def unknown(self, path: str) -> None:
        self._unknown.append(f"{self._subject}{path}" if self._subject else path)

    def known(self, value: Any, path: str) -> bool:
        """True if `value` is known; otherwise records `path` as not judged."""
        if value is UNKNOWN:
            self.unknown(path)
            return False
        return True

    def finish(self) -> None:
        if self._unknown:
            raise NotJudged(self._unknown)
