"""`python -m ops rollback`: one command per layer. `rollback app` redeploys the last good app revision through
CodeDeploy; `rollback stack` re-applies the program and config of the stack's last good version. A layer's module
is imported only when that layer runs (or its --help is asked): `rollback stack` never loads boto3."""

from __future__ import annotations

from ops.cli import Command, add_commands

# In the order `rollback --help` lists them.
LAYERS: dict[str, Command] = {
    "stack": Command("re-apply the program and config of the stack's last good version", "ops.rollback.stack"),
    "app": Command("redeploy the last good app revision through CodeDeploy", "ops.rollback.app"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rollback",
        description="Roll back one layer: `app` redeploys the last good revision, `stack` re-applies the last "
        "good stack version. Both print their plan first; --dry-run stops there.",
    )
    add_commands(parser, LAYERS, dest="layer", metavar="LAYER", required=True)
