"""`python -m ops releases`: the published releases, newest first, where each is live, and what its deployments in
one stack did; builds deployed there that were never published; unreadable bundles as rows, never a traceback; and
the faults of the other AWS commands (throttling, refusals, an endpoint that never answers, a signal mid-read, a
reader that went away), each one line on stderr and an exit code.

S3 is moto's (the `aws` fixture) with real zips; CodeDeploy is moto's where it suffices (moto keeps every deployment
`Created` and fills no rollbackInfo) and `FakeCodeDeploy` (a loopback endpoint checked against the botocore model)
for statuses and rollbacks. Faults are injected by `Endpoint`, a loopback proxy in front of moto."""

from __future__ import annotations

import functools
import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ops import aws as ops_aws
from ops.releases import collect as releases_collect
from ops.releases.bundle import MAX_MEMBER_BYTES
from tests.ops.fake_pulumi import FakePulumi
from tests.ops.releases_world import (
    APPLICATION,
    ARTIFACTS,
    DEV_APPLICATION,
    DEV_GROUP,
    FLAGS,
    GROUP,
    RELEASE_BUCKET,
    RELEASE_KEY,
    ROOT,
    Endpoint,
    FakeCodeDeploy,
    World,
    bundle,
    commit_of,
    digest_of,
    error_answer,
    execution_of,
    release_json,
    releases_json,
    rows_by_commit,
    run_cli,
    run_process,
    s3_error,
    validate,
)
from tests.ops.test_cli import heavy, probe
from tests.ops.test_faults_aws_network import BOUND, silent_endpoint  # noqa: F401 (a fixture)

NONE = "—"
OLD = datetime(2020, 1, 1, tzinfo=UTC)


@functools.cache
def shared_session(region: str | None) -> boto3.session.Session:
    """One session per region for the in-process runs: it caches the service models, so each run's clients are cheap
    (the environment it reads stays live: a test's endpoint variables apply to the clients it makes)."""
    return boto3.session.Session(region_name=region)


@pytest.fixture(autouse=True)
def cheap_sessions(monkeypatch):
    monkeypatch.setattr(releases_collect.Reader, "_session", lambda reader: shared_session(reader.handles.region))


@pytest.fixture
def world(aws) -> World:
    return World()


@pytest.fixture
def codedeploy(aws, monkeypatch) -> Iterator[FakeCodeDeploy]:
    """CodeDeploy answered by the loopback fake; S3 stays on moto (a service's own endpoint variable wins)."""
    fake = FakeCodeDeploy()
    with fake.serving() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", url)
        yield fake


def table(out: str) -> list[list[str]]:
    """The table's rows as cells (split on two or more spaces), header first; the lines of `unreadable:` aside."""
    lines = out.split("\n\n")[1].splitlines()
    return [re.split(r" {2,}", line.strip()) for line in lines if not line.startswith("    ")]


def cells(out: str, commit: str) -> list[str]:
    found = [row for row in table(out) if row[0] == commit[:12]]
    assert len(found) == 1, out
    return found[0]


# --- what it lists (moto) -------------------------------------------------------------------------------------------


@pytest.fixture
def promoted(world: World) -> dict[str, bytes]:
    """dev published r1, r2, r3; dev runs r3, prod runs r2; prod deployed r1 then r2, and a hotfix build."""
    zips = {name: bundle(release_json(name)) for name in ("r1", "r2", "r3", "hotfix")}
    for name in ("r1", "r2", "r3"):
        world.publish(zips[name])
    world.live("dev", zips["r3"])
    world.live("prod", zips["r2"])
    for name in ("r1", "r2", "hotfix"):
        world.deploy("prod", zips[name])
    return zips


