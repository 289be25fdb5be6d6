"""A failure after the deploy and its bake succeeded (components/pipeline.py: dev's Publish, prod's Record) is named
as what it is: the stack runs the release; only its promotion, or its live record, is undone."""

from __future__ import annotations

from tests.ops.diagnose.builders import (
    BUILD_ID,
    action,
    bad_run,
    build,
    build_ok,
    command_failed,
    diagnose_json,
    evidence_of,
    good_run,
    queue_run,
    source_ok,
)

STREAM = "5b1f6c0e-0000-4000-8000-000000000001"
REFUSAL = ("refused: prod runs release 1111111111aa (aaaaaaaaaaaa), which would no longer be kept after this "
           "publish (KEEP_RELEASES=30); deploy a newer release to prod, or raise delivery:keepImages")


def deploy_ok(started):
    return action("Deploy", "Deploy", "Deploy", "CodeDeploy", "Succeeded", started, external_id="d-GOOD12345")


def test_a_refused_publish_says_the_stack_runs_the_release_and_why_it_was_not_promoted(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(20)
    tag = action("Publish", "TagRelease", "Build", "CodeBuild", "Failed", started, external_id=BUILD_ID,
                 error=("JobFailed", "Build terminated with state: FAILED"))
    queue_run(account, bad_run(account), [source_ok(started), build_ok(started), deploy_ok(started), tag],
              last_success=good, last_success_actions=good_actions)
    account.stub["codebuild"].add_response(
        "batch_get_builds", {"builds": [build("FAILED", "BUILD", "FAILED", command_failed(
            'python3 "$CODEBUILD_TMPDIR/release_publish.py"'), started)]}, {"ids": [BUILD_ID]})
    account.write_build_log(STREAM, ["interlock: prod runs 1111111111aa", REFUSAL])

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"] == {"class": "release_not_published", "title": "release not published",
                                 "detail": REFUSAL, "raw_error": None}
    assert document["verdict"] == f"Publish failed: the release baked here but was not published: {REFUSAL}"
    assert document["next_step"].startswith("This stack runs the release")
    assert "rollback" not in document["next_step"].lower()  # nothing failed in the fleet: nothing to roll back
    assert evidence_of(document, "log_tail")[0]["detail"]["lines"][-1] == REFUSAL


def test_a_record_that_could_not_be_written_says_the_release_runs_here(account, capsys):
    good, good_actions = good_run(account)
    started = account.ago(20)
    denied = ("User: arn:aws:sts::123456789012:assumed-role/pipeline-role/x is not authorized to perform: "
              "s3:PutObject on resource: arn:aws:s3:::releases-bucket/live/prod.zip")
    record = action("Record", "RecordLive", "Deploy", "S3", "Failed", started, error=("JobFailed", denied))
    queue_run(account, bad_run(account), [source_ok(started), deploy_ok(started), record],
              last_success=good, last_success_actions=good_actions)

    code, document = diagnose_json(capsys)

    assert code == 1
    assert document["cause"]["class"] == "live_record_not_written"
    assert document["verdict"].startswith("Record failed: the release runs here but its live record was not written")
    assert "s3:PutObject" in document["cause"]["detail"]
