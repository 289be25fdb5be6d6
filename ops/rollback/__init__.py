"""`python -m ops rollback`: one command per layer. `rollback app` redeploys the last good app revision through
CodeDeploy; `rollback stack` re-applies the program and config of the stack's last good version."""

from __future__ import annotations

from ops.rollback import app, stack


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="roll back the app (CodeDeploy) or the stack (Pulumi)",
        description="Roll back one layer: `app` redeploys the last good revision, `stack` re-applies the last "
        "good stack version. Both print their plan first; --dry-run stops there.",
    )
    layers = parser.add_subparsers(dest="layer", metavar="LAYER", required=True)
    stack.add_parser(layers)
    app.add_parser(layers)