def test_a_promoted_stack_sees_every_release_where_it_is_live_and_its_deployments_here(promoted, capsys):
    code, out, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == (f"Stack prod: releases in s3://{RELEASE_BUCKET}/{RELEASE_KEY}, deployments of "
                        f"{APPLICATION}/{GROUP}")
    assert lines[1] == "The newest 3 releases; the newest 3 of 3 deployments read"
    assert table(out)[0] == ["RELEASE", "DIGEST", "PUBLISHED (UTC)", "FROM", "LIVE IN", "IN PROD", "ROLLBACKS"]
    r3, r2, r1 = (cells(out, commit_of(name)) for name in ("r3", "r2", "r1"))
    assert r3[1:] == [digest_of("r3")[7:19], r3[2], f"dev/{execution_of('r3')[:8]}", "dev", NONE, NONE]
    assert r2[4:] == ["prod", "InProgress (Created)", NONE]  # moto keeps a deployment Created
    assert r1[4:] == [NONE, "InProgress (Created)", NONE]
    assert datetime.strptime(r3[2], "%Y-%m-%d %H:%M")
    hotfix = cells(out, commit_of("hotfix"))
    assert hotfix[2:] == ["not published", f"dev/{execution_of('hotfix')[:8]}", NONE, "InProgress (Created)", NONE]
    releases = [row[0] for row in table(out)[1:]]
    assert releases.index(commit_of("r3")[:12]) < releases.index(commit_of("r2")[:12]) < releases.index(
        commit_of("r1")[:12])


def test_json_is_one_document_in_the_schema(promoted, capsys, world):
    document = releases_json(capsys, "-s", "prod", *FLAGS)

    rows = rows_by_commit(document)
    assert [row["kind"] for row in document["releases"]].count("release") == 3
    r2 = rows[commit_of("r2")]
    assert r2["digest"] == digest_of("r2") and r2["liveIn"] == ["prod"] and r2["beyondLimit"] is False
    assert r2["builtBy"] == {"stack": "dev", "pipelineExecutionId": execution_of("r2"),
                             "buildId": f"app-dev-build:{execution_of('build r2')}",
                             "builtAt": r2["builtBy"]["builtAt"]}
    assert datetime.strptime(r2["builtBy"]["builtAt"], "%Y-%m-%dT%H:%M:%SZ")
    assert r2["here"]["result"] == "InProgress" and r2["here"]["status"] == "Created"
    assert r2["deployments"][0]["revision"].startswith(f"s3://{ARTIFACTS['prod']}/")
    assert rows[commit_of("r3")]["here"] is None and rows[commit_of("r3")]["deployments"] == []
    assert rows[commit_of("hotfix")]["kind"] == "not_published" and rows[commit_of("hotfix")]["versionId"] is None
    versions = world.s3.list_object_versions(Bucket=RELEASE_BUCKET, Prefix=RELEASE_KEY)["Versions"]
    assert [row["versionId"] for row in document["releases"] if row["versionId"]] == [v["VersionId"]
                                                                                       for v in versions]
    assert document["live"] == [
        {"stack": "dev", "key": "live/dev.zip", "commit": commit_of("r3"), "digest": digest_of("r3"), "error": None},
        {"stack": "prod", "key": "live/prod.zip", "commit": commit_of("r2"), "digest": digest_of("r2"),
         "error": None}]
    assert document["region"] == "us-east-1" and document["deploymentsRead"] == 3


def test_a_building_stack_lists_the_builds_it_deployed_that_were_never_published(world, capsys):
    """dev deploys each build before it bakes and publishes it: a failed or still baking build is no release."""
    published, failed = bundle(release_json("good")), bundle(release_json("broken"))
    world.deploy("dev", published, DEV_APPLICATION, DEV_GROUP)
    world.publish(published)
    world.live("dev", published)
    world.deploy("dev", failed, DEV_APPLICATION, DEV_GROUP)

    code, out, _ = run_cli(capsys, "releases", "-s", "dev", "--release-bucket", RELEASE_BUCKET, "--application",
                           DEV_APPLICATION, "--deployment-group", DEV_GROUP)

    assert code == 0
    assert table(out)[0][5] == "IN DEV"
    assert cells(out, commit_of("good"))[4:6] == ["dev", "InProgress (Created)"]
    assert cells(out, commit_of("broken"))[2] == "not published"


def test_the_stack_outputs_name_everything_and_pulumi_is_asked_once(promoted, capsys, tmp_path, monkeypatch):
    pulumi = FakePulumi(tmp_path).install(monkeypatch)
    pulumi.add_stack("prod", outputs={
        "region": "us-east-1", "releaseBucket": RELEASE_BUCKET, "releaseKey": RELEASE_KEY, "liveKey": "live/prod.zip",
        "codedeployApplication": APPLICATION, "codedeployDeploymentGroup": GROUP,
        "dashboardUrl": "https://example.invalid/dashboard", "promotedFrom": "example-org/delivery/dev"})

    code, out, err = run_cli(capsys, "releases", "-s", "prod")

    assert code == 0 and err == ""
    assert out.startswith("Stack prod (promoted from example-org/delivery/dev): releases in s3://delivery-releases/")
    assert pulumi.commands() == ["stack output"]


