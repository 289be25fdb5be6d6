"""The world components/release_publish.py runs in, on a moto server: the building stack's immutable ECR repository,
its release bucket (versioned, as components/release_store.py makes it: each deploy of a stack writes a new version
of its live record, so the versions are the stack's deployment history), the bundle CodeBuild extracts, and a way to
run the script as the Publish stage does.

Builds are pushed as AWS computes them: the digest is the sha256 of the manifest bytes sent (moto would take any
digest on trust). moto keeps imagePushedAt in whole seconds (ECR keeps fractions), so a build that must be newer than
the one before is pushed `later`, in the next second."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import boto3

from components import release_publish

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
REPOSITORY = "delivery-dev"
BUCKET = "delivery-dev-releases"
STACK = "dev"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class Build:
    name: str
    commit: str
    manifest: str

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest.encode()).hexdigest()

    @property
    def release_tag(self) -> str:
        return f"release-{self.commit}"


def build_of(name: str) -> Build:
    """The image a commit builds to: a Docker image manifest V2 schema 2, as `docker push` sends it."""

    def blob(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind} of {name}".encode()).hexdigest()

    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": DOCKER_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
                   "digest": blob("config")},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 3370706,
                    "digest": blob("layer")}],
    }, indent=3)
    return Build(name, hashlib.sha1(name.encode()).hexdigest(), manifest)


def release_document(build: Build, stack: str = STACK) -> dict:
    """release.json as the build stage writes it into the bundle."""
    repository = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
    return {"schema": 1, "commit": build.commit,
            "image": {"repository": repository, "tag": build.commit, "digest": build.digest,
                      "uri": f"{repository}@{build.digest}"},
            "stack": stack, "buildId": f"delivery-dev-build:{build.name}", "pipelineExecutionId": f"exec-{build.name}",
            "builtAt": "2026-12-01T10:00:00Z", "contract": "contract/openapi.json", "drillFailureRate": 0}


def bundle_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def bundle_of(build: Build) -> dict[str, str]:
    return {"release.json": json.dumps(release_document(build)), "appspec.yml": "version: 0.0\nos: linux\n"}


def settings_environment(keep: int = 10) -> dict[str, str]:
    """What the CodeBuild project sets (components/release_publisher.py) and CodeBuild itself sets."""
    return {"REPOSITORY_NAME": REPOSITORY, "RELEASE_BUCKET": BUCKET, "KEEP_RELEASES": str(keep),
            "DELIVERY_STACK": STACK, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}


@dataclass(frozen=True)
class Outcome:
    code: int
    out: list[str]
    err: list[str]


class Delivery:
    """One building stack's AWS side, and its Publish stage."""

    def __init__(self, workdir: Path, capsys):
        self.workdir, self.capsys = workdir, capsys
        self.ecr = boto3.client("ecr", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    def build(self, name: str, later: bool = False) -> Build:
        """The build stage: push the image once, tagged with its commit."""
        if later:
            time.sleep(int(time.time()) + 1.02 - time.time())  # into the next whole second
        build = build_of(name)
        self.tag(build, build.commit)
        return build

    def published(self, name: str, later: bool = False) -> Build:
        """A build an earlier Publish stage tagged release-<commit>."""
        build = self.build(name, later)
        self.tag(build, build.release_tag)
        return build

    def tag(self, build: Build, tag: str) -> None:
        self.ecr.put_image(repositoryName=REPOSITORY, imageManifest=build.manifest, imageTag=tag,
                           imageDigest=build.digest)

    def tags(self, build: Build) -> set[str]:
        details = self.ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageDigest": build.digest}])
        return set(details["imageDetails"][0].get("imageTags", []))

    def runs(self, stack: str, build: Build) -> str:
        """The live record a stack writes after its deploy succeeded: the bundle it runs, as built by this stack.
        Another version of live/<stack>.zip; its VersionId."""
        return self.record(stack, bundle_zip(bundle_of(build)))

    def deployed(self, stack: str, *builds: Build) -> list[str]:
        """A stack's deployment history, oldest first: one version of its live record per deploy; their VersionIds."""
        return [self.runs(stack, build) for build in builds]

    def record(self, stack: str, body: bytes) -> str:
        return self.s3.put_object(Bucket=BUCKET, Key=f"live/{stack}.zip", Body=body)["VersionId"]

    def tear_down(self, stack: str) -> None:
        """What deleting a stack's live record does in a versioned bucket: a delete marker becomes its newest
        version, and the older versions stay."""
        self.s3.delete_object(Bucket=BUCKET, Key=f"live/{stack}.zip")

    def bundle(self, build: Build, document: dict | None = None) -> Path:
        """The bundle CodeBuild extracts into CODEBUILD_SRC_DIR."""
        directory = self.workdir / f"bundle-{build.name}"
        directory.mkdir(exist_ok=True)
        for name, text in bundle_of(build).items():
            (directory / name).write_text(text)
        if document is not None:
            (directory / "release.json").write_text(json.dumps(document))
        return directory

    def publish(self, build: Build, keep: int = 10, bundle: Path | None = None, **environ: str) -> Outcome:
        """The Publish stage's CodeBuild action, run in this process (the subprocess test runs it as CodeBuild does)."""
        self.capsys.readouterr()
        settings = {**settings_environment(keep), **environ}
        code = release_publish.main(["--bundle", str(bundle or self.bundle(build))], settings)
        out, err = self.capsys.readouterr()
        return Outcome(code, out.splitlines(), err.splitlines())
