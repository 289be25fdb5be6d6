"""Publish a release that baked healthy: check that its image is in the repository, refuse to publish it if ECR's
lifecycle would then expire an image a downstream stack runs or would roll back to, and tag the image
`release-<commit>`, which the lifecycle keeps as a rollback target.

The building stack's pipeline runs this in its Publish stage (CodeBuild, components/release_publisher.py embeds this
file's text in the buildspec), before the S3 deploy actions write the bundle to `releases/latest.zip` (the downstream
pipeline's source) and `live/<stack>.zip` in the release bucket. A non-zero exit fails the stage: nothing is promoted.

Contract
    python3 release_publish.py [--bundle DIR]
    DIR (default: the current directory, which in CodeBuild is CODEBUILD_SRC_DIR) is the extracted bundle. Only its
    release.json is read: {"schema": 1, "commit": <40 hex>, "image": {"repository":
    "<account>.dkr.ecr.<region>.amazonaws.com/<name>", "tag": <commit>, "digest": "sha256:<64 hex>",
    "uri": "<repository>@<digest>"}, "stack": <this stack>, "drillFailureRate": <0 to 1>, ...}; other fields are
    not read. A drill release (drillFailureRate above 0) is refused: it fails requests on purpose.
    Environment: REPOSITORY_NAME (the ECR repository, which must hold the image), RELEASE_BUCKET (versioned; holds
    live/<stack>.zip for each stack, the bundle it runs: every successful deploy of the stack writes a new version, so
    the record's versions are the stack's deployment history), KEEP_RELEASES (1-1000, the release images the lifecycle
    keeps), DELIVERY_STACK (this stack: its own live record is not a downstream's), AWS_REGION or AWS_DEFAULT_REGION
    (the image's region). AWS credentials and AWS_ENDPOINT_URL are boto3's own.

Steps (one line each on stdout, then a summary line; a refusal or error is one line on stderr, never a traceback)
    1. release.json is valid and names an image in REPOSITORY_NAME in this region.
    2. The image is in the repository: DescribeImages by digest (ImageNotFoundException: refused).
    3. Interlock. ECR keeps the KEEP_RELEASES images tagged `release-*` that were pushed last: imageCountMoreThan
       sorts by push time, and tagging an image later does not change its push time. After this publish the release
       images are today's plus this one (counted once if it already has its tag). An image is kept if fewer than
       KEEP_RELEASES of the others were pushed at the same time or later (a tie counts against it).
       What is protected: for every downstream stack (each live/<stack>.zip but DELIVERY_STACK's own), the images
       named by the newest PROTECTED_VERSIONS (2) versions of its record, listed with ListObjectVersions (prefix
       live/) and read with GetObject by VersionId. The newest is the release the stack runs (its "running" release);
       the one before is the release it ran before (its "previous" release): CodeDeploy's automatic rollback and
       `ops rollback app` redeploy it, and after such a rollback the stack runs it while its record still names the
       newer one. Delete markers are skipped, and older versions are ignored; a record whose newest version is a
       delete marker (the stack was torn down) protects nothing. A previous version that S3's lifecycle already
       deleted (the release bucket expires noncurrent versions) is not listed, so it protects nothing either.
       Refused unless this release and every running release are kept, and every previous release that is still a
       release image is kept. A version that cannot be read is refused (naming the stack and the version), and so is
       a running release that is not a release image. A previous release that is no longer a release image (it
       expired long ago, say) is a note on stdout, not a refusal: that stack can no longer roll back to it, and no
       publish could change that. No live records: nothing to protect.
    4. Tag: BatchGetImage the manifest by digest, PutImage it with imageTag release-<commit> and imageDigest (ECR
       checks the manifest still hashes to it). If the image already has the tag (a rerun), there is nothing to
       write. The tag on another image is refused. PutImage's "already exists" answers are checked by reading the
       tag back, not trusted by code (ImageAlreadyExistsException: this image already has the tag;
       ImageTagAlreadyExistsException: an immutable tag names another image).

Exit codes
    0  published, or already published (a rerun changes nothing)
    1  refused: the image is missing, publishing would let ECR expire an image a downstream stack runs or would roll
       back to (or this release), a version of a live record cannot be read, a downstream's running release is not a
       release image, or release-<commit> names another image
    2  invalid input: release.json, the environment, the arguments, or no boto3
    3  an AWS call failed: denied (the line names the IAM action), unreachable, timed out, or another AWS error

IAM (the CodeBuild role): ecr:DescribeImages, ecr:BatchGetImage, ecr:PutImage on
arn:aws:ecr:<region>:<account>:repository/<REPOSITORY_NAME>; s3:ListBucketVersions on arn:aws:s3:::<RELEASE_BUCKET>
(ListObjectVersions with prefix live/, so an s3:prefix condition of live/* allows it), s3:GetObjectVersion on
arn:aws:s3:::<RELEASE_BUCKET>/live/* (every GetObject here names a VersionId). These replace s3:ListBucket and
s3:GetObject, which the publisher no longer uses: ListObjectVersions needs s3:ListBucketVersions, and GetObject with a
VersionId needs s3:GetObjectVersion, not s3:GetObject.

AWS behaviour relied on
    - Lifecycle evaluation: "With countType = imageCountMoreThan, images are sorted from youngest to oldest based on
      pushed_at_time and then all images greater than the specified count are expired."
      https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
    - Adding a tag does not make an image younger: no AWS page says so; a request on AWS's roadmap,
      https://github.com/aws/containers-roadmap/issues/2746, asks for it because re-tagged images "are expired solely
      based on their original manifest push time".
    - Retagging is BatchGetImage, then PutImage with the manifest and a new tag:
      https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html
    - PutImage errors (ImageAlreadyExistsException, ImageTagAlreadyExistsException, ImageDigestDoesNotMatchException):
      https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html
    - ListObjectVersions lists keys in order and a key's versions "in the order they were stored, with the most
      recently stored returned first" (example 2); versions and delete markers come in separate lists, and IsLatest
      marks the current entry of a key. It needs s3:ListBucketVersions.
      https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    - GetObject with a versionId needs s3:GetObjectVersion ("The s3:GetObject permission is not required in this
      scenario"): https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html

Standalone: the standard library and boto3 only, no imports from the project. Tests:
tests/components/test_release_publish.py, on moto. moto never applies lifecycle policies (it stores them and expires
nothing), so the tests check the publisher's model of ECR's ordering (docs/aws-behaviour.md, B30: push time, ties
against the image), not ECR itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )
except ImportError:  # main says so in one line
    boto3 = None

PUBLISHED, REFUSED, INVALID, AWS_FAILED = 0, 1, 2, 3
LABELS = {REFUSED: "refused", INVALID: "error", AWS_FAILED: "error"}
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 5, 10, 3
RELEASE_PREFIX = "release-"
MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
TAG_EXISTS = ("ImageAlreadyExistsException", "ImageTagAlreadyExistsException")
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
# The IAM action behind each call, for a denial whose message does not name it (S3's plain "Access Denied"). Every
# GetObject here names a VersionId, which makes it s3:GetObjectVersion.
IAM_ACTIONS = {"DescribeImages": "ecr:DescribeImages", "BatchGetImage": "ecr:BatchGetImage",
               "PutImage": "ecr:PutImage", "ListObjectVersions": "s3:ListBucketVersions",
               "GetObject": "s3:GetObjectVersion"}
NOT_AUTHORIZED = re.compile(r"not authorized to perform:?\s+([\w-]+:\w+)")

COMMIT = re.compile(r"[0-9a-f]{40}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE_REPOSITORY = re.compile(r"([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)")
REPOSITORY_NAME = re.compile(r"(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
REGION_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
KEEP_NUMBER = re.compile(r"[0-9]{1,4}")
LIVE_PREFIX = "live/"
LIVE_KEY = re.compile(r"live/([^/]+)\.zip")
PROTECTED_VERSIONS = 2  # of each downstream's live record: the release it runs and the one it would roll back to
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_RECORD_BYTES = 1 << 20


class Stop(Exception):
    """Why the run ends early: an exit code and one line per problem."""

    def __init__(self, code: int, *lines: str):
        super().__init__(*lines)
        self.code, self.lines = code, lines


@dataclass(frozen=True)
class Settings:
    repository: str
    bucket: str
    keep: int
    stack: str
    region: str


@dataclass(frozen=True)
class Release:
    commit: str
    digest: str
    registry_id: str

    @property
    def tag(self) -> str:
        return RELEASE_PREFIX + self.commit


@dataclass(frozen=True)
class Image:
    digest: str
    pushed_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveRecord:
    """One version of live/<stack>.zip: the release the stack ran after one deploy, or why that cannot be read.
    previous: False for the newest version (the release the stack runs), True for the one before it (its rollback
    target)."""

    stack: str
    key: str
    version: str
    previous: bool = False
    commit: str = ""
    digest: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Downstream:
    """A downstream stack's live record: its newest PROTECTED_VERSIONS versions, newest first; none when the newest
    version is a delete marker (the stack was torn down)."""

    stack: str
    key: str
    records: tuple[LiveRecord, ...]


@dataclass(frozen=True)
class Verdict:
    """The interlock's answer: what is kept (stdout, "interlock: ..."), what no publish can keep any more (stdout,
    "note: ..."), and the problems, one refusal line each."""

    lines: list[str]
    notes: list[str]
    problems: list[str]


def main(argv: list[str] | None = None, environ=os.environ) -> int:
    args = parse_args(argv)
    if boto3 is None:
        return report(Stop(INVALID, "boto3 is not installed; install it (python3 -m pip install boto3) first"))
    try:
        settings = read_settings(environ)
        release = read_release(Path(args.bundle), settings)
        return publish(*clients(settings.region), settings, release)
    except Stop as stop:
        return report(stop)
    except ClientError as error:
        return report(Stop(AWS_FAILED, client_error_line(error)))
    except BotoCoreError as error:
        return report(Stop(AWS_FAILED, fault_line(error)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="release_publish.py", description="Tag a release that baked healthy.")
    parser.add_argument("--bundle", default=".", help="the extracted bundle (default: the current directory)")
    return parser.parse_args(argv)


def report(stop: Stop) -> int:
    for line in stop.lines:
        print(f"{LABELS[stop.code]}: {line}", file=sys.stderr, flush=True)
    return stop.code


def say(line: str) -> None:
    print(line, flush=True)


def publish(ecr, s3, settings: Settings, release: Release) -> int:
    say(f"release: {release.commit[:12]} of stack {settings.stack}, image {release.digest}")
    new = find_image(ecr, settings, release)
    say(f"image: in {settings.repository}, pushed {utc(new.pushed_at)}")
    releases = release_images(ecr, settings, release)
    downstreams = live_histories(s3, settings)
    verdict = interlock(settings, new, releases, downstreams)
    for line in [] if verdict.problems else verdict.lines:
        say(f"interlock: {line}")
    for note in verdict.notes:
        say(f"note: {note}")
    if verdict.problems:
        raise Stop(REFUSED, *verdict.problems)
    added = tag_release(ecr, settings, release, releases)
    say(f"tag: {release.tag} {'added to' if added else 'already on'} {short(release.digest)}")
    kept_stacks = ", ".join(downstream.stack for downstream in downstreams if downstream.records) or "none"
    say(f"published: {settings.repository}@{release.digest} is {release.tag}; downstream stacks kept: {kept_stacks}")
    return PUBLISHED


# Step 1: the inputs.

def read_settings(environ) -> Settings:
    repository = setting(environ, "REPOSITORY_NAME", REPOSITORY_NAME, "an ECR repository name")
    bucket = setting(environ, "RELEASE_BUCKET", BUCKET_NAME, "an S3 bucket name")
    keep = int(setting(environ, "KEEP_RELEASES", KEEP_NUMBER, "a whole number from 1 to 1000"))
    if not 1 <= keep <= 1000:
        raise Stop(INVALID, f"KEEP_RELEASES must be a whole number from 1 to 1000, got {keep}")
    stack = setting(environ, "DELIVERY_STACK", STACK_NAME, "this stack's name")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
    if not REGION_NAME.fullmatch(region):
        raise Stop(INVALID, f"AWS_REGION (or AWS_DEFAULT_REGION) must name a region such as eu-west-1, "
                            f"got {shown(region)}")
    return Settings(repository, bucket, keep, stack, region)


def setting(environ, name: str, pattern: re.Pattern, what: str) -> str:
    value = environ.get(name, "")
    if not pattern.fullmatch(value):
        raise Stop(INVALID, f"{name} must be {what}, got {shown(value)}")
    return value


def read_release(bundle: Path, settings: Settings) -> Release:
    path = bundle / "release.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Stop(INVALID, f"no release.json in {bundle.resolve()}: run this in the extracted bundle "
                            "(CODEBUILD_SRC_DIR) or pass --bundle") from None
    except json.JSONDecodeError as error:
        raise Stop(INVALID, f"release.json is not JSON: {error.msg} at line {error.lineno} "
                            f"column {error.colno}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise Stop(INVALID, f"cannot read {path}: {shown(str(error))}") from None
    return validate_release(data, settings)


def validate_release(data, settings: Settings) -> Release:
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise invalid("it must be an object with \"schema\": 1")
    commit = required(data, "commit", COMMIT, "a 40-hex-digit git commit")
    image = data.get("image")
    if not isinstance(image, dict):
        raise invalid("\"image\" must be an object")
    digest = required(image, "digest", DIGEST, "sha256:<64 hex digits>", "image.")
    repository = required(image, "repository", IMAGE_REPOSITORY, "<account>.dkr.ecr.<region>.amazonaws.com/<name>",
                          "image.")
    account, region, name = IMAGE_REPOSITORY.fullmatch(repository).groups()
    if name != settings.repository:
        raise invalid(f"image.repository is {shown(name)}, not REPOSITORY_NAME {settings.repository}")
    if region != settings.region:
        raise invalid(f"image.repository is in {region}, but this runs in {settings.region}")
    if image.get("tag") != commit or image.get("uri") != f"{repository}@{digest}":
        raise invalid("image.tag must be the commit and image.uri must be <image.repository>@<image.digest>")
    if data.get("stack") != settings.stack:
        raise invalid(f"stack is {shown(data.get('stack'))}, but DELIVERY_STACK is {settings.stack}")
    refuse_a_drill(data.get("drillFailureRate"))
    return Release(commit, digest, account)


def refuse_a_drill(rate) -> None:
    """A drill release fails requests on purpose so that its own bake fails; one whose failures the alarms did not
    catch must still never reach another stack."""
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise invalid(f"drillFailureRate must be a number from 0 to 1, got {shown(rate)}")
    if rate > 0:
        raise Stop(REFUSED, f"this is a drill release (it fails {rate:g} of API requests on purpose), and a drill "
                            "release is never published; set delivery:drillFailureRate back to 0 and release again")


def required(data: dict, key: str, pattern: re.Pattern, what: str, prefix: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise invalid(f"{prefix}{key} must be {what}, got {shown(value)}")
    return value


def invalid(problem: str) -> Stop:
    return Stop(INVALID, f"release.json: {problem}")


# Step 2 and the release images: ECR.

def clients(region: str):
    config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                    retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
    session = boto3.session.Session(region_name=region)
    return session.client("ecr", config=config), session.client("s3", config=config)


def find_image(ecr, settings: Settings, release: Release) -> Image:
    try:
        found = ecr.describe_images(registryId=release.registry_id, repositoryName=settings.repository,
                                    imageIds=[{"imageDigest": release.digest}])["imageDetails"]
    except ClientError as error:
        if error_code(error) != "ImageNotFoundException":
            raise
        found = []
    if not found:
        raise Stop(REFUSED, f"image {release.digest} is not in {settings.repository} (ImageNotFoundException): it "
                            "expired or was pushed elsewhere, so this release cannot be published; rebuild the commit")
    return image_of(found[0])


def release_images(ecr, settings: Settings, release: Release) -> list[Image]:
    """Every image with a release-* tag. ECR filters tagged images only; the prefix is matched here."""
    pages = ecr.get_paginator("describe_images").paginate(
        registryId=release.registry_id, repositoryName=settings.repository, filter={"tagStatus": "TAGGED"})
    images = [image_of(detail) for page in pages for detail in page.get("imageDetails", [])]
    return [image for image in images if any(tag.startswith(RELEASE_PREFIX) for tag in image.tags)]


def image_of(detail: dict) -> Image:
    return Image(detail["imageDigest"], detail["imagePushedAt"], tuple(detail.get("imageTags", ())))


# Step 3: the interlock.

def live_histories(s3, settings: Settings) -> list[Downstream]:
    """Every other stack's live/<stack>.zip: its newest PROTECTED_VERSIONS versions, read. S3 lists a key's versions
    newest first, and its delete markers in a list of their own (skipped, unless the newest entry is one)."""
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=settings.bucket, Prefix=LIVE_PREFIX)
    newest: dict[str, list[str]] = {}
    torn_down: set[str] = set()
    for page in pages:
        torn_down.update(marker["Key"] for marker in page.get("DeleteMarkers", []) if marker.get("IsLatest"))
        for entry in page.get("Versions", []):
            versions = newest.setdefault(entry["Key"], [])
            if len(versions) < PROTECTED_VERSIONS:
                versions.append(entry.get("VersionId") or "null")  # "null": written before versioning was enabled
    downstreams = []
    for key in sorted(newest.keys() | torn_down):
        match = LIVE_KEY.fullmatch(key)
        if not match or match.group(1) == settings.stack:
            continue
        stack = match.group(1)
        versions = [] if key in torn_down else newest[key]
        records = tuple(read_record(s3, settings.bucket, stack, key, version, previous=index > 0)
                        for index, version in enumerate(versions))
        downstreams.append(Downstream(shown(stack), key, records))
    return downstreams


def read_record(s3, bucket: str, stack: str, key: str, version: str, previous: bool) -> LiveRecord:
    """One version of a live record, read by its VersionId (a version never changes once written)."""
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    try:
        commit, digest = parse_record(body)
    except ValueError as problem:
        return LiveRecord(shown(stack), key, shown(version), previous, problem=str(problem))
    return LiveRecord(shown(stack), key, shown(version), previous, commit, digest)


def parse_record(zipped: bytes) -> tuple[str, str]:
    """The commit and image digest a live record names; ValueError saying why it cannot be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(zipped)) as bundle:
            entry = bundle.getinfo("release.json")
            if entry.file_size > MAX_RECORD_BYTES:
                raise ValueError("its release.json is larger than 1 MiB")
            data = json.loads(bundle.read(entry))
    except KeyError:
        raise ValueError("it has no release.json") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as error:
        raise ValueError(f"it is not a readable zip file ({shown(str(error))})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"its release.json is not JSON ({error.msg})") from None
    image = data.get("image") if isinstance(data, dict) else None
    commit = data.get("commit") if isinstance(data, dict) else None
    digest = image.get("digest") if isinstance(image, dict) else None
    if not (isinstance(commit, str) and COMMIT.fullmatch(commit)):
        raise ValueError("its release.json names no commit")
    if not (isinstance(digest, str) and DIGEST.fullmatch(digest)):
        raise ValueError("its release.json names no image digest")
    return commit, digest


def interlock(settings: Settings, new: Image, releases: list[Image], downstreams: list[Downstream]) -> Verdict:
    """One line per protected version, a note per previous release that is no longer kept, and every problem."""
    after = {image.digest: image for image in releases}
    after[new.digest] = new
    verdict = Verdict([f"release images after this publish: {len(after)}; ECR keeps the newest {settings.keep}"],
                      [], [] if kept(new, after, settings.keep) else [expired_at_once(settings, new, after)])
    for downstream in downstreams:
        if not downstream.records:
            verdict.lines.append(f"{downstream.stack} was torn down (the newest version of {downstream.key} is a "
                                 "delete marker); nothing to keep for it")
        for record in downstream.records:
            judge(settings, record, after, verdict)
    if not any(downstream.records for downstream in downstreams):
        verdict.lines.append(f"no downstream live records in {settings.bucket}")
    return verdict


def rivals(image: Image, after: dict[str, Image]) -> int:
    """The other release images pushed at the same time as `image` or later: ECR may keep any of them before it."""
    return sum(1 for other in after.values() if other.digest != image.digest and other.pushed_at >= image.pushed_at)


def kept(image: Image, after: dict[str, Image], keep: int) -> bool:
    return rivals(image, after) < keep


def judge(settings: Settings, record: LiveRecord, after: dict[str, Image], verdict: Verdict) -> None:
    """Add what one version of a live record means to the verdict: a line, a note or a problem."""
    stack, where = record.stack, f"{record.key} version {record.version} in {settings.bucket}"
    release = f"release {record.commit[:12]} ({short(record.digest)})"
    if record.problem and record.previous:
        verdict.problems.append(
            f"{where} cannot be read ({record.problem}), so what {stack} would roll back to is unknown; deploy a "
            f"release to {stack} (this version is then older than its rollback target), or delete this version")
    elif record.problem:
        verdict.problems.append(f"{where} cannot be read ({record.problem}), so what {stack} runs is unknown; fix "
                                "the record: write a readable one, then delete this version")
    elif record.digest not in after and record.previous:
        verdict.notes.append(f"{stack}'s previous release {record.commit[:12]} is no longer kept; it cannot be "
                             "rolled back to")
    elif record.digest not in after:
        verdict.problems.append(f"{stack} runs {release}, which is not a release image in {settings.repository} "
                                f"({where}), so nothing keeps it; deploy a published release to {stack}")
    elif not kept(after[record.digest], after, settings.keep):
        which = f"previous {release}, its rollback target," if record.previous else f"running {release}"
        verdict.problems.append(f"{stack}'s {which} would no longer be kept after this publish "
                                f"(KEEP_RELEASES={settings.keep}); deploy a newer release to {stack}, or raise "
                                "delivery:keepImages")
    else:
        verdict.lines.append(f"{stack} {'would roll back to' if record.previous else 'runs'} {release}, kept")


def expired_at_once(settings: Settings, new: Image, after: dict[str, Image]) -> str:
    return (f"this release's image {short(new.digest)} is not among the newest release images (others pushed at "
            f"the same time or later: {rivals(new, after)}), so ECR would expire it at once "
            f"(KEEP_RELEASES={settings.keep}); publish a newer build, or raise delivery:keepImages")


# Step 4: the tag.

def tag_release(ecr, settings: Settings, release: Release, releases: list[Image]) -> bool:
    """Tag the image release-<commit>: True if this run added the tag, False if the image already had it."""
    holder = next((image.digest for image in releases if release.tag in image.tags), None)
    added = False
    if holder is None:
        holder, added = put_release_tag(ecr, settings, release)
    if holder != release.digest:
        raise Stop(REFUSED, f"{release.tag} already names image {holder} in {settings.repository}, not this release's "
                            f"{release.digest}; tags there are immutable, so this build cannot be published")
    return added


def put_release_tag(ecr, settings: Settings, release: Release) -> tuple[str, bool]:
    """PutImage the manifest with the tag: (the image the tag names, whether this call added it)."""
    manifest, media_type = get_manifest(ecr, settings, release)
    extra = {"imageManifestMediaType": media_type} if media_type else {}
    try:
        ecr.put_image(registryId=release.registry_id, repositoryName=settings.repository, imageManifest=manifest,
                      imageTag=release.tag, imageDigest=release.digest, **extra)
    except ClientError as error:
        if error_code(error) not in TAG_EXISTS:
            raise
        return tag_holder(ecr, settings, release, error_code(error)), False
    return release.digest, True


def get_manifest(ecr, settings: Settings, release: Release) -> tuple[str, str | None]:
    answer = ecr.batch_get_image(registryId=release.registry_id, repositoryName=settings.repository,
                                 imageIds=[{"imageDigest": release.digest}],
                                 acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES))
    images = [i for i in answer.get("images", []) if i.get("imageId", {}).get("imageDigest") == release.digest]
    if not images:
        failure = (answer.get("failures") or [{}])[0]
        raise Stop(REFUSED, f"ECR returned no manifest for {release.digest} ({failure.get('failureCode', 'none')}: "
                            f"{shown(failure.get('failureReason', ''))}), so it cannot be tagged")
    return images[0]["imageManifest"], images[0].get("imageManifestMediaType")