def test_flags_alone_never_run_pulumi(promoted, capsys, tmp_path, monkeypatch):
    pulumi = FakePulumi(tmp_path).install(monkeypatch)

    code, _, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0 and pulumi.calls() == []


@pytest.mark.parametrize(("missing", "flag"), [("releaseBucket", "--release-bucket"),
                                               ("codedeployApplication", "--application"),
                                               ("codedeployDeploymentGroup", "--deployment-group")])
def test_a_stack_without_an_output_says_which_flag_names_it(aws, capsys, tmp_path, monkeypatch, missing, flag):
    outputs = {"releaseBucket": RELEASE_BUCKET, "codedeployApplication": APPLICATION,
               "codedeployDeploymentGroup": GROUP}
    del outputs[missing]
    FakePulumi(tmp_path).install(monkeypatch).add_stack("prod", outputs=outputs)

    code, out, err = run_cli(capsys, "releases", "-s", "prod")

    assert (code, out) == (2, "")
    assert err == f"error: the stack has no output `{missing}`; pass {flag} to name it\n"


def test_limit_shows_the_newest_releases_and_says_there_are_more(world, capsys):
    for name in ("r1", "r2", "r3"):
        world.publish(bundle(release_json(name)))

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS, "--limit", "2")

    assert code == 0
    assert out.splitlines()[1].startswith("The newest 2 releases (older ones exist: --limit N shows more)")
    assert [row[0] for row in table(out)[1:]] == [commit_of("r3")[:12], commit_of("r2")[:12]]


def test_a_recent_deployment_of_an_older_release_is_shown_and_builds_are_told_apart(world, capsys):
    """limit 2 of 3 releases: prod redeployed r0 (older than the two listed) and a hotfix build that was never
    published; a deployment made before the oldest listed release, of a build not listed, is only counted."""
    r0 = bundle(release_json("r0", built_at=OLD))
    world.publish(r0)
    world.deploy("prod", bundle(release_json("forgotten", built_at=OLD)))
    time.sleep(1.1)  # S3 keeps LastModified to the second: the next release is published a second later
    for name in ("r1", "r2"):
        world.publish(bundle(release_json(name)))
    world.deploy("prod", r0)
    world.deploy("prod", bundle(release_json("hotfix", built_at=datetime.now(UTC) + timedelta(minutes=1))))

    document = releases_json(capsys, "-s", "prod", *FLAGS, "--limit", "2")

    kinds = [(row["commit"], row["kind"], row["beyondLimit"]) for row in document["releases"]]
    assert kinds == [(commit_of("hotfix"), "not_published", False), (commit_of("r2"), "release", False),
                     (commit_of("r1"), "release", False), (commit_of("r0"), "release", True)]
    assert rows_by_commit(document)[commit_of("r0")]["here"]["result"] == "InProgress"
    assert commit_of("forgotten") not in rows_by_commit(document)
    assert document["notes"] == ["1 of the 3 deployments read are older than the oldest release listed, of releases "
                                 "not listed (a larger --limit shows them)"]


def test_a_build_not_found_within_the_lookback_is_not_called_unpublished(world, capsys, monkeypatch):
    monkeypatch.setattr(releases_collect, "LOOKBACK", 0)
    world.publish(bundle(release_json("r0", built_at=OLD)))
    time.sleep(1.1)
    for name in ("r1", "r2"):
        world.publish(bundle(release_json(name)))
    world.deploy("prod", bundle(release_json("r0", built_at=OLD)))

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS, "--limit", "2")

    assert code == 0
    assert cells(out, commit_of("r0"))[2] == "not found"


