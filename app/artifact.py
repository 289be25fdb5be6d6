"""`python -m app.artifact`: write the release's records into the CodeDeploy bundle, after the image is pushed.

The bundle is built once, by the stack that builds (dev), and the same bundle is deployed by every stack it is
promoted to, so nothing in it depends on the environment it runs in (the instances' own settings are in
/etc/app/deploy.env, written by their boot script):

- image.json: {repository, tag, digest, uri}, where uri is repository@digest: hooks pull by digest only.
- release.json: what the release is and where it came from, for audits and for the live contract gate:
  {schema, commit, image, stack, buildId, pipelineExecutionId, builtAt, contract, drillFailureRate}. The drill rate
  belongs to the release, not to an environment: rolling a drill release back must end the drill.
- contract/openapi.json: the OpenAPI document this release serves (what `python -m app.contract check` generates),
  which `python -m app.contract live` compares later builds with while this release is live.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.contract.gate import service_document, write_contract
from app.settings import SettingsError, parse_drill_rate

REPOSITORY_URI = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*$")
GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# A Pulumi stack name (letters, digits, hyphens, underscores, periods), starting with a letter or digit.
STACK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# CodeBuild's build ID is <project name>:<build UUID>; the project name pattern is CodeBuild's (ProjectName).
BUILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,149}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PIPELINE_EXECUTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # CodePipeline's
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
RELEASE_SCHEMA = 1
RELEASE_RECORD = "release.json"
CONTRACT_MEMBER = "contract/openapi.json"


class ArtifactError(ValueError):
    """An input the bundle cannot be written with; the message names it."""


def _require(pattern: re.Pattern[str], value: str, what: str, example: str) -> str:
    if not pattern.match(value):
        raise ArtifactError(f"{what} must look like {example}, got {value!r}.")
    return value


def image_reference(repository_uri: str, tag: str, digest: str) -> dict[str, str]:
    _require(REPOSITORY_URI, repository_uri, "the repository URI", "123456789012.dkr.ecr.us-east-1.amazonaws.com/app")
    _require(GIT_SHA, tag, "the image tag (the git commit)", "a 40-character hex git sha")
    _require(DIGEST, digest, "the image digest", "sha256:<64 hex digits>")
    return {"repository": repository_uri, "tag": tag, "digest": digest, "uri": f"{repository_uri}@{digest}"}


def parse_built_at(value: str) -> str:
    try:
        datetime.strptime(value, TIMESTAMP_FORMAT)
    except ValueError:
        raise ArtifactError(f"the build time (--built-at) must be UTC like 2026-11-26T12:00:00Z, "
                            f"got {value!r}.") from None
    return value


def drill_rate(value: str) -> float:
    try:
        return parse_drill_rate(value)
    except SettingsError as err:
        raise ArtifactError(str(err)) from None


def release_record(image: dict[str, str], stack: str, build_id: str, pipeline_execution_id: str,
                   built_at: str, drill_failure_rate: str = "0") -> dict[str, Any]:
    """release.json: the commit (the image's tag), the image by digest, which build of which stack made it, and the
    share of API requests it fails on purpose (the rollback drill; 0 for a real release)."""
    _require(STACK, stack, "the building stack (DELIVERY_STACK)", "dev (letters, digits, '-', '_', '.')")
    _require(BUILD_ID, build_id, "the build ID (CODEBUILD_BUILD_ID)", "<project>:<build uuid>")
    if pipeline_execution_id:  # empty when the build was started outside a pipeline
        _require(PIPELINE_EXECUTION_ID, pipeline_execution_id, "the pipeline execution ID (PIPELINE_EXECUTION_ID)",
                 "a lowercase UUID, or empty outside a pipeline")
    return {"schema": RELEASE_SCHEMA, "commit": image["tag"], "image": image, "stack": stack, "buildId": build_id,
            "pipelineExecutionId": pipeline_execution_id, "builtAt": parse_built_at(built_at),
            "contract": CONTRACT_MEMBER, "drillFailureRate": drill_rate(drill_failure_rate)}


def write_bundle_inputs(out: Path, image: dict[str, str], release: dict[str, Any], contract: dict[str, Any]) -> None:
    (out / Path(CONTRACT_MEMBER).parent).mkdir(parents=True, exist_ok=True)
    (out / "image.json").write_text(json.dumps(image, indent=2) + "\n", encoding="utf-8")
    (out / RELEASE_RECORD).write_text(json.dumps(release, indent=2) + "\n", encoding="utf-8")
    write_contract(out / CONTRACT_MEMBER, contract)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.artifact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the bundle directory")
    parser.add_argument("--repository-uri", required=True, help="the ECR repository the image was pushed to")
    parser.add_argument("--commit", required=True, help="the git commit: the release's, and the image's tag")
    parser.add_argument("--digest", required=True, help="the digest the registry holds for the tag")
    parser.add_argument("--stack", required=True, help="the stack whose pipeline builds the release")
    parser.add_argument("--build-id", required=True, help="CodeBuild's ID of this build")
    parser.add_argument("--pipeline-execution-id", default="",
                        help="the pipeline execution that started the build (empty outside a pipeline)")
    parser.add_argument("--built-at", default=None, help="UTC, YYYY-MM-DDTHH:MM:SSZ (default: now)")
    parser.add_argument("--drill-failure-rate", default="0",
                        help="the rollback drill: the share of API requests this release fails (default: 0, off)")
    args = parser.parse_args(argv)
    built_at = args.built_at if args.built_at is not None else datetime.now(UTC).strftime(TIMESTAMP_FORMAT)
    try:
        image = image_reference(args.repository_uri, args.commit, args.digest)
        release = release_record(image, args.stack, args.build_id, args.pipeline_execution_id, built_at,
                                 args.drill_failure_rate)
    except ArtifactError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        write_bundle_inputs(args.out, image, release, service_document())
    except OSError as err:
        print(f"error: cannot write the bundle's records into {args.out}: {err.strerror or err}.", file=sys.stderr)
        return 2
    rate = release["drillFailureRate"]
    drill = f"; a drill: it fails {rate:g} of API requests" if rate else ""
    print(f"wrote {args.out / 'image.json'} ({image['uri']}), {args.out / RELEASE_RECORD} (commit {image['tag']}, "
          f"built by {release['stack']}{drill}) and {args.out / CONTRACT_MEMBER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
