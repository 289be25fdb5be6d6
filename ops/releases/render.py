"""The two ways to print the releases document: a table for a terminal, and JSON in the documented schema
(schema.json). Text that came from S3 or CodeDeploy is printed with its control characters escaped."""

from __future__ import annotations

import json
from pathlib import Path

from ops.errors import printable

SCHEMA_PATH = Path(__file__).with_name("schema.json")
NONE = "—"
KINDS = {"not_published": "not published", "unlisted": "not found"}


def as_json(document: dict) -> str:
    return json.dumps(document, indent=2)


def as_text(document: dict) -> str:
    stack = document["stack"]
    promoted = f" (promoted from {_cell(document['promotedFrom'], 80)})" if document["promotedFrom"] else ""
    rows = document["releases"]
    published = sum(1 for row in rows if row["publishedAt"] and not row["beyondLimit"])
    lines = [
        f"Stack {_cell(stack, 100)}{promoted}: releases in s3://{_cell(document['releaseBucket'], 100)}/"
        f"{_cell(document['releaseKey'], 200)}, deployments of {_cell(document['application'], 100)}/"
        f"{_cell(document['deploymentGroup'], 100)}",
        f"The newest {published} releases" + (" (older ones exist: --limit N shows more)" if document["moreReleases"]
                                              else "")
        + f"; the newest {document['deploymentsRead']} of {document['deploymentsListed']} deployments read",
        "",
    ]
    if rows:
        lines += _table(rows, stack.split("/")[-1])
    else:
        lines.append("no releases published yet, and no deployments here")
    if document["notes"]:
        lines += ["", "notes:"] + [f"  - {printable(note)}" for note in document["notes"]]
    return "\n".join(lines)


def _table(rows: list[dict], stack: str) -> list[str]:
    header = ["RELEASE", "DIGEST", "PUBLISHED (UTC)", "FROM", "LIVE IN", f"IN {_cell(stack, 40).upper()}",
              "ROLLBACKS"]
    cells = [header] + [_cells(row) for row in rows]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header) - 1)]
    lines = []
    for index, line in enumerate(cells):
        lines.append("  ".join([*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)),
                                line[-1]]).rstrip())
        row = rows[index - 1] if index else None
        if row and row["error"]:
            where = [row["location"]] if row["location"] else []
            where += [f"deployment {_cell(d['deploymentId'], 64)}" for d in row["deployments"][:3]]
            if len(row["deployments"]) > 3:
                where.append(f"and {len(row['deployments']) - 3} more")
            lines.append(f"    unreadable: {_cell(row['error'], 300)}" + (f" [{'; '.join(where)}]" if where else ""))
    return lines


def _cells(row: dict) -> list[str]:
    release = "unreadable" if row["kind"] == "unreadable" else row["commit"][:12]
    digest = row["digest"].removeprefix("sha256:")[:12] if row["digest"] else NONE
    published = row["publishedAt"][:16].replace("T", " ") if row["publishedAt"] else KINDS.get(row["kind"], NONE)
    built = row["builtBy"]
    if built:
        execution = built["pipelineExecutionId"]
        source = _cell(built["stack"], 40) + (f"/{_cell(execution[:8], 8)}" if execution else "")
    else:
        source = NONE
    live = ",".join(_cell(stack, 40) for stack in row["liveIn"]) or NONE
    return [release, digest, published, source, live, _here(row), _rollbacks(row)]


def _here(row: dict) -> str:
    here = row["here"]
    if here is None:
        return NONE
    extra = [here["status"]] if here["status"] and here["status"] != here["result"] else []
    extra += [here["by"]] if here["by"] else []
    return _cell(here["result"], 20) + (f" ({_cell(', '.join(extra), 60)})" if extra else "")


def _rollbacks(row: dict) -> str:
    said = []
    for rollback in row["rollbacks"]:
        if rollback["kind"] == "rolledBack":
            said.append(f"rolled back ({_cell(rollback['rollbackDeploymentId'], 64)})")
        else:
            said.append(f"restored by {_cell(rollback['deploymentId'], 64)} (rollback of "
                        f"{_cell(rollback['rollbackTriggeringDeploymentId'], 64)})")
    return "; ".join(dict.fromkeys(said)) or NONE


def _cell(text: str | None, limit: int) -> str:
    """One table cell: escaped, on one line, cut to `limit` characters."""
    shown = printable(" ".join(str(text or "").split()) if text else "")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