@pytest.mark.parametrize(("fake", "order"), [("moto", "oldest first"), ("loopback", "newest first")])
def test_only_the_newest_deployments_are_read_whatever_order_they_are_listed_in(aws, capsys, monkeypatch, fake, order):
    world = World()
    release = bundle(release_json("r1"))
    world.publish(release)
    location = world.artifact("prod", release)
    if fake == "moto":
        ids = [world.codedeploy.create_deployment(
            applicationName=APPLICATION, deploymentGroupName=GROUP,
            revision={"revisionType": "S3", "s3Location": location})["deploymentId"] for _ in range(60)]
        newest = ids[-5:][::-1]
        document = releases_json(capsys, "-s", "prod", *FLAGS, "--limit", "1")
    else:
        loopback = FakeCodeDeploy(page_size=7)
        start = datetime.now(UTC) - timedelta(days=3)
        for n in range(60):
            loopback.add(f"d-{n:09d}", "Succeeded", location, start + timedelta(minutes=n))
        newest = [f"d-{n:09d}" for n in range(59, 54, -1)]
        with loopback.serving() as url:
            monkeypatch.setenv("AWS_ENDPOINT_URL_CODEDEPLOY", url)
            document = releases_json(capsys, "-s", "prod", *FLAGS, "--limit", "1")
        operations = [call.rsplit(".", 1)[-1] for call in loopback.calls]
        assert operations == ["ListDeployments"] * 9 + ["BatchGetDeployments"] * 2  # both ends, nothing more
    assert (document["deploymentsListed"], document["deploymentsRead"]) == (60, 5)
    read = document["releases"][0]["deployments"]
    assert {d["deploymentId"] for d in read} == set(newest), order
    assert [d["createdAt"] for d in read] == sorted((d["createdAt"] for d in read), reverse=True)


def test_live_records_that_are_not_listed_or_unreadable_are_noted(world, capsys):
    release = bundle(release_json("r1"))
    world.publish(release)
    world.live("prod", release)
    world.live("qa", bundle(release_json("qa-build")))
    world.live("broken", b"not a zip")
    world.s3.put_object(Bucket=RELEASE_BUCKET, Key="live/README.txt", Body=b"not a record")
    world.s3.put_object(Bucket=RELEASE_BUCKET, Key="live/old/prod.zip", Body=release)

    document = releases_json(capsys, "-s", "prod", *FLAGS)

    assert [record["stack"] for record in document["live"]] == ["broken", "prod", "qa"]
    assert document["notes"] == [
        "live/broken.zip: unreadable: not a zip file (File is not a zip file)",
        f"live/qa.zip: qa runs {commit_of('qa-build')[:12]} ({digest_of('qa-build')[7:19]}), which is not among the "
        "releases listed",
        f"{APPLICATION}/{GROUP} has no deployments yet",
    ]


def test_a_delete_marker_on_the_release_key_is_noted(world, capsys):
    world.publish(bundle(release_json("r1")))
    world.s3.delete_object(Bucket=RELEASE_BUCKET, Key=RELEASE_KEY)

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0 and commit_of("r1")[:12] in out
    assert (f"the current version of s3://{RELEASE_BUCKET}/{RELEASE_KEY} is a delete marker: a promoted pipeline "
            "cannot read the latest release") in out


def test_nothing_published_and_nothing_deployed_is_said_plainly(world, capsys):
    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0
    assert "no releases published yet, and no deployments here" in out
    validate(releases_json(capsys, "-s", "prod", *FLAGS))


# --- statuses and rollbacks (CodeDeploy on the loopback fake) -------------------------------------------------------


def test_each_release_shows_its_last_result_here_and_codedeploy_s_rollbacks(world, codedeploy, capsys):
    zips = {name: bundle(release_json(name)) for name in ("r1", "r2", "r3", "r4", "r5")}
    where = {}
    for name, release in zips.items():
        world.publish(release)
        where[name] = world.artifact("prod", release)
    now = datetime.now(UTC)
    codedeploy.page_size = 2  # three pages for six deployments
    codedeploy.add("d-R1AAAAAAA", "Succeeded", where["r1"], now - timedelta(hours=5))
    codedeploy.add("d-R2AAAAAAA", "Failed", where["r2"], now - timedelta(hours=4),
                   rollback={"rollbackDeploymentId": "d-RBAAAAAAA"},
                   error={"code": "ALARM_ACTIVE", "message": "One or more alarms have been activated"})
    codedeploy.add("d-RBAAAAAAA", "Succeeded", where["r1"], now - timedelta(hours=4) + timedelta(minutes=9),
                   creator="codeDeployRollback", rollback={"rollbackTriggeringDeploymentId": "d-R2AAAAAAA"})
    codedeploy.add("d-R3AAAAAAA", "Stopped", where["r3"], now - timedelta(hours=3))
    codedeploy.add("d-OPSAAAAAA", "Succeeded", where["r1"], now - timedelta(hours=2),
                   description="ops rollback app: redeploy d-R1AAAAAAA's revision")
    codedeploy.add("d-R4AAAAAAA", "InProgress", where["r4"], now - timedelta(minutes=10))

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0
    assert cells(out, commit_of("r5"))[5:] == [NONE, NONE]
    assert cells(out, commit_of("r4"))[5:] == ["InProgress", NONE]
    assert cells(out, commit_of("r3"))[5:] == ["Stopped", NONE]
    assert cells(out, commit_of("r2"))[5:] == ["Failed", "rolled back (d-RBAAAAAAA)"]
    assert cells(out, commit_of("r1"))[5:] == ["Succeeded (ops rollback app)",
                                               "restored by d-RBAAAAAAA (rollback of d-R2AAAAAAA)"]
    assert [call.rsplit(".", 1)[-1] for call in codedeploy.calls].count("ListDeployments") == 3

    document = releases_json(capsys, "-s", "prod", *FLAGS)
    r2 = rows_by_commit(document)[commit_of("r2")]
    assert r2["rollbacks"] == [{"kind": "rolledBack", "deploymentId": "d-R2AAAAAAA",
                                "rollbackDeploymentId": "d-RBAAAAAAA"}]
    assert r2["deployments"][0]["errorCode"] == "ALARM_ACTIVE"
    r1 = rows_by_commit(document)[commit_of("r1")]
    assert [d["deploymentId"] for d in r1["deployments"]] == ["d-OPSAAAAAA", "d-RBAAAAAAA", "d-R1AAAAAAA"]
    assert r1["deployments"][1]["creator"] == "codeDeployRollback"


