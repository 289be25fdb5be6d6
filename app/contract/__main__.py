"""`python -m app.contract check|accept`: the API contract gate (see app/README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.contract.gate import CONTRACT, EXIT_BAD_INPUT, ContractError, accept, check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.contract", description=__doc__)
    parser.add_argument("--contract", type=Path, default=CONTRACT, help="the committed contract (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="fail (exit 1) if the service breaks the committed contract")
    accept_parser = commands.add_parser("accept", help="write the service's document as the new contract")
    accept_parser.add_argument("--allow-breaking", action="store_true", help="accept even breaking changes")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return check(args.contract)
        return accept(args.contract, args.allow_breaking)
    except (ContractError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
