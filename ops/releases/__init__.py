"""`python -m ops releases -s STACK [--limit N] [--json]`: the releases, newest first, and where each one went.

A building stack (dev) publishes each release that baked healthy in it as a new version of `releases/latest.zip` in
the release bucket, and every stack records the release it runs as `live/<stack>.zip` in that bucket. For the newest
N releases (default 20, 1-1000) the command shows:

    RELEASE       the commit (12)                      DIGEST     the image digest (12 hex)
    PUBLISHED     when the version was written (UTC)   FROM       the building stack / pipeline execution (8)
    LIVE IN       the stacks whose live record is this release (matched by image digest)
    IN <STACK>    the newest deployment of it in this stack's deployment group: Succeeded, Failed, Stopped,
                  InProgress (with CodeDeploy's own status when it says more: Queued, Baking, ...), and who made it
                  when not the pipeline (rollback, autoscaling, ops rollback app); — never deployed here
    ROLLBACKS     "rolled back (d-...)": a deployment of it that CodeDeploy rolled back, by that deployment;
                  "restored by d-... (rollback of d-...)": it was redeployed as CodeDeploy's rollback of another

The stack's newest N*5 deployments (at most 200) are matched to releases by the release.json in their revision zip.
A build deployed here that is not a published release (it failed before publishing, or is baking now) is its own
row, "not published". A version or revision whose release.json cannot be read is a row that says "unreadable:" and
why. Everything is read, nothing is changed. --json prints one document (ops/releases/schema.json).

The handles come from the stack outputs (releaseBucket, releaseKey, liveKey, codedeployApplication,
codedeployDeploymentGroup, region, promotedFrom); the flags win, and the Pulumi CLI is not run when they name the
bucket, the application and the group.

Exit codes: 0 listed; 2 could not read (AWS refused, throttled or did not answer; a handle names nothing; bad
arguments), in one line on stderr, a refusal naming the IAM action; 130/143/129 on SIGINT/SIGTERM/SIGHUP. Progress
goes to stderr only when it is a terminal.

The calls, and the IAM actions they need (all reads):
    release bucket    ListObjectVersions (s3:ListBucketVersions), GetObject with VersionId (s3:GetObjectVersion)
                      on the release key, ListObjectsV2 under live/ (s3:ListBucket), GetObject (s3:GetObject) on
                      live/*
    artifact bucket   GetObject of each deployment's revision (s3:GetObjectVersion when the revision names a
                      version, else s3:GetObject), and kms:Decrypt when the bucket's key is a customer managed one
    CodeDeploy        ListDeployments, BatchGetDeployments (codedeploy:ListDeployments, codedeploy:BatchGetDeployments
                      on the deployment group)"""

from __future__ import annotations

import argparse

from ops import interrupts, pulumi_cli
from ops.argtypes import stack_name, whole_number
from ops.errors import OpsError

RELEASE_KEY = "releases/latest.zip"  # components/release_store.py
LIVE_PREFIX = "live/"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "releases",
        description="The published releases, newest first: commit, image digest, when and from which pipeline "
        "execution each was published, which stacks run it (their live records), the result of its newest "
        "deployment in this stack and CodeDeploy's rollbacks of it. Builds deployed here that were never "
        "published are listed too. Exit 0: listed; 2: could not read.",
    )
    parser.add_argument("-s", "--stack", required=True, type=stack_name,
                        help="the stack whose deployments to show, and whose outputs name the rest (e.g. dev, prod)")
    parser.add_argument("--limit", type=whole_number(1, 1000), default=20,
                        help="show the newest N releases (1-1000, default 20); the newest N*5 deployments (at "
                        "most 200) are read")
    parser.add_argument("--json", action="store_true", help="print one JSON document in the documented schema")
    parser.add_argument("--release-bucket", help="the release bucket (default: the stack output releaseBucket)")
    parser.add_argument("--release-key", help=f"the release key (default: the stack output releaseKey, else "
                        f"{RELEASE_KEY})")
    parser.add_argument("--application", help="the CodeDeploy application (default: the stack output "
                        "codedeployApplication)")
    parser.add_argument("--deployment-group", help="the CodeDeploy deployment group (default: the stack output "
                        "codedeployDeploymentGroup)")
    parser.add_argument("--region", help="the AWS region (default: the stack output region, else AWS_REGION or "
                        "the profile's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ops.releases.collect import Progress, Reader, collect
    from ops.releases.render import as_json, as_text
    from ops.releases.view import document

    progress = Progress()
    try:
        reader = Reader(resolve_handles(args, progress), progress)
        try:
            findings = collect(reader)
        except KeyboardInterrupt as stop:
            if isinstance(stop, interrupts.Interrupted):
                stop.during = f"ops releases, reading {reader.doing}"
                stop.detail = "nothing was changed (it only reads)"
            raise
    finally:
        progress.clear()
    result = document(findings)
    print(as_json(result) if args.json else as_text(result))
    return 0


def resolve_handles(args: argparse.Namespace, progress=None):
    """Flags win; the stack outputs are read only when the bucket, the application or the group is not given."""
    from ops.releases.collect import Handles

    outputs: dict = {}
    if not (args.release_bucket and args.application and args.deployment_group):
        if progress is not None:
            progress(f"reading the outputs of stack {args.stack}...")
        outputs = pulumi_cli.stack_outputs(args.stack)
    short = args.stack.split("/")[-1]
    return Handles(
        stack=args.stack,
        bucket=pulumi_cli.stack_handle(outputs, "releaseBucket", args.release_bucket, "--release-bucket"),
        release_key=_text(args.release_key or outputs.get("releaseKey") or RELEASE_KEY, "--release-key"),
        live_key=_text(outputs.get("liveKey") or f"{LIVE_PREFIX}{short}.zip", "the stack output liveKey"),
        application=pulumi_cli.stack_handle(outputs, "codedeployApplication", args.application, "--application"),
        group=pulumi_cli.stack_handle(outputs, "codedeployDeploymentGroup", args.deployment_group,
                                      "--deployment-group"),
        region=args.region or (str(outputs["region"]) if outputs.get("region") else None),
        promoted_from=str(outputs["promotedFrom"]) if outputs.get("promotedFrom") else None,
        limit=args.limit,
    )


def _text(value, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OpsError(f"{source} is not an S3 key: {value!r}")
    return value

