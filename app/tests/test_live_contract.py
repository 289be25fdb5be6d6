"""`python -m app.contract live`: the service's API against the contract of every release that is live, read from
the release bucket (s3://<bucket>/live/<stack>.zip) of a moto server, as the build runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from app.contract.gate import service_document
from app.contract.live import aws_error_line
from app.tests.conftest import GIT_SHA, ROOT, free_port, release_bundle, zipped

BUCKET = "delivery-releases-abc123"
PROD_COMMIT = "abc123def4567890abc123def4567890abc123de"


def run_live(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.contract", "live", *(args or ("--bucket", BUCKET))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def record(s3, tmp_path):
    """Records a release as live in a stack: its bundle, as the build writes it, with `contract` (default: the
    service's own) and `edit` applied to the bundle's directory before it is zipped."""

    def put(stack: str, contract: dict | None = None, commit: str = GIT_SHA, edit=None) -> str:
        directory = release_bundle(tmp_path / f"bundle-{stack}", contract, commit=commit)
        if edit is not None:
            edit(directory)
        key = f"live/{stack}.zip"
        s3.put_object(Bucket=BUCKET, Key=key, Body=zipped(directory))
        return key

    return put


def older_contract() -> dict:
    """The service's API as a release that served one endpoint more (/api/v1/orders) promised it."""
    document = json.loads(json.dumps(service_document()))
    document["paths"]["/api/v1/orders"] = {"get": {"responses": {"200": {"description": "the orders"}}}}
    return document


def test_with_no_live_release_there_is_nothing_to_compare(aws, s3):
    s3.put_object(Bucket=BUCKET, Key="live/", Body=b"")  # the "folder" the console makes is not a record
    s3.put_object(Bucket=BUCKET, Key="releases/latest.zip", Body=b"not under the prefix")
    result = run_live(aws.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"no live release recorded under s3://{BUCKET}/live/; nothing to compare\n"


def test_the_service_is_compatible_with_every_live_release(aws, record):
    record("dev")
    smaller = json.loads(json.dumps(service_document()))
    del smaller["paths"]["/api/v1/currencies"]  # prod runs a release from before /currencies: additions pass
    record("prod", smaller, commit=PROD_COMMIT)
    result = run_live(aws.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"compatible with the release live in dev (commit {GIT_SHA[:12]})",
        f"compatible with the release live in prod (commit {PROD_COMMIT[:12]})"]


def test_a_breaking_change_against_one_live_release_fails_and_lists_what_broke_there(aws, record):
    record("dev")
    record("prod", older_contract(), commit=PROD_COMMIT)
    result = run_live(aws.env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"compatible with the release live in dev (commit {GIT_SHA[:12]})",
        f"1 breaking change(s) against the release live in prod (commit {PROD_COMMIT[:12]}):",
        "  - /api/v1/orders: path removed (it had GET)"]
    assert result.stderr.startswith("contract live gate FAILED: the service breaks the API that clients of prod use")
    assert "`accept --allow-breaking` changes only the committed file, not this gate" in result.stderr


def test_a_retirement_passes_only_against_the_release_that_deprecated_with_a_passed_sunset(aws, record):
    """dev runs the release that marked /api/v1/orders deprecated with a sunset that has passed; prod still runs the
    one before it, which promised it plainly: removing it breaks prod's clients."""
    retiring = older_contract()
    retiring["paths"]["/api/v1/orders"]["get"].update({"deprecated": True, "x-sunset": "2000-01-01"})
    record("dev", retiring)
    record("prod", older_contract(), commit=PROD_COMMIT)
    result = run_live(aws.env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"compatible with the release live in dev (commit {GIT_SHA[:12]})",
        f"1 breaking change(s) against the release live in prod (commit {PROD_COMMIT[:12]}):",
        "  - /api/v1/orders: path removed (it had GET)"]
    assert result.stderr.startswith("contract live gate FAILED: the service breaks the API that clients of prod use")


@pytest.mark.parametrize(("sunset", "why"), [
    ("9999-12-31", "GET deprecated, but its x-sunset 9999-12-31 has not passed"),
    ("31/12/2000", 'GET deprecated, but its x-sunset "31/12/2000" is not a YYYY-MM-DD date'),
])
def test_a_deprecated_operation_whose_sunset_has_not_passed_is_still_protected(aws, record, sunset, why):
    retiring = older_contract()
    retiring["paths"]["/api/v1/orders"]["get"].update({"deprecated": True, "x-sunset": sunset})
    record("prod", retiring, commit=PROD_COMMIT)
    result = run_live(aws.env)
    assert result.returncode == 1
    assert f"  - /api/v1/orders: path removed (it had GET): {why}" in result.stdout.splitlines()


def test_the_committed_contract_does_not_matter_to_the_live_gate(aws, record, tmp_path):
    """`accept --allow-breaking` rewrites app/contract/openapi.json; the live gate never reads it."""
    record("prod", older_contract(), commit=PROD_COMMIT)
    accepted = tmp_path / "accepted.json"
    accepted.write_text(json.dumps(service_document()))
    result = subprocess.run([sys.executable, "-m", "app.contract", "--contract", str(accepted), "live", "--bucket",
                             BUCKET], cwd=ROOT, env=aws.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "  - /api/v1/orders: path removed (it had GET)" in result.stdout


def without(name: str):
    return lambda directory: (directory / name).unlink()


def release_json(**changes):
    def edit(directory: Path) -> None:
        record = json.loads((directory / "release.json").read_text())
        record.update(changes)
        (directory / "release.json").write_text(json.dumps({k: v for k, v in record.items() if v is not None}))
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    pytest.param(release_json(contract=None), "live/prod.zip: release.json names no 'contract': the release does "
                 "not carry the API it serves, so it cannot be compared.", id="release.json without a contract"),
    pytest.param(without("contract/openapi.json"), "live/prod.zip has no contract/openapi.json: it is not a release "
                 "bundle this gate can read (the build writes it with python -m app.artifact).",
                 id="contract missing from the bundle"),
    pytest.param(without("release.json"), "live/prod.zip has no release.json: it is not a release bundle this gate "
                 "can read (the build writes it with python -m app.artifact).", id="bundle without release.json"),
    pytest.param(release_json(schema=2), "live/prod.zip: release.json has schema 2; this gate reads schema 1 (copy "
                 "app/ from the delivery project again if it is newer).", id="newer record schema"),
    pytest.param(release_json(commit="main"), "live/prod.zip: release.json has no 40-hex 'commit' (got 'main').",
                 id="no commit"),
    pytest.param(lambda d: (d / "contract" / "openapi.json").write_text('{"swagger": "2.0"}'),
                 "live/prod.zip: contract/openapi.json is not an OpenAPI document (it needs 'openapi' and 'paths')",
                 id="not an OpenAPI document"),
])
def test_a_live_record_that_cannot_be_read_fails_the_build_with_one_line(aws, record, edit, message):
    record("dev")
    record("prod", edit=edit)
    result = run_live(aws.env)
    assert result.returncode == 2
    assert result.stderr == f"error: s3://{BUCKET}/{message}\n"


def test_a_corrupt_zip_is_reported_not_raised(aws, s3, record):
    record("dev")
    good = s3.get_object(Bucket=BUCKET, Key="live/dev.zip")["Body"].read()
    s3.put_object(Bucket=BUCKET, Key="live/prod.zip", Body=good[: len(good) // 2])
    result = run_live(aws.env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: s3://{BUCKET}/live/prod.zip is not a readable zip archive (")
    assert len(result.stderr.splitlines()) == 1


def test_a_dangling_reference_in_a_live_contract_names_the_release(aws, record):
    contract = json.loads(json.dumps(service_document()))
    operation = contract["paths"]["/api/v1/quotes"]["post"]
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Gone"}
    record("prod", contract, commit=PROD_COMMIT)
    result = run_live(aws.env)
    assert result.returncode == 2
    assert result.stderr == (f"error: the contract of the release live in prod (commit {PROD_COMMIT[:12]}) cannot be "
                             "compared: $ref '#/components/schemas/Gone' points at nothing in the document\n")


def test_anything_else_under_the_prefix_is_refused_so_no_record_is_overlooked(aws, s3, record):
    record("dev")
    s3.put_object(Bucket=BUCKET, Key="live/prod/latest.zip", Body=b"")
    result = run_live(aws.env)
    assert result.returncode == 2
    assert result.stderr == (f"error: s3://{BUCKET}/live/prod/latest.zip is not a live record: s3://{BUCKET}/live/ "
                             "holds only <stack>.zip release bundles.\n")


def test_another_prefix_can_be_named(aws, s3, record, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="promoted/prod.zip", Body=zipped(release_bundle(tmp_path / "b", older_contract())))
    result = run_live(aws.env, "--bucket", BUCKET, "--prefix", "promoted/")
    assert result.returncode == 1
    assert "against the release live in prod" in result.stdout


# AWS refusing or not answering


def test_without_s3_list_bucket_the_error_names_that_permission(aws, record):
    record("prod")
    env = aws.enforce_iam_as("builder", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/live/*"}]})
    result = run_live(env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: access denied reading s3://{BUCKET}/live/: the build's role needs s3:ListBucket on "
        f"arn:aws:s3:::{BUCKET} (S3 ListObjectsV2 answered AccessDenied: ")
    assert len(result.stderr.splitlines()) == 1


def test_without_s3_get_object_the_error_names_that_permission(aws, record):
    record("prod")
    env = aws.enforce_iam_as("builder", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}]})
    result = run_live(env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: access denied reading s3://{BUCKET}/live/prod.zip: the build's role needs s3:GetObject on "
        f"arn:aws:s3:::{BUCKET}/live/prod.zip (S3 GetObject answered AccessDenied: ")


def test_with_both_permissions_the_gate_reads_the_records(aws, record):
    record("prod")
    env = aws.enforce_iam_as("builder", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/live/*"}]})
    result = run_live(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"compatible with the release live in prod (commit {GIT_SHA[:12]})\n"


def denied(operation: str, message: str) -> ClientError:
    """A refusal as botocore raises it from S3's answer: HTTP 403, <Error><Code>AccessDenied</Code>..."""
    return ClientError({"Error": {"Code": "AccessDenied", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)


def test_a_refusal_naming_another_action_reports_that_action():
    """S3 answers AccessDenied also when the object's KMS key refuses the caller; its message names the action."""
    message = ("User: arn:aws:sts::123456789012:assumed-role/build/x is not authorized to perform: kms:Decrypt on "
               "resource: arn:aws:kms:us-east-1:123456789012:key/1234 because no identity-based policy allows the "
               "kms:Decrypt action")
    line = aws_error_line(denied("GetObject", message), "GetObject", f"s3://{BUCKET}/live/prod.zip",
                          f"arn:aws:s3:::{BUCKET}/live/prod.zip")
    assert line.startswith(f"access denied reading s3://{BUCKET}/live/prod.zip: the build's role needs kms:Decrypt on ")


def test_a_plain_refusal_reports_the_permission_of_the_call():
    line = aws_error_line(denied("ListObjectsV2", "Access Denied"), "ListObjectsV2", f"s3://{BUCKET}/live/",
                          f"arn:aws:s3:::{BUCKET}")
    assert line == (f"access denied reading s3://{BUCKET}/live/: the build's role needs s3:ListBucket on "
                    f"arn:aws:s3:::{BUCKET} (S3 ListObjectsV2 answered AccessDenied: Access Denied).")


def test_a_bucket_that_does_not_exist_is_named(aws):
    result = run_live(aws.env)
    assert result.returncode == 2
    assert result.stderr == (f"error: s3://{BUCKET}/live/: the bucket does not exist (NoSuchBucket); --bucket must "
                             "name the release bucket.\n")


def test_an_endpoint_that_does_not_answer_ends_the_gate_in_one_line_and_bounded_time(aws):
    started = time.monotonic()
    result = run_live({**aws.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"})
    assert time.monotonic() - started < 60
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: S3 ListObjectsV2 on s3://{BUCKET}/live/ got no answer after 3 attempts")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--bucket", ""), "--bucket is empty: it names the release bucket (the buildspec passes RELEASE_BUCKET, which "
                       "the CodeBuild project sets)."),
    (("--bucket", "Releases_Bucket"), "--bucket must be an S3 bucket name (3 to 63 lowercase letters, digits, dots "
                                      "and hyphens), got 'Releases_Bucket'."),
    (("--bucket", BUCKET, "--prefix", "live"), "--prefix must be a key prefix ending in '/', such as live/, got "
                                               "'live'."),
])
def test_bad_arguments_are_reported_in_one_line_before_any_call(aws, args, message):
    result = run_live({**aws.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}, *args)
    assert result.returncode == 2
    assert result.stderr == f"error: {message}\n"
