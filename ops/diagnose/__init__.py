"""`python -m ops diagnose`: if the latest deployment is failing, why? Names the failing stage and action, the
cause class, the evidence and what changed since the last good run, and says what to do next.

Exit codes: 0 healthy, in progress or never run; 1 a failure was diagnosed; 2 could not tell."""

from __future__ import annotations

import argparse
import sys

from ops import pulumi_cli
from ops.argtypes import whole_number
from ops.diagnose.classify import diagnose
from ops.diagnose.collect import Aws, Denied, Handles, collect
from ops.diagnose.render import as_json, as_markdown, as_text, error_document
from ops.errors import OpsError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        description="Read the pipeline's latest execution and explain it: the failing stage and action, the cause "
        "class, the evidence (build phase and log tail, lifecycle events, alarms), what changed since the last "
        "success, and the next step. Exit 0: healthy, in progress or never run; 1: failure diagnosed; 2: could "
        "not tell.",
    )
    parser.add_argument("-s", "--stack", help="Pulumi stack whose outputs name the pipeline (e.g. dev, prod)")
    parser.add_argument("--pipeline", help="pipeline name (default: the stack output pipelineName)")
    parser.add_argument("--application", help="CodeDeploy application (default: the deployment's own)")
    parser.add_argument("--deployment-group", help="CodeDeploy deployment group (default: the deployment's own)")
    parser.add_argument("--alarm", action="append", default=[], metavar="NAME",
                        help="an extra alarm to check (repeatable); the deployment group's and the stage "
                        "conditions' alarms are always checked")
    parser.add_argument("--log-lines", type=whole_number(1, 10000), default=50,
                        help="build log lines to read (default 50)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON in the documented schema")
    output.add_argument("--markdown", action="store_true", help="print markdown for an incident or pull request")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, aws: Aws | None = None) -> int:
    try:
        handles = resolve_handles(args)
        diagnosis = diagnose(collect(aws or Aws(), handles), handles)
    except Denied as denied:
        error = OpsError(f"access denied: missing permission {denied.permission} (AWS said: {denied})", 2)
        return _fail(args, error)
    except OpsError as error:
        return _fail(args, error)
    if args.json:
        print(as_json(diagnosis))
    elif args.markdown:
        print(as_markdown(diagnosis))
    else:
        print(as_text(diagnosis))
    return diagnosis.exit_code


def _fail(args: argparse.Namespace, error: OpsError) -> int:
    """--json readers get a document with status `unknown` too; the message goes to stderr either way."""
    if args.json:
        print(error_document(args.pipeline, str(error)))
    raise error


def resolve_handles(args: argparse.Namespace) -> Handles:
    """Flags win; the Pulumi CLI is asked only for what the flags leave open (so --pipeline needs no Pulumi)."""
    outputs: dict = {}
    if not args.pipeline:
        if not args.stack:
            raise OpsError("name the pipeline: pass -s STACK (to read its outputs) or --pipeline NAME")
        print(f"reading the outputs of stack {args.stack}...", file=sys.stderr)
        outputs = pulumi_cli.stack_outputs(args.stack)
    alarms = list(args.alarm)
    extra = outputs.get("alarmNames") or []
    alarms += [str(name) for name in (extra if isinstance(extra, list) else [extra])]
    if outputs.get("compositeAlarmName"):
        alarms.append(str(outputs["compositeAlarmName"]))
    return Handles(
        pipeline=pulumi_cli.stack_handle(outputs, "pipelineName", args.pipeline, "--pipeline"),
        stack=args.stack,
        application=args.application or outputs.get("codedeployApplication"),
        deployment_group=args.deployment_group or outputs.get("codedeployDeploymentGroup"),
        alarms=alarms,
        log_lines=args.log_lines,
        dashboard_url=str(outputs["dashboardUrl"]) if outputs.get("dashboardUrl") else None,
    )
