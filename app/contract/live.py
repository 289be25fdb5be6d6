"""`python -m app.contract live`: the service's API against the contract of every release that is live.

Each stack's pipeline records the release bundle it runs as s3://<release bucket>/<prefix><stack>.zip (prefix
`live/`). A bundle holds release.json, whose "contract" field names the bundle's copy of the OpenAPI document that
release serves (contract/openapi.json, written by app/artifact.py). The gate reads every such record and compares
that document (old) with the one the service generates now (new) by the rules of app/contract/compat.py. A breaking
change against any live release fails the build; there is no override: a change that would break clients is served
under a new versioned path next to the old one, which the rules count as an addition.

AWS behaviour relied on:
- ListObjectsV2 returns at most 1,000 keys per call, so the listing is paginated, and needs the s3:ListBucket
  permission on the bucket; GetObject needs s3:GetObject on the object
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
- A refused call answers HTTP 403 with the error code AccessDenied; the message may name another action that was
  refused (e.g. kms:Decrypt for an object encrypted with a KMS key), and that one is then reported.
- Clients get connect and read timeouts and standard-mode retries (botocore Config,
  https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html), so a call that cannot be
  answered ends the build with one line instead of hanging it.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from app.artifact import GIT_SHA, RELEASE_RECORD, RELEASE_SCHEMA, STACK
from app.contract.compat import Change, compare
from app.contract.gate import EXIT_BREAKING, EXIT_OK, ContractError, parse_contract, service_document

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's general purpose bucket naming rules
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a bundle is appspec.yml, hooks and a few JSON files: kilobytes
MAX_MEMBER_BYTES = 16 * 1024 * 1024  # what one file of it may expand to
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 5, 30, 3
# The IAM action each call needs (the API reference's "Permissions" section of each operation).
PERMISSIONS = {"ListObjectsV2": "s3:ListBucket", "GetObject": "s3:GetObject"}
NOT_AUTHORIZED = re.compile(r"not authorized to perform:?\s+([\w-]+:[\w*]+)")


class LiveRecordError(ContractError):
    """A live record that cannot be listed, read or understood; the message names it (exit 2)."""


@dataclass(frozen=True)
class LiveRelease:
    stack: str  # the stack that runs it (from the record's key)
    commit: str  # the commit it was built from (from its release.json)
    contract: dict[str, Any]  # the OpenAPI document it serves

    @property
    def title(self) -> str:
        return f"the release live in {self.stack} (commit {self.commit[:12]})"


def validate_location(bucket: str, prefix: str) -> None:
    if not bucket:
        raise ContractError("--bucket is empty: it names the release bucket (the buildspec passes RELEASE_BUCKET, "
                            "which the CodeBuild project sets).")
    if not BUCKET_NAME.match(bucket) or ".." in bucket:
        raise ContractError(f"--bucket must be an S3 bucket name (3 to 63 lowercase letters, digits, dots and "
                            f"hyphens), got {bucket!r}.")
    if not prefix.endswith("/") or prefix.startswith("/"):
        raise ContractError(f"--prefix must be a key prefix ending in '/', such as live/, got {prefix!r}.")


def s3_client():
    """An S3 client from the default session (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL and CodeBuild's credentials
    apply), with timeouts and a bounded number of standard-mode retries."""
    config = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                    retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
    session = boto3.session.Session()
    return session.client("s3", region_name=session.region_name or os.environ.get("AWS_REGION") or None,
                          config=config)


def aws_error_line(error: Exception, operation: str, location: str, resource_arn: str) -> str:
    """One line for what botocore raised while calling S3 `operation` on `location` (s3://...); a refusal names the
    permission that is missing and the resource it is needed on."""
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        code, said = str(detail.get("Code", "")), str(detail.get("Message") or "").strip()
        if code == "AccessDenied":
            named = NOT_AUTHORIZED.search(said)
            permission = named.group(1) if named else PERMISSIONS.get(operation, f"s3:{operation}")
            return (f"access denied reading {location}: the build's role needs {permission} on {resource_arn} "
                    f"(S3 {operation} answered {code}: {said or 'no message'}).")
        if code == "NoSuchBucket":
            return f"{location}: the bucket does not exist (NoSuchBucket); --bucket must name the release bucket."
        return f"S3 {operation} on {location} failed: {code or 'error'}: {said or error}."
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError)):
        return (f"S3 {operation} on {location} got no answer after {ATTEMPTS} attempts ({error}); check the network "
                "and AWS_ENDPOINT_URL.")
    return f"S3 {operation} on {location} failed: {error}."


def _aws_failure(error: Exception, operation: str, location: str, resource_arn: str) -> LiveRecordError:
    return LiveRecordError(aws_error_line(error, operation, location, resource_arn))


def list_records(client, bucket: str, prefix: str) -> list[tuple[str, str, int]]:
    """(stack, key, size) of every live record under the prefix, by key; the prefix's own "folder" key is skipped
    and anything else that is not <prefix><stack>.zip is refused, so that no record is overlooked."""
    location = f"s3://{bucket}/{prefix}"
    arn = f"arn:{client.meta.partition}:s3:::{bucket}"
    records = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key == prefix:
                    continue
                name = key[len(prefix):]
                stack = name[:-len(".zip")] if name.endswith(".zip") else ""
                if not STACK.match(stack):
                    raise LiveRecordError(f"s3://{bucket}/{key} is not a live record: {location} holds only "
                                          "<stack>.zip release bundles.")
                records.append((stack, key, int(item.get("Size", 0))))
    except (ClientError, BotoCoreError) as error:
        raise _aws_failure(error, "ListObjectsV2", location, arn) from None
    return sorted(records, key=lambda record: record[1])


def fetch_record(client, bucket: str, key: str, size: int) -> bytes:
    location = f"s3://{bucket}/{key}"
    if size > MAX_RECORD_BYTES:
        raise LiveRecordError(f"{location} is {size} bytes, more than a release bundle's {MAX_RECORD_BYTES}: "
                              "it is not a release bundle.")
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchKey":
            raise LiveRecordError(f"{location} disappeared while the gate read it (deleted or replaced "
                                  "meanwhile); run the build again.") from None
        raise _aws_failure(error, "GetObject", location, f"arn:{client.meta.partition}:s3:::{bucket}/{key}") from None
    except BotoCoreError as error:
        raise _aws_failure(error, "GetObject", location, f"arn:{client.meta.partition}:s3:::{bucket}/{key}") from None


def read_release(stack: str, location: str, data: bytes) -> LiveRelease:
    """The live release in a bundle's bytes: its commit from release.json, and the contract that file names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            record = _json_object(_member(bundle, RELEASE_RECORD, location), f"{location}: {RELEASE_RECORD}")
            schema = record.get("schema")
            if schema != RELEASE_SCHEMA:
                raise LiveRecordError(f"{location}: {RELEASE_RECORD} has schema {schema!r}; this gate reads schema "
                                      f"{RELEASE_SCHEMA} (copy app/ from the delivery project again if it is newer).")
            commit, contract = record.get("commit"), record.get("contract")
            if not isinstance(commit, str) or not GIT_SHA.match(commit):
                raise LiveRecordError(f"{location}: {RELEASE_RECORD} has no 40-hex 'commit' (got {commit!r}).")
            if not isinstance(contract, str) or not contract:
                raise LiveRecordError(f"{location}: {RELEASE_RECORD} names no 'contract': the release does not "
                                      "carry the API it serves, so it cannot be compared.")
            document = parse_contract(_member(bundle, contract, location), f"{location}: {contract}")
    # zipfile's answers to a damaged archive, a compression method it lacks, an encrypted member.
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise LiveRecordError(f"{location} is not a readable zip archive ({error}).") from None
    return LiveRelease(stack, commit, document)


def _member(bundle: zipfile.ZipFile, name: str, location: str) -> bytes:
    try:
        info = bundle.getinfo(name)
    except KeyError:
        raise LiveRecordError(f"{location} has no {name}: it is not a release bundle this gate can read (the build "
                              "writes it with python -m app.artifact).") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise LiveRecordError(f"{location}: {name} expands to {info.file_size} bytes, more than {MAX_MEMBER_BYTES}.")
    return bundle.read(info)


def _json_object(data: bytes, shown: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LiveRecordError(f"{shown} is not readable JSON ({error}).") from None
    if not isinstance(value, dict):
        raise LiveRecordError(f"{shown} is not a JSON object.")
    return value


def live_releases(client, bucket: str, prefix: str) -> list[LiveRelease]:
    return [read_release(stack, f"s3://{bucket}/{key}", fetch_record(client, bucket, key, size))
            for stack, key, size in list_records(client, bucket, prefix)]


def breaking_changes(release: LiveRelease, document: dict[str, Any]) -> list[Change]:
    try:
        return [change for change in compare(release.contract, document) if change.breaking]
    except (ValueError, TypeError, AttributeError, KeyError) as error:  # a contract the rules cannot walk
        raise LiveRecordError(f"the contract of {release.title} cannot be compared: {error}") from None


def gate(bucket: str, prefix: str) -> int:
    """Exit 0 when the service is compatible with every live release (or none is recorded), 1 when it breaks one
    (each difference listed under its stack), 2 when a record cannot be listed or read."""
    validate_location(bucket, prefix)
    try:
        client = s3_client()
    except (BotoCoreError, ValueError) as error:  # a profile that does not exist, a malformed AWS_ENDPOINT_URL
        raise LiveRecordError(f"cannot make an S3 client: {error}") from None
    releases = live_releases(client, bucket, prefix)
    if not releases:
        print(f"no live release recorded under s3://{bucket}/{prefix}; nothing to compare")
        return EXIT_OK
    document = service_document()
    broken = []
    for release in releases:
        breaking = breaking_changes(release, document)
        if breaking:
            broken.append(release)
            print(f"{len(breaking)} breaking change(s) against {release.title}:")
            for change in breaking:
                print(f"  - {change}")
        else:
            print(f"compatible with {release.title}")
    if broken:
        stacks = ", ".join(release.stack for release in broken)
        print(f"contract live gate FAILED: the service breaks the API that clients of {stacks} use today. Keep the "
              "old behaviour, or serve the change under a new versioned path (/api/v2/...) next to the old one; "
              "`accept --allow-breaking` changes only the committed file, not this gate.", file=sys.stderr)
        return EXIT_BREAKING
    return EXIT_OK

