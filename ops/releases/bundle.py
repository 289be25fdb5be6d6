"""`release.json`, read from a CodeDeploy bundle zip: what one release is. The building stack's pipeline writes it
into the bundle (schema 1):

    {"schema": 1, "commit": "<40 hex>", "image": {"repository", "tag", "digest": "sha256:<64 hex>", "uri"},
     "stack": "<building stack>", "buildId", "pipelineExecutionId", "builtAt": "...Z",
     "contract": "contract/openapi.json"}

The image digest is the release's identity across buckets: CodePipeline copies the bundle into each stack's own
artifact bucket, so a deployment's revision and a published version are different objects with the same digest.

Anything that is not such a document is `Unreadable`, with the reason in one line: a zip that is not one, too big,
without release.json, release.json that is not UTF-8 JSON, of another schema, or without a valid commit or digest.
Text from the document is kept as it is; the renderer escapes it (ops.errors.printable)."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

SCHEMA = 1
MEMBER = "release.json"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024  # a bundle holds appspec, hooks, image.json and the contract: kilobytes
MAX_MEMBER_BYTES = 1024 * 1024  # release.json is a few hundred bytes; this refuses a zip bomb
COMMIT = re.compile(r"[0-9a-f]{40}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
OPTIONAL_TEXT = ("buildId", "pipelineExecutionId", "builtAt", "contract")
IMAGE_TEXT = ("repository", "tag", "uri")


class Unreadable(Exception):
    """A bundle, or its release.json, that cannot be read as a release; the message is the reason, in one line."""


@dataclass(frozen=True)
class Release:
    commit: str
    digest: str
    stack: str
    repository: str | None = None
    tag: str | None = None
    uri: str | None = None
    build_id: str | None = None
    execution_id: str | None = None
    built_at: str | None = None

    @property
    def built(self) -> datetime | None:
        """builtAt as a time (UTC), or None when it is missing or not ISO 8601."""
        try:
            moment = datetime.fromisoformat(self.built_at or "")
        except ValueError:
            return None
        return moment.replace(tzinfo=moment.tzinfo or UTC)


def release_from_zip(data: bytes) -> Release:
    """The release a bundle holds; raises Unreadable."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise Unreadable(f"the bundle is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            try:
                member = bundle.getinfo(MEMBER)
            except KeyError:
                raise Unreadable(f"the bundle has no {MEMBER}") from None
            if member.file_size > MAX_MEMBER_BYTES:
                raise Unreadable(f"{MEMBER} is larger than {MAX_MEMBER_BYTES // 1024} KiB")
            raw = bundle.read(member)
    except zipfile.BadZipFile as error:
        raise Unreadable(f"not a zip file ({error})") from None
    except (RuntimeError, NotImplementedError, zlib.error, EOFError, ValueError, OSError) as error:
        raise Unreadable(f"{MEMBER} cannot be extracted ({error})") from None  # encrypted, unknown method, corrupt
    return parse_release(raw)


def parse_release(raw: bytes) -> Release:
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Unreadable(f"{MEMBER} is not UTF-8 (at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise Unreadable(f"{MEMBER} is not JSON ({error.msg} at line {error.lineno} column {error.colno})") from None
    except (ValueError, RecursionError):
        raise Unreadable(f"{MEMBER} is JSON that cannot be read (a number too long, or nested too deeply)") from None
    if not isinstance(document, dict):
        raise Unreadable(f"{MEMBER} is not a JSON object")
    schema = document.get("schema")
    if type(schema) is not int or schema != SCHEMA:  # not True, not 1.0
        raise Unreadable(f"{MEMBER} has schema {_shown(schema)}; this ops reads schema {SCHEMA}")
    image = document.get("image")
    if not isinstance(image, dict):
        raise Unreadable(f"{MEMBER} has no `image` object")
    commit, digest, stack = document.get("commit"), image.get("digest"), document.get("stack")
    if not isinstance(commit, str) or not COMMIT.fullmatch(commit.lower()):
        raise Unreadable(f"{MEMBER} `commit` is not 40 hex digits: {_shown(commit)}")
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise Unreadable(f"{MEMBER} `image.digest` is not sha256:<64 hex>: {_shown(digest)}")
    if not isinstance(stack, str) or not stack:
        raise Unreadable(f"{MEMBER} `stack` is not a stack name: {_shown(stack)}")
    for name, where in [*((n, document) for n in OPTIONAL_TEXT), *((n, image) for n in IMAGE_TEXT)]:
        if where.get(name) is not None and not isinstance(where[name], str):
            label = name if where is document else f"image.{name}"
            raise Unreadable(f"{MEMBER} `{label}` is not a string: {_shown(where[name])}")
    return Release(
        commit=commit.lower(), digest=digest, stack=stack, repository=image.get("repository"), tag=image.get("tag"),
        uri=image.get("uri"), build_id=document.get("buildId"), execution_id=document.get("pipelineExecutionId"),
        built_at=document.get("builtAt"),
    )


def _shown(value, limit: int = 80) -> str:
    """A value as JSON, cut to `limit` characters (it goes into a one-line reason)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