# --- unreadable bundles ---------------------------------------------------------------------------------------------

MALFORMED = {
    "not a zip": (b"PK\x03\x04 this is no zip", "not a zip file"),
    "no release.json": (bundle(None), "the bundle has no release.json"),
    "not JSON": (bundle(b'{"schema": 1,'), "release.json is not JSON (Expecting property name enclosed in double "
                                            "quotes at line 1 column 14)"),
    "not UTF-8": (bundle(b'\xff{"schema": 1}'), "release.json is not UTF-8 (at byte 0)"),
    "nested too deeply": (bundle(b"[" * 100_000), "release.json is JSON that cannot be read"),
    "not an object": (bundle(b"[]"), "release.json is not a JSON object"),
    "schema 2": (bundle(release_json("x", schema=2)), "release.json has schema 2; this ops reads schema 1"),
    "schema true": (bundle(release_json("x", schema=True)), "release.json has schema true; this ops reads schema 1"),
    "short commit": (bundle(release_json("x", commit="abc123")),
                     'release.json `commit` is not 40 hex digits: "abc123"'),
    "no image": (bundle(release_json("x", image="app:latest")), "release.json has no `image` object"),
    "a tag for a digest": (bundle(release_json("x", image={"digest": "latest"})),
                           'release.json `image.digest` is not sha256:<64 hex>: "latest"'),
    "no stack": (bundle(release_json("x", stack=None)), "release.json `stack` is not a stack name: null"),
    "a number for text": (bundle(release_json("x", buildId=7)), "release.json `buildId` is not a string: 7"),
    "a huge release.json": (bundle(release_json("x", padding=" " * (2 * MAX_MEMBER_BYTES))),
                            "release.json is larger than 1024 KiB"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_release_whose_release_json_cannot_be_read_is_a_row_that_says_why(world, capsys, case):
    data, reason = MALFORMED[case]
    world.publish(bundle(release_json("good")))
    version = world.publish(data)

    code, out, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0 and err == "" and "Traceback" not in out
    lines = out.splitlines()
    row = next(index for index, line in enumerate(lines) if line.startswith("unreadable "))
    assert lines[row + 1].startswith(f"    unreadable: {reason}")
    assert lines[row + 1].endswith(f"[s3://{RELEASE_BUCKET}/{RELEASE_KEY} (version {version})]")
    assert commit_of("good")[:12] in out
    document = releases_json(capsys, "-s", "prod", *FLAGS)
    assert document["releases"][0]["kind"] == "unreadable" and document["releases"][0]["error"].startswith(reason)


def test_the_release_json_the_build_writes_is_read(world, capsys):
    """The producer's own code (app/artifact.py) writes release.json; a build outside a pipeline has no execution."""
    from app.artifact import image_reference, release_record

    image = image_reference("123456789012.dkr.ecr.us-east-1.amazonaws.com/app", commit_of("r1"), digest_of("r1"))
    for execution in (execution_of("r1"), ""):
        record = release_record(image, "dev", f"app-dev-build:{execution_of('build')}", execution,
                                "2026-11-26T12:00:00Z", "0.25")
        world.publish(bundle(record))

    document = releases_json(capsys, "-s", "prod", *FLAGS)

    assert [(row["kind"], row["commit"], row["digest"]) for row in document["releases"]] == [
        ("release", commit_of("r1"), digest_of("r1"))] * 2
    assert [row["builtBy"]["pipelineExecutionId"] for row in document["releases"]] == ["", execution_of("r1")]
    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)
    assert code == 0
    assert [row[3] for row in table(out)[1:]] == ["dev", f"dev/{execution_of('r1')[:8]}"]


def test_escape_sequences_in_a_release_json_do_not_reach_the_terminal(world, capsys):
    world.publish(bundle(release_json("r1", stack="\x1b]0;owned\x07dev\x1b[2J")))

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert cells(out, commit_of("r1"))[3].startswith("\\x1b]0;owned\\x07dev\\x1b[2J/")


def test_deployments_whose_revision_cannot_be_read_are_rows_too(world, capsys):
    """An expired artifact (NoSuchKey, twice: one row), a revision not in S3, a tar bundle."""
    expired = world.artifact("prod", bundle(release_json("gone")))
    world.s3.delete_object(Bucket=expired["bucket"], Key=expired["key"])
    for _ in range(2):
        world.codedeploy.create_deployment(applicationName=APPLICATION, deploymentGroupName=GROUP,
                                           revision={"revisionType": "S3", "s3Location": expired})
    world.codedeploy.create_deployment(applicationName=APPLICATION, deploymentGroupName=GROUP, revision={
        "revisionType": "GitHub", "gitHubLocation": {"repository": "org/app", "commitId": commit_of("gh")}})
    tar = dict(world.artifact("prod", b"tar"), bundleType="tgz")
    world.codedeploy.create_deployment(applicationName=APPLICATION, deploymentGroupName=GROUP,
                                       revision={"revisionType": "S3", "s3Location": tar})

    code, out, _ = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 0
    reasons = [line.strip() for line in out.splitlines() if line.startswith("    unreadable: ")]
    assert len(reasons) == 3
    assert reasons[0].startswith("unreadable: the bundle is a tgz, not a zip [s3://app-prod-artifacts/")
    assert reasons[1].startswith("unreadable: the revision is of type GitHub, not a bundle in S3 [deployment ")
    assert reasons[2].startswith("unreadable: S3 answered NoSuchKey: The specified key does not exist. "
                                 f"[s3://{expired['bucket']}/{expired['key']}; deployment ")
    assert reasons[2].count("; deployment ") == 2
    validate(releases_json(capsys, "-s", "prod", *FLAGS))


# --- arguments and handles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "1001", "x", "1.5", ""])
def test_a_bad_limit_is_one_line(capsys, limit):
    with pytest.raises(SystemExit) as stop:
        run_cli(capsys, "releases", "-s", "prod", *FLAGS, f"--limit={limit}")
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.startswith("python -m ops releases: error: argument --limit: expected a whole number from 1 to 1000")
    assert err.count("\n") == 1


def test_a_release_bucket_that_does_not_exist_is_one_line_naming_where_it_came_from(aws, capsys):
    code, _, err = run_cli(capsys, "releases", "-s", "prod", "--release-bucket", "no-such-bucket", "--application",
                           APPLICATION, "--deployment-group", GROUP)

    assert code == 2
    assert err == ("error: s3:ListObjectVersions failed: NoSuchBucket: The specified bucket does not exist; the "
                   "release bucket does not exist (stack output releaseBucket, or --release-bucket)\n")


def test_a_deployment_group_that_does_not_exist_is_one_line(world, codedeploy, capsys):
    codedeploy.fault = lambda target, _: error_answer(
        400, "DeploymentGroupDoesNotExistException", "No Deployment Group found for name: app-prod-fleet")

    code, _, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 2
    assert err == ("error: codedeploy:ListDeployments failed: DeploymentGroupDoesNotExistException: No Deployment "
                   "Group found for name: app-prod-fleet; check the stack output codedeployDeploymentGroup, or "
                   "--deployment-group\n")


def test_a_region_name_of_the_wrong_shape_is_one_line(aws, capsys):
    code, _, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS, "--region", "moon 1")

    assert code == 2
    assert err.startswith("error: `moon 1` is not a valid AWS region name") and err.count("\n") == 1