def tag_holder(ecr, settings: Settings, release: Release, answer: str) -> str:
    """The digest the tag names, read back after PutImage answered that it exists."""
    try:
        found = ecr.describe_images(registryId=release.registry_id, repositoryName=settings.repository,
                                    imageIds=[{"imageTag": release.tag}])["imageDetails"]
    except ClientError as error:
        if error_code(error) != "ImageNotFoundException":
            raise
        found = []
    if not found:
        raise Stop(AWS_FAILED, f"PutImage answered {answer}, but no image in {settings.repository} has "
                               f"{release.tag}; run the publish again")
    return found[0]["imageDigest"]


# Errors, in one line.

def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def client_error_line(error: ClientError) -> str:
    code, message = error_code(error) or "an unknown error", shown(error.response.get("Error", {}).get("Message", ""))
    if code in DENIED:
        named = NOT_AUTHORIZED.search(message)
        action = named.group(1) if named else IAM_ACTIONS.get(error.operation_name, error.operation_name)
        return f"AWS denied {action} ({code}: {message}); the publisher's role needs {action}"
    return f"AWS {error.operation_name} failed: {code}: {message}"


def fault_line(error: BotoCoreError) -> str:
    url = getattr(error, "kwargs", {}).get("endpoint_url", "AWS")
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: CodeBuild passes its service role's; elsewhere set AWS_PROFILE or access keys"
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return (f"AWS did not answer at {url} within {CONNECT_TIMEOUT}s to connect and {READ_TIMEOUT}s to read, "
                f"{ATTEMPTS} attempts")
    if isinstance(error, EndpointConnectionError):
        return f"cannot connect to AWS at {url} (check the network, AWS_REGION, AWS_ENDPOINT_URL)"
    return f"AWS call failed: {shown(str(error))}"


def shown(value) -> str:
    """A value from outside, safe to print on one line: JSON-quoted unless a plain string, controls escaped."""
    text = value if isinstance(value, str) and value else json.dumps(value)[:200]
    return CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def short(digest: str) -> str:
    return digest[:19]


def utc(moment: datetime) -> str:
    # timezone.utc, not datetime.UTC (3.11+): this runs on whatever python3 the CodeBuild image has.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017


if __name__ == "__main__":
    sys.exit(main())
