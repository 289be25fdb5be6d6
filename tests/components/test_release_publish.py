"""components/release_publish.py, the Publish stage's script: it tags a release's image `release-<commit>` only when
the image is there and ECR's lifecycle would still keep every image a downstream stack runs or would roll back to (the
newest two versions of its live record); it refuses otherwise, in one line. Run against a moto server over HTTP
(ECR and S3 as the script reaches them in CodeBuild), and once as CodeBuild runs it: a lone file,
`python release_publish.py`, in the extracted bundle.

Where moto differs from AWS, the tests pin AWS's documented behaviour, with botocore's Stubber (checked against the
service model) for the answers moto cannot give:
- PutImage of a tag an IMMUTABLE repository has on another image: AWS answers ImageTagAlreadyExistsException
  (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html), moto ImageAlreadyExistsException.
  The script reads the tag back instead of trusting either code; both answers are tested.
- A denied ECR call: moto answers code "403" with an XML body; AWS answers AccessDeniedException naming the action.
  The moto tests deny S3's ListObjectVersions (s3:ListBucketVersions) and GetObject of a version
  (s3:GetObjectVersion), which moto answers as AWS does (AccessDenied); the ECR shape is stubbed.
- imagePushedAt is whole seconds in moto (see release_publish_world.py), and moto ignores DescribeImages' tagStatus
  filter (the script matches the release- prefix itself).
- moto never applies lifecycle policies: no image here ever expires on its own (an expired image is deleted by the
  test). So these tests check the publisher's model of ECR's ordering (docs/aws-behaviour.md, B30: push time, ties
  against the image), not ECR itself."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from components import release_publish
from components.release_publish import REFUSED, Image, Release, Settings, Stop
from tests.components.release_publish_world import (
    ACCOUNT,
    BUCKET,
    DOCKER_V2,
    REGION,
    REPOSITORY,
    STACK,
    Delivery,
    build_of,
    bundle_zip,
    release_document,
    settings_environment,
)
from tests.conftest import free_port
from tests.ops import conftest as ops_aws

moto_server = ops_aws.moto_server  # this module's own moto server process
aws = ops_aws.aws  # a clean account per test, reached through AWS_ENDPOINT_URL


@pytest.fixture
def delivery(aws, tmp_path, capsys) -> Delivery:
    return Delivery(tmp_path, capsys)


def kept_window_history(delivery: Delivery):
    """Two published releases, r1 then r2 a second later, and the new build."""
    r1 = delivery.published("r1")
    r2 = delivery.published("r2", later=True)
    return r1, r2, delivery.build("new")


def short(build) -> str:
    return f"{build.commit[:12]} ({build.digest[:19]})"


# --- Publishing -------------------------------------------------------------------------------------------------------

def test_a_release_is_published_by_tagging_its_image_release_commit(delivery):
    new = delivery.build("new")

    outcome = delivery.publish(new)

    assert (outcome.code, outcome.err) == (0, [])
    assert delivery.tags(new) == {new.commit, new.release_tag}
    assert outcome.out == [
        f"release: {new.commit[:12]} of stack dev, image {new.digest}",
        outcome.out[1],
        "interlock: release images after this publish: 1; ECR keeps the newest 10",
        f"interlock: no downstream live records in {BUCKET}",
        f"tag: {new.release_tag} added to {new.digest[:19]}",
        f"published: {REPOSITORY}@{new.digest} is {new.release_tag}; downstream stacks kept: none",
    ]
    assert outcome.out[1].startswith(f"image: in {REPOSITORY}, pushed 20") and outcome.out[1].endswith("Z")


def test_a_rerun_succeeds_without_writing(delivery):
    new = delivery.build("new")
    delivery.publish(new)

    again = delivery.publish(new)

    assert (again.code, again.err) == (0, [])
    assert f"tag: {new.release_tag} already on {new.digest[:19]}" in again.out
    assert delivery.tags(new) == {new.commit, new.release_tag}


def test_a_rerun_counts_the_release_once(delivery):
    # KEEP_RELEASES=2: prod's r1 and the new release fill the window; counting the new one twice would push r1 out.
    r1 = delivery.published("r1")
    new = delivery.build("new")
    delivery.runs("prod", r1)

    first, again = delivery.publish(new, keep=2), delivery.publish(new, keep=2)

    assert (first.code, again.code) == (0, 0)
    assert f"interlock: prod runs release {short(r1)}, kept" in again.out


def test_the_release_tag_on_another_image_is_refused(delivery):
    new, other = delivery.build("new"), delivery.build("other")
    delivery.tag(other, new.release_tag)

    outcome = delivery.publish(new)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: {new.release_tag} already names image {other.digest} in {REPOSITORY}, not this "
                           f"release's {new.digest}; tags there are immutable, so this build cannot be published"]
    assert delivery.tags(new) == {new.commit}


def test_an_image_missing_from_the_repository_is_refused(delivery):
    never_pushed = build_of("new")

    outcome = delivery.publish(never_pushed)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: image {never_pushed.digest} is not in {REPOSITORY} (ImageNotFoundException): it "
                           "expired or was pushed elsewhere, so this release cannot be published; rebuild the commit"]


# --- The tag, when the listing is stale: PutImage's answers --------------------------------------------------------

def settings(keep: int = 10) -> Settings:
    return Settings(REPOSITORY, BUCKET, keep, STACK, REGION)


def release_of(build) -> Release:
    return Release(build.commit, build.digest, ACCOUNT)


def test_putimage_of_a_tag_the_image_already_has_is_success(delivery):
    new = delivery.published("new")
    ecr, _ = release_publish.clients(REGION)

    # AWS: ImageAlreadyExistsException, "The specified image has already been pushed, and there were no changes to the
    # manifest or image tag after the last push." moto answers the same.
    added = release_publish.tag_release(ecr, settings(), release_of(new), releases=[])

    assert added is False


def test_putimage_of_a_tag_another_image_has_is_refused(delivery):
    new, other = delivery.build("new"), delivery.build("other")
    delivery.tag(other, new.release_tag)
    ecr, _ = release_publish.clients(REGION)

    with pytest.raises(Stop) as refused:  # moto answers ImageAlreadyExistsException here; the tag read back decides
        release_publish.tag_release(ecr, settings(), release_of(new), releases=[])

    assert refused.value.code == REFUSED
    assert refused.value.lines[0].startswith(f"{new.release_tag} already names image {other.digest}")


def test_aws_answer_for_a_tag_on_another_image_is_refused():
    new, other = build_of("new"), build_of("other")
    ecr = boto3.client("ecr", region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub")
    which = {"registryId": ACCOUNT, "repositoryName": REPOSITORY}
    with Stubber(ecr) as stubber:
        stubber.add_response("batch_get_image", {"images": [{
            **which, "imageId": {"imageDigest": new.digest}, "imageManifest": new.manifest,
            "imageManifestMediaType": DOCKER_V2}], "failures": []},
            {**which, "imageIds": [{"imageDigest": new.digest}],
             "acceptedMediaTypes": list(release_publish.MANIFEST_MEDIA_TYPES)})
        stubber.add_client_error(
            "put_image", "ImageTagAlreadyExistsException", http_status_code=400,
            service_message=f"The image tag '{new.release_tag}' already exists in the '{REPOSITORY}' repository and "
                            "cannot be overwritten because the repository is immutable.",
            expected_params={**which, "imageManifest": new.manifest, "imageManifestMediaType": DOCKER_V2,
                             "imageTag": new.release_tag, "imageDigest": new.digest})
        stubber.add_response("describe_images", {"imageDetails": [{
            **which, "imageDigest": other.digest, "imageTags": [other.commit, new.release_tag],
            "imagePushedAt": datetime(2026, 12, 1, tzinfo=UTC)}]},
            {**which, "imageIds": [{"imageTag": new.release_tag}]})

        with pytest.raises(Stop) as refused:
            release_publish.tag_release(ecr, settings(), release_of(new), releases=[])

        stubber.assert_no_pending_responses()
    assert refused.value.lines[0].startswith(f"{new.release_tag} already names image {other.digest}")


# --- The interlock ----------------------------------------------------------------------------------------------------

def test_a_downstream_release_inside_the_kept_window_passes(delivery):
    _, r2, new = kept_window_history(delivery)
    delivery.runs("prod", r2)

    outcome = delivery.publish(new, keep=2)

    assert (outcome.code, outcome.err) == (0, [])
    assert outcome.out[2:4] == ["interlock: release images after this publish: 3; ECR keeps the newest 2",
                                f"interlock: prod runs release {short(r2)}, kept"]
    assert outcome.out[-1].endswith("downstream stacks kept: prod")


def test_a_downstream_release_just_outside_the_kept_window_is_refused(delivery):
    r1, _, new = kept_window_history(delivery)
    delivery.runs("prod", r1)

    outcome = delivery.publish(new, keep=2)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: prod's running release {short(r1)} would no longer be kept after this publish "
                           "(KEEP_RELEASES=2); deploy a newer release to prod, or raise delivery:keepImages"]
    assert delivery.tags(new) == {new.commit}


# --- The interlock: what a stack would roll back to -----------------------------------------------------------------

def test_a_previous_release_inside_the_kept_window_passes(delivery):
    r1, r2, new = kept_window_history(delivery)
    delivery.deployed("prod", r1, r2)

    outcome = delivery.publish(new, keep=3)  # r1, at the edge: two others were pushed later

    assert (outcome.code, outcome.err) == (0, [])
    assert outcome.out[2:5] == ["interlock: release images after this publish: 3; ECR keeps the newest 3",
                                f"interlock: prod runs release {short(r2)}, kept",
                                f"interlock: prod would roll back to release {short(r1)}, kept"]
    assert outcome.out[-1].endswith("downstream stacks kept: prod")


def test_a_previous_release_just_outside_the_kept_window_is_refused(delivery):
    # prod runs r2, and would roll back to r1; after `ops rollback app` it runs r1 while its record still names r2.
    r1, r2, new = kept_window_history(delivery)
    delivery.deployed("prod", r1, r2)

    outcome = delivery.publish(new, keep=2)

    assert (outcome.code, outcome.out[2:]) == (REFUSED, [])
    assert outcome.err == [f"refused: prod's previous release {short(r1)}, its rollback target, would no longer be "
                           "kept after this publish (KEEP_RELEASES=2); deploy a newer release to prod, or raise "
                           "delivery:keepImages"]
    assert delivery.tags(new) == {new.commit}


def test_a_previous_release_no_longer_kept_is_a_note_not_a_refusal(delivery):
    gone = delivery.published("gone")
    r1 = delivery.published("r1", later=True)
    new = delivery.build("new")
    delivery.deployed("prod", gone, r1)
    delivery.ecr.batch_delete_image(repositoryName=REPOSITORY, imageIds=[{"imageDigest": gone.digest}])  # expired

    outcome = delivery.publish(new, keep=2)

    assert (outcome.code, outcome.err) == (0, [])
    assert outcome.out[2:5] == ["interlock: release images after this publish: 2; ECR keeps the newest 2",
                                f"interlock: prod runs release {short(r1)}, kept",
                                f"note: prod's previous release {gone.commit[:12]} is no longer kept; it cannot be "
                                "rolled back to"]
    assert delivery.tags(new) == {new.commit, new.release_tag}


def test_only_the_newest_two_versions_of_a_record_are_protected(delivery):
    r1 = delivery.published("r1")
    r2 = delivery.published("r2", later=True)
    r3, new = delivery.published("r3"), delivery.build("new")
    delivery.deployed("prod", r1, r2, r3)  # r1 is prod's third-newest version: no longer a rollback target

    outcome = delivery.publish(new, keep=3)

    assert (outcome.code, outcome.err) == (0, [])
    assert outcome.out[3:5] == [f"interlock: prod runs release {short(r3)}, kept",
                                f"interlock: prod would roll back to release {short(r2)}, kept"]
    delivery.runs("qa", r1)  # r1 itself is outside the window: a stack that runs it still refuses
    assert delivery.publish(new, keep=3).err == [f"refused: qa's running release {short(r1)} would no longer be kept "
                                                 "after this publish (KEEP_RELEASES=3); deploy a newer release to qa, "
                                                 "or raise delivery:keepImages"]


def test_a_torn_down_stack_protects_nothing(delivery):
    r1 = delivery.published("r1")
    new = delivery.build("new", later=True)
    delivery.deployed("prod", r1, r1)
    delivery.tear_down("prod")  # its newest version is a delete marker

    outcome = delivery.publish(new, keep=1)

    assert (outcome.code, outcome.err) == (0, [])
    assert outcome.out[2:5] == ["interlock: release images after this publish: 2; ECR keeps the newest 1",
                                "interlock: prod was torn down (the newest version of live/prod.zip is a delete "
                                "marker); nothing to keep for it",
                                f"interlock: no downstream live records in {BUCKET}"]
    assert outcome.out[-1].endswith("downstream stacks kept: none")


def test_a_delete_marker_between_versions_is_skipped(delivery):
    # prod was torn down and deployed again: the version before the delete marker is still the one before r2.
    r1, r2, new = kept_window_history(delivery)
    delivery.runs("prod", r1)
    delivery.tear_down("prod")
    delivery.runs("prod", r2)

    outcome = delivery.publish(new, keep=2)

    assert outcome.code == REFUSED
    assert outcome.err[0].startswith(f"refused: prod's previous release {short(r1)}, its rollback target, would no "
                                     "longer be kept")


def test_an_unreadable_previous_version_is_refused_until_it_is_older_than_the_rollback_target(delivery):
    r1, new = delivery.published("r1"), delivery.build("new")
    bad = delivery.record("prod", b"<html>not a bundle</html>")
    delivery.runs("prod", r1)

    refused = delivery.publish(new)
    delivery.runs("prod", r1)  # the advice: deploy again
    again = delivery.publish(new)

    assert refused.code == REFUSED
    assert refused.err == [f"refused: live/prod.zip version {bad} in {BUCKET} cannot be read (it is not a readable "
                           "zip file (File is not a zip file)), so what prod would roll back to is unknown; deploy a "
                           "release to prod (this version is then older than its rollback target), or delete this "
                           "version"]
    assert (again.code, again.err) == (0, [])


def test_this_stacks_own_live_record_is_not_a_downstream(delivery):
    r1 = delivery.published("r1")
    new = delivery.build("new", later=True)
    delivery.runs(STACK, r1)  # dev's record, about to be replaced by this release

    outcome = delivery.publish(new, keep=1)

    assert outcome.code == 0
    assert f"interlock: no downstream live records in {BUCKET}" in outcome.out


@pytest.mark.parametrize(("body", "problem"), [
    (b"<html>not a bundle</html>", "it is not a readable zip file (File is not a zip file)"),
    (bundle_zip({"appspec.yml": "version: 0.0\n"}), "it has no release.json"),
    (bundle_zip({"release.json": "{"}), "its release.json is not JSON (Expecting property name enclosed in double "
                                         "quotes)"),
    (bundle_zip({"release.json": '{"schema": 1, "commit": "abc"}'}), "its release.json names no commit"),
], ids=["not-a-zip", "no-release-json", "not-json", "no-commit"])
def test_an_unreadable_downstream_record_is_refused(delivery, body, problem):
    new = delivery.build("new")
    version = delivery.record("prod", body)

    outcome = delivery.publish(new)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: live/prod.zip version {version} in {BUCKET} cannot be read ({problem}), so what "
                           "prod runs is unknown; fix the record: write a readable one, then delete this version"]


def test_a_downstream_record_naming_an_image_that_is_no_release_is_refused(delivery):
    never_published = delivery.build("old")
    new = delivery.build("new")
    version = delivery.runs("prod", never_published)

    outcome = delivery.publish(new)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: prod runs release {short(never_published)}, which is not a release image in "
                           f"{REPOSITORY} (live/prod.zip version {version} in {BUCKET}), so nothing keeps it; deploy a "
                           "published release to prod"]


def test_every_downstream_problem_is_reported_one_line_each(delivery):
    r1, _, new = kept_window_history(delivery)
    delivery.runs("prod", r1)
    delivery.record("qa", b"")

    outcome = delivery.publish(new, keep=2)

    assert outcome.code == REFUSED
    assert [line.split(" ")[1] for line in outcome.err] == ["prod's", "live/qa.zip"]


def test_a_release_older_than_the_kept_window_is_refused(delivery):
    new = delivery.build("new")
    delivery.published("r1", later=True)

    outcome = delivery.publish(new, keep=1)

    assert outcome.code == REFUSED
    assert outcome.err == [f"refused: this release's image {new.digest[:19]} is not among the newest release images "
                           "(others pushed at the same time or later: 1), so ECR would expire it at once "
                           "(KEEP_RELEASES=1); publish a newer build, or raise delivery:keepImages"]


def test_a_push_time_tie_at_the_edge_of_the_window_counts_against_the_image():
    # ECR's order of two images pushed at the same moment is not documented: neither is taken to be kept.
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    prod, tied, newer = (Image(f"sha256:{c * 64}", moment + timedelta(seconds=s)) for c, s in (("a", 0), ("b", 0),
                                                                                                ("c", 1)))
    after = {image.digest: image for image in (prod, tied, newer)}

    assert not release_publish.kept(prod, after, keep=2)
    assert release_publish.kept(prod, after, keep=3)
    assert release_publish.kept(newer, after, keep=1)


# --- Inputs -----------------------------------------------------------------------------------------------------------

def changed(build, change) -> dict:
    document = release_document(build)
    change(document)
    return document


@pytest.mark.parametrize(("change", "error"), [
    (lambda d: d.update(schema=2), 'it must be an object with "schema": 1'),
    (lambda d: d.pop("commit"), "commit must be a 40-hex-digit git commit, got null"),
    (lambda d: d.update(commit="HEAD"), "commit must be a 40-hex-digit git commit, got HEAD"),
    (lambda d: d.update(image="repo@sha256:1"), '"image" must be an object'),
    (lambda d: d["image"].update(digest="sha256:abc"), "image.digest must be sha256:<64 hex digits>, got sha256:abc"),
    (lambda d: d["image"].update(repository=f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/other"),
     f"image.repository is other, not REPOSITORY_NAME {REPOSITORY}"),
    (lambda d: d["image"].update(repository=f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{REPOSITORY}"),
     f"image.repository is in eu-west-1, but this runs in {REGION}"),
    (lambda d: d["image"].update(repository=f"docker.io/{REPOSITORY}"),
     f"image.repository must be <account>.dkr.ecr.<region>.amazonaws.com/<name>, got docker.io/{REPOSITORY}"),
    (lambda d: d["image"].update(tag="latest"),
     "image.tag must be the commit and image.uri must be <image.repository>@<image.digest>"),
    (lambda d: d.update(stack="prod"), f"stack is prod, but DELIVERY_STACK is {STACK}"),
    (lambda d: d.pop("drillFailureRate"), "drillFailureRate must be a number from 0 to 1, got null"),
    (lambda d: d.update(drillFailureRate="0"), "drillFailureRate must be a number from 0 to 1, got 0"),
    (lambda d: d.update(drillFailureRate=True), "drillFailureRate must be a number from 0 to 1, got true"),
], ids=["schema", "no-commit", "commit", "image", "digest", "other-repository", "other-region", "not-ecr", "tag",
        "stack", "no-drill-rate", "drill-rate-text", "drill-rate-bool"])
def test_a_malformed_release_json_is_an_input_error(delivery, change, error):
    new = delivery.build("new")

    outcome = delivery.publish(new, bundle=delivery.bundle(new, changed(new, change)))

    assert (outcome.code, outcome.out, outcome.err) == (2, [], [f"error: release.json: {error}"])
    assert delivery.tags(new) == {new.commit}


def test_a_drill_release_is_never_published_even_when_its_bake_passed(delivery):
    new = delivery.build("new")

    outcome = delivery.publish(new, bundle=delivery.bundle(new, changed(new, lambda d: d.update(
        drillFailureRate=0.02))))

    assert (outcome.code, outcome.out) == (1, [])
    assert outcome.err == ["refused: this is a drill release (it fails 0.02 of API requests on purpose), and a drill "
                           "release is never published; set delivery:drillFailureRate back to 0 and release again"]
    assert delivery.tags(new) == {new.commit}


def test_a_bundle_without_release_json_or_with_broken_json_is_an_input_error(delivery, tmp_path):
    new = delivery.build("new")
    broken = delivery.bundle(new)
    (broken / "release.json").write_text("{\n  'commit': 1\n}")

    missing, not_json = delivery.publish(new, bundle=tmp_path / "empty"), delivery.publish(new, bundle=broken)

    assert (missing.code, missing.err) == (2, [f"error: no release.json in {tmp_path / 'empty'}: run this in the "
                                               "extracted bundle (CODEBUILD_SRC_DIR) or pass --bundle"])
    assert (not_json.code, not_json.err) == (2, ["error: release.json is not JSON: Expecting property name enclosed "
                                                 "in double quotes at line 2 column 3"])


@pytest.mark.parametrize(("environ", "error"), [
    ({"REPOSITORY_NAME": ""}, "REPOSITORY_NAME must be an ECR repository name, got \"\""),
    ({"KEEP_RELEASES": "ten"}, "KEEP_RELEASES must be a whole number from 1 to 1000, got ten"),
    ({"KEEP_RELEASES": "0"}, "KEEP_RELEASES must be a whole number from 1 to 1000, got 0"),
    ({"RELEASE_BUCKET": "s3://bucket"}, "RELEASE_BUCKET must be an S3 bucket name, got s3://bucket"),
    ({"DELIVERY_STACK": "dev\nprod"}, "DELIVERY_STACK must be this stack's name, got dev\\x0aprod"),
    ({"AWS_REGION": "", "AWS_DEFAULT_REGION": ""},
     "AWS_REGION (or AWS_DEFAULT_REGION) must name a region such as eu-west-1, got \"\""),
], ids=["repository", "keep-word", "keep-zero", "bucket", "stack", "region"])
def test_a_bad_environment_is_an_input_error(delivery, environ, error):
    new = delivery.build("new")

    outcome = delivery.publish(new, **environ)

    assert (outcome.code, outcome.out, outcome.err) == (2, [], [f"error: {error}"])


# --- AWS failures, in one line ----------------------------------------------------------------------------------------

def test_clients_have_timeouts_and_bounded_standard_retries():
    ecr, s3 = release_publish.clients(REGION)

    for client in (ecr, s3):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (5, 10)
        assert config.retries == {"mode": "standard", "total_max_attempts": 3}
        assert client.meta.region_name == REGION


def set_moto_auth(url: str, unauthenticated_requests: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset-auth", data=unauthenticated_requests.encode(),
                                     headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(request, timeout=5).close()


@pytest.mark.parametrize("missing", ["s3:ListBucketVersions", "s3:GetObjectVersion"])
def test_a_denied_call_names_the_iam_action(delivery, moto_server, monkeypatch, missing):
    r1, new = delivery.published("r1"), delivery.build("new")
    delivery.runs("prod", r1)
    iam = boto3.client("iam")
    iam.create_user(UserName="publisher")
    # s3:ListBucket and s3:GetObject, what the publisher once needed, allow neither call.
    actions = ["ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage", "s3:ListBucket", "s3:GetObject",
               "s3:ListBucketVersions", "s3:GetObjectVersion"]
    iam.put_user_policy(UserName="publisher", PolicyName=f"no-{missing}", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [a for a in actions if a != missing]}]}))
    key = iam.create_access_key(UserName="publisher")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN")

    set_moto_auth(moto_server, "0")
    try:
        outcome = delivery.publish(new)
    finally:
        set_moto_auth(moto_server, "inf")

    assert outcome.code == 3
    assert outcome.err == [f"error: AWS denied {missing} (AccessDenied: Access Denied); the publisher's role needs "
                           f"{missing}"]


def test_aws_refusal_of_an_ecr_call_names_the_action_aws_names():
    ecr = boto3.client("ecr", region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub")
    denial = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/publisher/AWSCodeBuild-1 is not authorized to perform: "
              f"ecr:DescribeImages on resource: arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY} because no "
              "identity-based policy allows the ecr:DescribeImages action")
    with Stubber(ecr) as stubber:
        stubber.add_client_error("describe_images", "AccessDeniedException", denial, 400)
        with pytest.raises(release_publish.ClientError) as denied:
            release_publish.find_image(ecr, settings(), release_of(build_of("new")))

    assert release_publish.client_error_line(denied.value) == (
        f"AWS denied ecr:DescribeImages (AccessDeniedException: {denial}); the publisher's role needs "
        "ecr:DescribeImages")


def test_any_other_aws_error_is_named_by_its_code(delivery):
    new = delivery.build("new")
    delivery.ecr.delete_repository(repositoryName=REPOSITORY, force=True)

    outcome = delivery.publish(new)

    assert outcome.code == 3
    assert outcome.err == [f"error: AWS DescribeImages failed: RepositoryNotFoundException: The repository with name "
                           f"'{REPOSITORY}' does not exist in the registry with id '{ACCOUNT}'"]


def test_an_unreachable_aws_is_one_line(delivery, monkeypatch):
    new = delivery.build("new")
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)

    outcome = delivery.publish(new)

    assert outcome.code == 3
    assert outcome.err == [f"error: cannot connect to AWS at {closed}/ (check the network, AWS_REGION, "
                           "AWS_ENDPOINT_URL)"]


def test_no_credentials_is_one_line(delivery, monkeypatch, tmp_path):
    new = delivery.build("new")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    outcome = delivery.publish(new)

    assert outcome.code == 3
    assert outcome.err == ["error: no AWS credentials: CodeBuild passes its service role's; elsewhere set AWS_PROFILE "
                           "or access keys"]


# --- Standalone, as CodeBuild runs it ---------------------------------------------------------------------------------

def test_codebuild_runs_it_as_a_lone_file_in_the_bundle(delivery, tmp_path):
    r1, new = delivery.published("r1"), delivery.build("new")
    delivery.runs("prod", r1)
    script = tmp_path / "codebuild-tmp" / "release_publish.py"  # the buildspec writes it to $CODEBUILD_TMPDIR
    script.parent.mkdir()
    shutil.copy(release_publish.__file__, script)
    environ = {key: value for key, value in os.environ.items() if key.startswith("AWS_") or key in ("PATH", "HOME")}

    # -I: no PYTHONPATH, no user site, no script directory on sys.path; the project is out of reach.
    done = subprocess.run([sys.executable, "-I", str(script)], cwd=delivery.bundle(new), capture_output=True, text=True,
                          env={**environ, **settings_environment()}, timeout=60)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1].startswith(f"published: {REPOSITORY}@{new.digest}")
    assert delivery.tags(new) == {new.commit, new.release_tag}


def test_it_imports_only_the_standard_library_and_boto3():
    tree = ast.parse(Path(release_publish.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert imported - set(sys.stdlib_module_names) == {"boto3", "botocore"}