def test_help_loads_no_aws_sdk():
    shown = probe("releases", "--help")
    assert shown["code"] == 0 and heavy(shown["modules"]) == []
    assert "--release-bucket" in shown["help"] and "ops.releases.collect" not in shown["modules"]


# --- faults: throttling and refusals --------------------------------------------------------------------------------


@pytest.fixture
def proxy(aws, monkeypatch):
    """Every AWS call goes through an Endpoint in front of moto; a test sets `fault(method, path, headers)`."""
    faults = {"fault": lambda method, path, headers: None}
    endpoint = Endpoint(lambda method, path, headers: faults["fault"](method, path, headers), upstream=aws)
    with endpoint.serving() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        endpoint.set_fault = lambda fault: faults.update(fault=fault)
        yield endpoint


def test_s3_that_keeps_throttling_is_retried_a_bounded_number_of_times_then_one_line(world, proxy, capsys):
    proxy.set_fault(lambda method, path, headers: s3_error(503, "SlowDown", "Please reduce your request rate."))

    code, out, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert (code, out) == (2, "")
    assert len(proxy.requests) == ops_aws.ATTEMPTS
    assert err == (f"error: AWS kept throttling s3:ListObjectVersions (SlowDown) after {ops_aws.ATTEMPTS} attempts; "
                   "try again in a minute\n")


