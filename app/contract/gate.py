"""The committed contract's operations, check and accept, and diff of two files (rules in app/contract/compat.py).
The live gate, against the contracts of the releases that are live, is app/contract/live.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.contract.compat import Change, compare

CONTRACT = Path(__file__).resolve().parent / "openapi.json"
EXIT_OK, EXIT_BREAKING, EXIT_BAD_INPUT = 0, 1, 2


class ContractError(Exception):
    """The committed contract cannot be read or is not an OpenAPI document."""


def service_document() -> dict[str, Any]:
    """The OpenAPI document the service serves today (it does not depend on settings)."""
    from app.service import create_app
    from app.settings import Settings

    return create_app(Settings()).openapi()


def load_contract(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContractError(f"{_shown(path)} does not exist; create it with `python -m app.contract accept`") from None
    except OSError as err:
        raise ContractError(f"{_shown(path)} is not readable JSON ({err})") from None
    return parse_contract(data, _shown(path))


def parse_contract(data: bytes, shown: str) -> dict[str, Any]:
    """A contract from its bytes (a file's, or a release bundle's member); `shown` names it in errors."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ContractError(f"{shown} is not readable JSON ({err})") from None
    if not isinstance(document, dict) or "openapi" not in document or not isinstance(document.get("paths"), dict):
        raise ContractError(f"{shown} is not an OpenAPI document (it needs 'openapi' and 'paths')")
    return document


def write_contract(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _shown(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_changes(title: str, changes: list[Change]) -> None:
    if changes:
        print(f"{title} ({len(changes)}):")
        for change in changes:
            print(f"  - {change}")


def diff(old_path: Path, new_path: Path, as_json: bool) -> int:
    """Two contract files compared as the gate compares them: exit 0 compatible, 1 breaking (each listed)."""
    changes = compare(load_contract(old_path), load_contract(new_path))
    breaking = [c for c in changes if c.breaking]
    if as_json:
        print(json.dumps({"compatible": not breaking, "old": str(old_path), "new": str(new_path),
                          "breaking": [{"where": c.where, "what": c.what} for c in breaking],
                          "nonBreaking": [{"where": c.where, "what": c.what} for c in changes if not c.breaking]},
                         indent=2))
    else:
        _print_changes("breaking changes", breaking)
        _print_changes("non-breaking changes", [c for c in changes if not c.breaking])
        verdict = f"{len(breaking)} breaking change(s)" if breaking else "compatible"
        print(f"{_shown(old_path)} -> {_shown(new_path)}: {verdict}")
    return EXIT_BREAKING if breaking else EXIT_OK


def check(path: Path) -> int:
    changes = compare(load_contract(path), service_document())
    breaking = [c for c in changes if c.breaking]
    others = [c for c in changes if not c.breaking]
    _print_changes("breaking changes", breaking)
    _print_changes("non-breaking changes", others)
    if breaking:
        print(f"contract check FAILED: {len(breaking)} breaking change(s) against {_shown(path)}. "
              "Keep the old behaviour, or serve the change under a new versioned path (/api/v2/...) next to the old "
              "one. `python -m app.contract accept --allow-breaking` records it in the committed file only: the live "
              "gate still fails the build while a live release serves the old API.", file=sys.stderr)
        return EXIT_BREAKING
    if others:
        print(f"contract check passed; record the additions with `python -m app.contract accept` ({_shown(path)}).")
    else:
        print(f"contract check passed: the service matches {_shown(path)}.")
    return EXIT_OK


def accept(path: Path, allow_breaking: bool) -> int:
    document = service_document()
    changes = compare(load_contract(path), document) if path.exists() else []
    breaking = [c for c in changes if c.breaking]
    if breaking and not allow_breaking:
        _print_changes("breaking changes", breaking)
        print(f"not accepted: {len(breaking)} breaking change(s); pass --allow-breaking to record them in the "
              "committed file anyway (the live gate, python -m app.contract live, still refuses them while a live "
              "release serves the old API).", file=sys.stderr)
        return EXIT_BREAKING
    _print_changes("accepted breaking changes", breaking)
    _print_changes("accepted non-breaking changes", [c for c in changes if not c.breaking])
    write_contract(path, document)
    print(f"wrote {_shown(path)}; commit it with the change that needed it.")
    if breaking:
        print("the breaking changes are recorded in the committed file only: the live gate (python -m app.contract "
              "live) compares the service with every live release and still fails the build while one serves the "
              "old API.")
    return EXIT_OK
