"""`python -m app.contract check|accept|diff|live`: the API contract gates (see app/README.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.contract.gate import CONTRACT, EXIT_BAD_INPUT, ContractError, accept, check, diff

DEFAULT_LIVE_PREFIX = "live/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.contract", description=__doc__)
    parser.add_argument("--contract", type=Path, default=CONTRACT, help="the committed contract (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="fail (exit 1) if the service breaks the committed contract")
    accept_parser = commands.add_parser("accept", help="write the service's document as the new contract")
    accept_parser.add_argument("--allow-breaking", action="store_true",
                               help="record even breaking changes in the committed file (the live gate still "
                                    "refuses them while a live release serves the old API)")
    diff_parser = commands.add_parser("diff", help="compare two contract files: exit 0 compatible, 1 breaking, "
                                                   "2 bad input")
    diff_parser.add_argument("old", type=Path, help="the contract clients rely on (e.g. the live release's)")
    diff_parser.add_argument("new", type=Path, help="the contract of the change")
    diff_parser.add_argument("--json", action="store_true", help="print the result as one JSON document")
    live_parser = commands.add_parser(
        "live", help="fail (exit 1) if the service breaks the API of a release that is live: every <stack>.zip "
                     "under the prefix of the release bucket; exit 2 if a record cannot be read")
    live_parser.add_argument("--bucket", required=True, help="the release bucket (the build passes RELEASE_BUCKET)")
    live_parser.add_argument("--prefix", default=DEFAULT_LIVE_PREFIX,
                             help="where each stack's live release is recorded (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "live":
            from app.contract.live import gate  # the AWS SDK, which only this command needs

            return gate(args.bucket, args.prefix)
        if args.command == "diff":
            return diff(args.old, args.new, args.json)
        if args.command == "check":
            return check(args.contract)
        return accept(args.contract, args.allow_breaking)
    except (ContractError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