def test_codedeploy_that_keeps_throttling_ends_the_command_in_one_line(world, codedeploy, capsys):
    codedeploy.fault = lambda target, _: error_answer(400, "ThrottlingException", "Rate exceeded")

    code, _, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 2 and len(codedeploy.calls) == ops_aws.ATTEMPTS
    assert err == (f"error: AWS kept throttling codedeploy:ListDeployments (ThrottlingException) after "
                   f"{ops_aws.ATTEMPTS} attempts; try again in a minute\n")


def test_throttling_of_one_zip_is_no_unreadable_row_but_the_end(promoted, proxy, capsys):
    proxy.set_fault(lambda method, path, headers: s3_error(503, "SlowDown", "Please reduce your request rate.")
                    if path.startswith(f"/{ARTIFACTS['prod']}/") else None)

    code, out, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert (code, out) == (2, "")
    assert err == (f"error: AWS kept throttling s3:GetObject (SlowDown) after {ops_aws.ATTEMPTS} attempts; try again "
                   "in a minute\n")


DENIED_BY = "User: arn:aws:sts::123456789012:assumed-role/operator/me is not authorized to perform: {} on resource: {}"


def s3_denied(message: str = "Access Denied"):
    return s3_error(403, "AccessDenied", message)


@pytest.mark.parametrize(("case", "permission", "what"), [
    ("list versions", "s3:ListBucketVersions", f"the versions of s3://{RELEASE_BUCKET}/{RELEASE_KEY}"),
    ("get a version", "s3:GetObjectVersion", f"s3://{RELEASE_BUCKET}/{RELEASE_KEY} (version "),
    ("get an artifact", "s3:GetObject", f"s3://{ARTIFACTS['prod']}/app-prod/BuildArtif/"),
    ("list live records", "s3:ListBucket", f"the live records s3://{RELEASE_BUCKET}/live/*.zip"),
])
def test_an_s3_refusal_is_one_line_naming_the_permission(promoted, proxy, capsys, case, permission, what):
    def fault(method, path, headers):
        bucket_path = path.split("?")[0]
        if case == "list versions" and "versions" in path:
            return s3_denied()
        if case == "get a version" and "versionId=" in path and bucket_path.endswith(RELEASE_KEY):
            return s3_denied()
        if case == "get an artifact" and bucket_path.startswith(f"/{ARTIFACTS['prod']}/"):
            return s3_denied()
        if case == "list live records" and "list-type=2" in path:
            return s3_denied(DENIED_BY.format("s3:ListBucket", f"arn:aws:s3:::{RELEASE_BUCKET}"))
        return None

    proxy.set_fault(fault)

    code, out, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: access denied: missing permission {permission} to read {what}")


