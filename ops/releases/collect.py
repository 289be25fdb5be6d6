"""The AWS reads behind `ops releases`, each bounded:

- the release key's versions: ListObjectVersions (paginated, stopped as soon as enough were seen; S3 returns a key's
  versions "in the order they were stored, with the most recently stored returned first", API_ListObjectVersions,
  example 2), and GetObject(VersionId) of each version shown;
- this stack's deployments: ListDeployments (paginated, at most MAX_DEPLOYMENT_IDS ids), BatchGetDeployments in
  chunks of 25 (its limit) for the newest `window` only. AWS does not document ListDeployments' order (moto lists
  the oldest first), so when there are more ids than the window (and than two chunks), the first and the last chunk
  are read and the newer end is kept. Then GetObject of each deployment's revision zip, once per
  location;
- the live records: ListObjectsV2 under the live prefix, GetObject of each (at most MAX_LIVE_RECORDS);
- only when a recent deployment's release is older than the listed ones: up to LOOKBACK more versions, to tell an
  older release from a build that was never published.

A refusal, throttling after the retries, or no answer ends the command (exit 2, one line, through ops.aws.explain;
a refusal names the IAM action). AWS's answer about one zip (NoSuchKey: an artifact expired, NoSuchVersion, ...)
and a zip that holds no readable release.json make that one bundle Unreadable, shown as such."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ops.aws import NOT_AUTHORIZED, AwsError, client, explain
from ops.errors import OpsError
from ops.releases.bundle import MAX_BUNDLE_BYTES, Release, Unreadable, release_from_zip

DEPLOYMENTS_PER_RELEASE, MAX_DEPLOYMENTS = 5, 200  # the deployment window: limit * 5, at most 200
BATCH = 25  # BatchGetDeployments takes at most 25 ids (botocore model)
MAX_DEPLOYMENT_IDS = 10_000
LOOKBACK = 100
MAX_LIVE_RECORDS = 100
EPOCH = datetime.min.replace(tzinfo=UTC)
# The IAM action behind each call, for a refusal whose message does not name it (S3's plain "Access Denied").
ACTIONS = {
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListObjectsV2": "s3:ListBucket",
    "ListDeployments": "codedeploy:ListDeployments",
    "BatchGetDeployments": "codedeploy:BatchGetDeployments",
}
# What the handles came from, for an error that says one of them names nothing.
NOT_FOUND = {
    "NoSuchBucket": "the release bucket does not exist (stack output releaseBucket, or --release-bucket)",
    "ApplicationDoesNotExistException": "check the stack output codedeployApplication, or --application",
    "DeploymentGroupDoesNotExistException": "check the stack output codedeployDeploymentGroup, or "
                                            "--deployment-group",
}

Location = tuple[str, str, str | None]  # bucket, key, version (None: the current one)


@dataclass(frozen=True)
class Handles:
    stack: str
    bucket: str
    release_key: str
    live_key: str
    application: str
    group: str
    region: str | None = None
    promoted_from: str | None = None
    limit: int = 20

    @property
    def live_prefix(self) -> str:
        return self.live_key.rpartition("/")[0] + "/" if "/" in self.live_key else ""

    @property
    def window(self) -> int:
        return min(self.limit * DEPLOYMENTS_PER_RELEASE, MAX_DEPLOYMENTS)


@dataclass
class Bundle:
    """What one zip holds: a release, or why it could not be read."""

    location: Location | None
    release: Release | None = None
    error: str | None = None


@dataclass
class Version:
    """One version of the release key: one published release."""

    version_id: str
    published: datetime
    bundle: Bundle


@dataclass
class Deployment:
    info: dict  # BatchGetDeployments' deploymentInfo
    bundle: Bundle

    @property
    def created(self) -> datetime:
        return self.info.get("createTime") or EPOCH


@dataclass
class LiveRecord:
    stack: str
    key: str
    bundle: Bundle


@dataclass
class Findings:
    handles: Handles
    versions: list[Version] = field(default_factory=list)  # the newest `limit`, newest first
    more_versions: bool = False  # older versions exist beyond those
    older: list[Version] = field(default_factory=list)  # read beyond the limit (LOOKBACK), newest first
    lookback_exhausted: bool = False  # every version of the key has been read
    deployments: list[Deployment] = field(default_factory=list)  # the window, newest first
    deployment_ids: int = 0  # how many ListDeployments listed
    live: list[LiveRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    region: str | None = None  # the region the clients used

    @property
    def cutoff(self) -> datetime | None:
        """When older releases than the listed ones exist: the oldest listed one's publication. A deployment older
        than that is of an older release (or build) and is not shown; a build newer than that, if it had been
        published, would be among the listed versions."""
        return self.versions[-1].published if self.more_versions and self.versions else None


class Progress:
    """One line on stderr, rewritten in place, only when stderr is a terminal (a log or a pipe gets nothing)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        try:
            self.on = bool(self.stream.isatty())
        except (AttributeError, ValueError, OSError):
            self.on = False
        self.shown = False

    def __call__(self, text: str) -> None:
        if self.on:
            self.stream.write(f"\r{text[:100]}\x1b[K")
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class Reader:
    """The clients (one session, in the stack's region when known) and every read, with `doing` naming the read in
    progress (for the line a signal prints)."""

    def __init__(self, handles: Handles, progress: Progress | None = None):
        self.handles, self.progress = handles, progress or Progress()
        self._clients: dict[str, object] = {}
        self._shared_session = None
        self._bundles: dict[Location, Bundle] = {}
        self.notes: list[str] = []
        self.doing = "the start"

    def _session(self) -> boto3.session.Session:
        if self._shared_session is None:
            try:
                self._shared_session = boto3.session.Session(region_name=self.handles.region)
            except BotoCoreError as error:
                raise explain(error, "the AWS session") from error
        return self._shared_session

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = client(service, session=self._session())
        return self._clients[service]

    def step(self, doing: str) -> None:
        self.doing = doing
        self.progress(f"reading {doing}...")

    # --- calls ------------------------------------------------------------------------------------------------------

    def call(self, service: str, method: str, what: str, **params) -> dict:
        try:
            return getattr(self.client(service), method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise self._fatal(self._explained(error, service), error, what) from error

    def pages(self, service: str, method: str, what: str, **params) -> Iterator[dict]:
        try:
            yield from self.client(service).get_paginator(method).paginate(**params)
        except (ClientError, BotoCoreError) as error:
            raise self._fatal(self._explained(error, service), error, what) from error

    def _explained(self, error: Exception, service: str) -> AwsError:
        made = self._clients.get(service)
        return explain(error, service, made.meta.region_name if made else None)

    @staticmethod
    def _fatal(failure: AwsError, error: Exception, what: str, action: str | None = None, hint: str = "") -> OpsError:
        """The line that ends the command: a refusal names the IAM action (from AWS's message, else the call's)."""
        if failure.permission:
            named = NOT_AUTHORIZED.search(failure.said)
            operation = getattr(error, "operation_name", "")
            permission = named.group(1) if named else action or ACTIONS.get(operation) or failure.permission
            said = " ".join(failure.said.split())[:300]
            return OpsError(f"access denied: missing permission {permission} to read {what} (AWS said: {said})"
                            f"{hint}")
        if failure.code in NOT_FOUND:
            return OpsError(f"{failure}; {NOT_FOUND[failure.code]}")
        return failure

    # --- bundles ----------------------------------------------------------------------------------------------------

    def bundle(self, location: Location) -> Bundle:
        """The release in the zip at `location`, read once per location."""
        if location not in self._bundles:
            self._bundles[location] = self._read_bundle(location)
        return self._bundles[location]

    def _read_bundle(self, location: Location) -> Bundle:
        bucket, key, version = location
        params = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            answer = self.client("s3").get_object(**params)
            body = answer["Body"]
            try:
                if (answer.get("ContentLength") or 0) > MAX_BUNDLE_BYTES:
                    raise Unreadable(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")
                data = body.read(MAX_BUNDLE_BYTES + 1)
            finally:
                body.close()
            return Bundle(location, release=release_from_zip(data))
        except Unreadable as unreadable:
            return Bundle(location, error=str(unreadable))
        except (ClientError, BotoCoreError) as error:
            failure = self._explained(error, "s3")
            if failure.reply is not None and not failure.permission and not failure.throttled:
                return Bundle(location, error=f"S3 answered {failure.reply}")  # about this object: NoSuchKey, ...
            action = "s3:GetObjectVersion" if version else "s3:GetObject"
            hint = "; S3 also answers so for a missing object when s3:ListBucket is not allowed"
            raise self._fatal(failure, error, s3_url(location), action, hint) from error

    # --- the release key's versions ---------------------------------------------------------------------------------

    def release_versions(self) -> Iterator[dict]:
        """ListObjectVersions' entries for the release key itself, newest first, a page at a time as needed."""
        bucket, key = self.handles.bucket, self.handles.release_key
        what = f"the versions of s3://{bucket}/{key}"
        for page in self.pages("s3", "list_object_versions", what, Bucket=bucket, Prefix=key):
            if any(m.get("Key") == key and m.get("IsLatest") for m in page.get("DeleteMarkers", [])):
                self._note(f"the current version of s3://{bucket}/{key} is a delete marker: a promoted pipeline "
                          "cannot read the latest release")
            others = False
            for entry in page.get("Versions", []):
                if entry.get("Key") == key:
                    yield entry
                else:
                    others = others or entry.get("Key", "") > key
            if others:  # keys are listed in order: every later entry is another key
                return

    def version(self, entry: dict) -> Version:
        version_id = entry.get("VersionId") or "null"
        if version_id == "null":
            self._note(f"the release bucket {self.handles.bucket} is not versioned: only the latest release is kept")
        location = (self.handles.bucket, self.handles.release_key, None if version_id == "null" else version_id)
        return Version(version_id, entry.get("LastModified") or EPOCH, self.bundle(location))

    # --- deployments ------------------------------------------------------------------------------------------------

    def deployment_infos(self) -> tuple[list[dict], int]:
        """The newest `window` deployments of the group, newest first, and how many ListDeployments listed."""
        application, group = self.handles.application, self.handles.group
        what = f"the deployments of {application}/{group}"
        self.step(what)
        ids: list[str] = []
        for page in self.pages("codedeploy", "list_deployments", what, applicationName=application,
                               deploymentGroupName=group):
            ids.extend(page.get("deployments", []))
            if len(ids) >= MAX_DEPLOYMENT_IDS:
                self._note(f"{application}/{group} has more than {MAX_DEPLOYMENT_IDS} deployments; only "
                                      f"the first {MAX_DEPLOYMENT_IDS} listed were considered")
                break
        ids = list(dict.fromkeys(ids[:MAX_DEPLOYMENT_IDS]))
        window = self.handles.window
        if len(ids) <= max(window, 2 * BATCH):  # as few calls as reading both ends would take
            infos = self._batch(ids, what)
        else:
            known = {i["deploymentId"]: i for i in self._batch(ids[:BATCH] + ids[-BATCH:], what)}
            head = [known[i]["createTime"] for i in ids[:BATCH] if i in known and known[i].get("createTime")]
            tail = [known[i]["createTime"] for i in ids[-BATCH:] if i in known and known[i].get("createTime")]
            chosen = ids[:window] if max(head, default=EPOCH) >= max(tail, default=EPOCH) else ids[-window:]
            infos = [known[i] for i in chosen if i in known] + self._batch([i for i in chosen if i not in known], what)
        infos.sort(key=lambda info: info.get("createTime") or EPOCH, reverse=True)
        return infos[:window], len(ids)

    def _batch(self, ids: list[str], what: str) -> list[dict]:
        infos: list[dict] = []
        for start in range(0, len(ids), BATCH):
            self.progress(f"reading {what} ({start}/{len(ids)})...")
            answer = self.call("codedeploy", "batch_get_deployments", what, deploymentIds=ids[start : start + BATCH])
            infos.extend(answer.get("deploymentsInfo", []))
        return infos

    def deployment(self, info: dict) -> Deployment:
        revision = info.get("revision") or {}
        s3 = revision.get("s3Location") or {}
        kind = revision.get("revisionType") or "unknown"
        if kind != "S3" or not s3.get("bucket") or not s3.get("key"):
            return Deployment(info, Bundle(None, error=f"the revision is of type {kind}, not a bundle in S3"))
        location = (s3["bucket"], s3["key"], s3.get("version") or None)
        if s3.get("bundleType") not in (None, "zip"):
            return Deployment(info, Bundle(location, error=f"the bundle is a {s3['bundleType']}, not a zip"))
        return Deployment(info, self.bundle(location))

    # --- live records -----------------------------------------------------------------------------------------------

    def live_records(self) -> list[LiveRecord]:
        bucket, prefix = self.handles.bucket, self.handles.live_prefix
        what = f"the live records s3://{bucket}/{prefix}*.zip"
        self.step(what)
        keys: list[str] = []
        for page in self.pages("s3", "list_objects_v2", what, Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                name = entry.get("Key", "")[len(prefix):]
                if name.endswith(".zip") and len(name) > len(".zip") and "/" not in name:
                    keys.append(entry["Key"])
            if len(keys) > MAX_LIVE_RECORDS:
                self._note(f"more than {MAX_LIVE_RECORDS} live records; only the first "
                                      f"{MAX_LIVE_RECORDS} were read")
                break
        records = []
        for index, key in enumerate(keys[:MAX_LIVE_RECORDS]):
            self.progress(f"reading live record {index + 1}/{min(len(keys), MAX_LIVE_RECORDS)}...")
            records.append(LiveRecord(key[len(prefix) : -len(".zip")], key, self.bundle((bucket, key, None))))
        return records

    # ----------------------------------------------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def collect(reader: Reader) -> Findings:
    handles = reader.handles
    findings = Findings(handles, notes=reader.notes)
    reader.step(f"the releases in s3://{handles.bucket}/{handles.release_key}")
    versions = reader.release_versions()
    entries = _take(versions, handles.limit + 1)
    findings.more_versions = len(entries) > handles.limit
    for index, entry in enumerate(entries[: handles.limit]):
        reader.step(f"release {index + 1}/{min(len(entries), handles.limit)}")
        findings.versions.append(reader.version(entry))
    infos, findings.deployment_ids = reader.deployment_infos()
    for index, info in enumerate(infos):
        reader.step(f"the revision of deployment {index + 1}/{len(infos)}")
        findings.deployments.append(reader.deployment(info))
    findings.live = reader.live_records()
    wanted = lookback_wanted(findings)
    findings.lookback_exhausted = not findings.more_versions
    if wanted and findings.more_versions:
        for entry in itertools.chain(entries[handles.limit :], versions):  # the one peeked at, then as needed
            if len(findings.older) >= LOOKBACK:
                break
            reader.step(f"older release {len(findings.older) + 1} (looking for {len(wanted)} deployed here)")
            older = reader.version(entry)
            findings.older.append(older)
            if older.bundle.release:
                wanted.discard(older.bundle.release.digest)
            if not wanted:
                break
        else:
            findings.lookback_exhausted = True
    versions.close()
    findings.region = reader.client("s3").meta.region_name
    return findings


def lookback_wanted(findings: Findings) -> set[str]:
    """Digests of deployments shown (newer than the cutoff) whose release is not listed and may be an older one: a
    build newer than the cutoff cannot be (it would be listed), so only an older build, or one of unknown age."""
    cutoff = findings.cutoff
    if cutoff is None:
        return set()
    listed = {v.bundle.release.digest for v in findings.versions if v.bundle.release}
    wanted = set()
    for deployment in findings.deployments:
        release = deployment.bundle.release
        if release and release.digest not in listed and deployment.created >= cutoff:
            built = release.built
            if built is None or built < cutoff:
                wanted.add(release.digest)
    return wanted


def _take(iterator: Iterator[dict], count: int) -> list[dict]:
    taken = []
    for entry in iterator:
        taken.append(entry)
        if len(taken) >= count:
            break
    return taken


def s3_url(location: Location) -> str:
    bucket, key, version = location
    return f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
