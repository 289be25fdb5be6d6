"""`python -m app.artifact`: write the deployment's inputs into the CodeDeploy bundle, after the image is pushed.

- image.json: {repository, tag, digest, uri}, where uri is repository@digest: hooks pull by digest only.
- deploy.env: the settings the hooks need on the instance (region, port, log group, drill rate, bake minutes), as
  shell assignments that `source` reads. CodeDeploy hooks do not see CodeBuild's environment, so it travels here.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

from app.settings import SettingsError, parse_drill_rate, parse_port

REPOSITORY_URI = re.compile(r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*$")
GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
LOG_GROUP = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")
MAX_BAKE_MINUTES = 55  # the AfterAllowTraffic hook that bakes must end within AWS's 3600 s hook limit


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


def parse_bake_minutes(value: str) -> str:
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_BAKE_MINUTES:
        raise ArtifactError(f"the bake time (BAKE_MINUTES) must be whole minutes from 1 to {MAX_BAKE_MINUTES}, "
                            f"got {value!r}.")
    return str(int(text))


def deploy_settings(region: str, port: str, log_group: str, drill_failure_rate: str,
                    bake_minutes: str = "30") -> dict[str, str]:
    _require(REGION, region, "the AWS region", "us-east-1")
    _require(LOG_GROUP, log_group, "the log group (APP_LOG_GROUP)", "/app/containers")
    try:
        parse_port(port)
        parse_drill_rate(drill_failure_rate)
    except SettingsError as err:
        raise ArtifactError(str(err)) from None
    return {"AWS_REGION": region, "APP_PORT": port.strip(), "APP_LOG_GROUP": log_group,
            "DRILL_FAILURE_RATE": drill_failure_rate.strip() or "0", "BAKE_MINUTES": parse_bake_minutes(bake_minutes)}


def write_bundle_inputs(out: Path, image: dict[str, str], settings: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "image.json").write_text(json.dumps(image, indent=2) + "\n", encoding="utf-8")
    lines = [f"{key}={shlex.quote(value)}" for key, value in settings.items()]
    (out / "deploy.env").write_text("# Written by app/artifact.py at build time; read by the hooks.\n"
                                    + "\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.artifact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the bundle directory")
    parser.add_argument("--repository-uri", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--digest", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--port", default="8080")
    parser.add_argument("--log-group", required=True)
    parser.add_argument("--drill-failure-rate", default="0")
    parser.add_argument("--bake-minutes", default="30", help="how long the last wave bakes under the alarms")
    args = parser.parse_args(argv)
    try:
        image = image_reference(args.repository_uri, args.tag, args.digest)
        settings = deploy_settings(args.region, args.port, args.log_group, args.drill_failure_rate,
                                   args.bake_minutes)
    except ArtifactError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_bundle_inputs(args.out, image, settings)
    print(f"wrote {args.out / 'image.json'} ({image['uri']}) and {args.out / 'deploy.env'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