def test_a_codedeploy_refusal_is_one_line_naming_the_permission_aws_named(world, codedeploy, capsys):
    arn = f"arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:{APPLICATION}/{GROUP}"
    world.publish(bundle(release_json("r1")))
    codedeploy.add("d-AAAAAAAAA", "Succeeded", world.artifact("prod", bundle(release_json("r1"))), datetime.now(UTC))
    codedeploy.fault = lambda target, _: error_answer(
        400, "AccessDeniedException", DENIED_BY.format("codedeploy:BatchGetDeployments", arn)
    ) if target.endswith("BatchGetDeployments") else None

    code, _, err = run_cli(capsys, "releases", "-s", "prod", *FLAGS)

    assert code == 2
    assert err == (f"error: access denied: missing permission codedeploy:BatchGetDeployments to read the deployments "
                   f"of {APPLICATION}/{GROUP} (AWS said: {DENIED_BY.format('codedeploy:BatchGetDeployments', arn)})\n")


# --- faults: as its own process -------------------------------------------------------------------------------------


def process_env(endpoint: str, tmp_path) -> dict[str, str]:
    """This test's AWS environment for a child process, with no config file of this machine."""
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_EC2_METADATA_DISABLED="true",
               PYTHONUNBUFFERED="1")
    env.pop("AWS_ENDPOINT_URL_CODEDEPLOY", None)
    return env


@pytest.mark.slow
def test_an_endpoint_that_never_answers_ends_the_command_within_a_minute(aws, silent_endpoint, tmp_path):  # noqa: F811
    commands = [["releases", "-s", "prod", *FLAGS], ["releases", "-s", "prod", *FLAGS, "--json"]]

    def timed(argv):
        started = time.monotonic()
        return run_process(argv, process_env(silent_endpoint, tmp_path)), time.monotonic() - started

    with ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(timed, commands))

    for result, took in results:
        assert took < BOUND
        assert (result.returncode, result.stdout) == (2, "")
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: AWS did not answer: s3 at {silent_endpoint}"), lines
        assert lines[0].endswith(f"sent nothing within {ops_aws.READ_TIMEOUT}s, {ops_aws.ATTEMPTS} attempts (check "
                                 "the network, a proxy, AWS_ENDPOINT_URL)")


def default_sigint() -> None:
    """A background job ignores SIGINT and Python then installs no handler; an operator's terminal does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_mid_read_ends_the_command_in_one_line(promoted, aws, tmp_path, signum):
    """The child is held reading a deployment's revision (the proxy does not answer yet) when the signal comes."""
    held = Endpoint(lambda method, path, headers: None, upstream=aws,
                    holds=lambda method, path: path.startswith(f"/{ARTIFACTS['prod']}/"))
    held.hold.clear()
    with held.serving() as url:
        child = subprocess.Popen([sys.executable, "-m", "ops", "releases", "-s", "prod", *FLAGS], cwd=ROOT,
                                 env=process_env(url, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, preexec_fn=default_sigint)
        try:
            assert held.reached.wait(30), held.requests
            child.send_signal(signum)
            out, err = child.communicate(timeout=20)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            held.hold.set()

    assert child.returncode == 128 + signum, err
    assert out == ""
    assert err.splitlines() == [f"interrupted ({signum.name}) during ops releases, reading the revision of deployment "
                                "1/3: nothing was changed (it only reads)"]


@pytest.mark.slow
@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_a_reader_that_went_away_is_no_traceback(promoted, aws, tmp_path, json_flag):
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: the first write fails with EPIPE
    try:
        result = run_process(["releases", "-s", "prod", *FLAGS, *json_flag], process_env(aws, tmp_path),
                             stdout=writer, stderr=subprocess.PIPE)
    finally:
        os.close(writer)

    assert result.returncode == 0
    assert result.stderr == ""


# --- progress -------------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_only_and_cleared():
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = releases_collect.Progress(stream)
        progress("reading release 1/20...")
        progress.clear()
    assert terminal.getvalue() == "\rreading release 1/20...\x1b[K\r\x1b[K"
    assert log.getvalue() == ""


@pytest.mark.slow
def test_on_a_terminal_the_progress_line_is_cleared_before_the_table(promoted, aws, tmp_path):
    controller, terminal = pty.openpty()
    try:
        result = run_process(["releases", "-s", "prod", *FLAGS], process_env(aws, tmp_path),
                             stdout=subprocess.PIPE, stderr=terminal)
        shown = b""
        while select.select([controller], [], [], 0.5)[0]:
            shown += os.read(controller, 65536)
    finally:
        os.close(terminal)
        os.close(controller)

    assert result.returncode == 0 and commit_of("r1")[:12] in result.stdout
    text = shown.decode()
    assert "reading the revision of deployment 3/3..." in text
    assert text.endswith("\r\x1b[K")  # cleared: the terminal shows the table alone
