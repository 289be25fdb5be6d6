"""Promotion, read from the offline runs of both stacks: dev builds and publishes what baked healthy in it; prod
(Pulumi.prod.yaml promoteFrom) deploys exactly that, and builds nothing."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from components.promotion import UPSTREAM_OUTPUTS, PromotionError, check_reachable
from components.release_publisher import SCRIPT, buildspec
from components.release_store import RELEASE_KEY, live_key
from ops.errors import OpsError
from ops.offline.mocks import ACCOUNT_ID, upstream_outputs
from ops.offline.run import run_program
from tests.components.conftest import grants_of, one, policy_of, program_with_stack

OTHER_ACCOUNT = "210987654321"
PUSH_ACTIONS = {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}


def stages(run) -> dict:
    return {s["name"]: s for s in one(run, "aws:codepipeline/pipeline:Pipeline").inputs["stages"]}


def actions(run) -> list[dict]:
    return [a for stage in stages(run).values() for a in stage["actions"]]


def statements(run, policy_name: str) -> list[dict]:
    return policy_of(one(run, "aws:iam/rolePolicy:RolePolicy", policy_name))["Statement"]


class TestProdBuildsNothing:
    def test_no_build_project_registry_or_github_connection(self, prod):
        for type_ in ("aws:codebuild/project:Project", "aws:ecr/repository:Repository",
                      "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:codeconnections/connection:Connection"):
            assert prod.of_type(type_) == [], type_
        assert {a["category"] for a in actions(prod)} == {"Source", "Approval", "Deploy"}

    def test_no_role_may_push_an_image(self, prod):
        for policy in prod.of_type("aws:iam/rolePolicy:RolePolicy"):
            for entry in json.loads(policy.inputs["policy"])["Statement"]:
                assert not PUSH_ACTIONS & set(entry["Action"]), policy.name

    def test_prod_reads_dev_through_a_stack_reference_and_says_so(self, prod):
        assert prod.stack_outputs["promotedFrom"] == "example-org/delivery/dev"
        assert prod.stack_outputs["releaseBucket"] == upstream_outputs("us-east-1")["releaseBucket"]


class TestProdDeploysWhatDevPublished:
    def test_the_source_is_the_published_release_not_a_branch(self, prod):
        source = stages(prod)["Source"]["actions"][0]
        assert (source["provider"], source["category"]) == ("S3", "Source")
        assert source["configuration"] == {"S3Bucket": upstream_outputs("us-east-1")["releaseBucket"],
                                           "S3ObjectKey": RELEASE_KEY, "PollForSourceChanges": "false"}
        assert "triggers" not in one(prod, "aws:codepipeline/pipeline:Pipeline").inputs  # started by ReleaseTrigger

    def test_the_deployed_bundle_is_the_source_unchanged(self, prod):
        """No action between Source and Deploy can change the bundle: there is none but the approval."""
        source, approval, deploy, record = stages(prod).values()
        assert source["actions"][0]["outputArtifacts"] == ["bundle"]
        assert approval["actions"][0]["provider"] == "Manual"
        assert deploy["actions"][0]["inputArtifacts"] == ["bundle"]
        assert record["actions"][0]["inputArtifacts"] == ["bundle"]

    def test_a_new_release_starts_the_pipeline_and_nothing_else_does(self, prod):
        """S3's Object Created event for the release key only (B26): prod's own live record must not restart it."""
        rule = one(prod, "aws:cloudwatch/eventRule:EventRule")
        assert json.loads(rule.inputs["eventPattern"]) == {
            "source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [upstream_outputs("us-east-1")["releaseBucket"]]},
                       "object": {"key": [RELEASE_KEY]}}}
        target = one(prod, "aws:cloudwatch/eventTarget:EventTarget")
        pipeline = one(prod, "aws:codepipeline/pipeline:Pipeline")
        assert target.inputs["arn"] == pipeline.outputs["arn"]
        (grant,) = statements(prod, "pipeline-on-release-start")
        assert grant["Action"] == ["codepipeline:StartPipelineExecution"]
        assert grant["Resource"] == [pipeline.outputs["arn"]]

    def test_instances_pull_the_release_from_devs_repository(self, prod):
        pull = statements(prod, "fleet-pull")
        assert pull[0]["Resource"] == [upstream_outputs("us-east-1")["repositoryArn"]]
        assert prod.stack_outputs["repositoryUrl"] == upstream_outputs("us-east-1")["repositoryUrl"]

    def test_after_its_deploy_succeeded_prod_records_the_release_it_runs(self, prod):
        (record,) = stages(prod)["Record"]["actions"]
        assert (record["provider"], record["category"]) == ("S3", "Deploy")
        assert record["configuration"] == {"BucketName": upstream_outputs("us-east-1")["releaseBucket"],
                                           "ObjectKey": live_key("prod"), "Extract": "false"}

    def test_the_pipeline_reads_only_the_release_and_writes_only_its_own_live_record(self, prod):
        bucket = upstream_outputs("us-east-1")["releaseBucketArn"]
        grants = {entry["Sid"]: entry for entry in statements(prod, "pipeline-releases")}
        assert grants["ReadReleases"]["Resource"] == [f"{bucket}/{RELEASE_KEY}"]
        assert grants["RecordReleases"]["Resource"] == [f"{bucket}/{live_key('prod')}"]
        assert grants["ReleaseBucket"]["Resource"] == [bucket]


class TestDevPublishesWhatBakedHealthy:
    def test_publish_runs_after_the_deploy_and_its_bake(self, dev):
        names = list(stages(dev))
        assert names.index("Publish") == names.index("Deploy") + 1
        assert stages(dev)["Deploy"]["onFailure"] == {"result": "FAIL"}  # a failed deploy stops the execution

    def test_the_image_is_tagged_as_a_release_before_the_release_is_written(self, dev):
        tag, record, release = stages(dev)["Publish"]["actions"]
        publisher = one(dev, "aws:codebuild/project:Project", "publisher-project")
        assert (tag["name"], tag["runOrder"], tag["configuration"]) == (
            "TagRelease", 1, {"ProjectName": publisher.outputs["name"]})
        bucket = dev.stack_outputs["releaseBucket"]
        assert (release["runOrder"], release["configuration"]) == (
            2, {"BucketName": bucket, "ObjectKey": RELEASE_KEY, "Extract": "false"})
        # dev runs the release whether or not it may be published: its record does not wait for the tag
        assert (record["runOrder"], record["configuration"]) == (
            1, {"BucketName": bucket, "ObjectKey": live_key("dev"), "Extract": "false"})

    def test_what_is_published_is_the_bundle_that_was_deployed(self, dev):
        build, deploy = stages(dev)["Build"]["actions"][0], stages(dev)["Deploy"]["actions"][0]
        assert build["outputArtifacts"] == deploy["inputArtifacts"] == ["bundle"]
        assert all(a["inputArtifacts"] == ["bundle"] for a in stages(dev)["Publish"]["actions"])

    def test_the_build_records_the_pipeline_execution_in_the_release(self, dev):
        build = stages(dev)["Build"]["actions"][0]
        assert json.loads(build["configuration"]["EnvironmentVariables"]) == [
            {"name": "PIPELINE_EXECUTION_ID", "value": "#{codepipeline.PipelineExecutionId}", "type": "PLAINTEXT"}]

    def test_the_publisher_runs_the_script_in_the_repository_and_builds_nothing(self, dev):
        project = one(dev, "aws:codebuild/project:Project", "publisher-project")
        assert project.inputs["environment"]["privilegedMode"] is False
        buildspec = project.inputs["source"]["buildspec"]
        assert SCRIPT.read_text().strip().splitlines()[-1].strip() in buildspec
        variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
        assert variables == {"REPOSITORY_NAME": dev.stack_outputs["repositoryName"],
                             "RELEASE_BUCKET": dev.stack_outputs["releaseBucket"], "KEEP_RELEASES": "30",
                             "DELIVERY_STACK": "dev"}

    def test_the_buildspec_runs_the_script_byte_for_byte_in_the_bundle(self, tmp_path):
        """The embedded script survives YAML and the heredoc unchanged, and runs where the bundle was extracted."""
        spec = yaml.safe_load(buildspec(SCRIPT.read_text()))
        assert spec["version"] == 0.2 and spec["env"]["shell"] == "bash"
        (command,) = spec["phases"]["build"]["commands"]
        stand_in = tmp_path / "bin"
        stand_in.mkdir()
        (stand_in / "python3").write_text('#!/bin/sh\ncp "$1" "$RAN_SCRIPT"; pwd > "$RAN_IN"\n')
        (stand_in / "python3").chmod(0o755)
        bundle = tmp_path / "bundle"
        bundle.mkdir()
        env = {"PATH": f"{stand_in}:/usr/bin:/bin", "RAN_SCRIPT": str(tmp_path / "ran.py"),
               "RAN_IN": str(tmp_path / "ran-in")}
        subprocess.run(["bash", "-c", command], cwd=bundle, env=env, check=True)
        assert (tmp_path / "ran.py").read_text() == SCRIPT.read_text()
        assert (tmp_path / "ran-in").read_text().strip() == str(bundle)

    def test_the_publisher_may_tag_this_repository_and_read_live_records_only(self, dev):
        grants = {entry["Sid"]: entry for entry in statements(dev, "publisher-tag")}
        assert grants["TagReleases"]["Action"] == ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"]
        assert grants["TagReleases"]["Resource"] == [dev.stack_outputs["repositoryArn"]]
        live = {entry["Sid"]: entry for entry in statements(dev, "publisher-live-records")}
        bucket = dev.stack_outputs["releaseBucketArn"]
        assert live["ReadLiveRecordVersions"]["Action"] == ["s3:GetObjectVersion"]
        assert live["ReadLiveRecordVersions"]["Resource"] == [f"{bucket}/live/*"]
        assert live["ListLiveRecordVersions"]["Action"] == ["s3:ListBucketVersions"]
        assert live["ListLiveRecordVersions"]["Condition"] == {"StringLike": {"s3:prefix": ["live/*"]}}

    def test_every_codebuild_role_can_read_the_bundle_the_pipeline_hands_it(self, dev):
        """A CODEPIPELINE source is downloaded from the artifact store with the project's own service role."""
        artifacts = one(dev, "aws:s3/bucket:Bucket", "artifacts-bucket").outputs["arn"]
        roles = {r.outputs["arn"]: r.name for r in dev.of_type("aws:iam/role:Role")}
        for project in dev.of_type("aws:codebuild/project:Project"):
            assert project.inputs["source"]["type"] == "CODEPIPELINE"
            readable = grants_of(dev, roles[project.inputs["serviceRole"]])["s3:GetObject"]
            assert f"{artifacts}/*" in readable, project.name


class TestReleaseStore:
    def test_versioned_private_protected_and_current_releases_never_expire(self, dev):
        bucket = one(dev, "aws:s3/bucket:Bucket", "releases-bucket")
        assert bucket.protect is True
        assert one(dev, "aws:s3/bucketVersioning:BucketVersioning", "releases-versioning").inputs[
            "versioningConfiguration"] == {"status": "Enabled"}
        (rule,) = one(dev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                      "releases-lifecycle").inputs["rules"]
        # the newest noncurrent version of each key (a stack's previous live record: its rollback target) stays
        assert "expiration" not in rule and rule["noncurrentVersionExpiration"] == {"noncurrentDays": 365,
                                                                                   "newerNoncurrentVersions": 1}

    def test_encrypted_with_s3_managed_keys_that_other_accounts_can_use(self, dev):
        """The AWS managed aws/s3 KMS key cannot be shared with another account (B33)."""
        sse = one(dev, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                  "releases-encryption")
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}

    def test_sends_its_events_to_eventbridge(self, dev):
        assert one(dev, "aws:s3/bucketNotification:BucketNotification").inputs["eventbridge"] is True

    def test_only_this_account_is_admitted_when_no_other_is_configured(self, dev):
        (deny,) = policy_of(one(dev, "aws:s3/bucketPolicy:BucketPolicy", "releases-tls-only"))["Statement"]
        assert deny["Effect"] == "Deny"
        assert dev.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []
        assert dev.of_type("aws:cloudwatch/eventRule:EventRule") == []


def test_dev_exports_every_output_prod_reads_as_the_offline_stand_in_gives_it(dev):
    """The offline run of prod reads dev through a stand-in (ops/offline/mocks.py upstream_outputs); it must be what
    dev's own run exports, or prod's tests would check grants against names dev does not have."""
    stand_in = upstream_outputs("us-east-1")
    assert set(UPSTREAM_OUTPUTS) == set(stand_in)
    assert {key: dev.stack_outputs[key] for key in UPSTREAM_OUTPUTS} == stand_in


class TestReachable:
    """check_reachable, which every value read from the upstream passes through."""

    def outputs(self, **changes) -> dict:
        return {**upstream_outputs("us-east-1"), **changes}

    def test_same_region_same_account_is_fine(self):
        check_reachable("org/delivery/dev", "us-east-1", ACCOUNT_ID, self.outputs())

    def test_another_region_is_refused(self):
        with pytest.raises(PromotionError, match="runs in eu-west-1 and this stack in us-east-1"):
            check_reachable("org/delivery/dev", "us-east-1", ACCOUNT_ID, self.outputs(region="eu-west-1"))

    def test_another_account_needs_the_upstreams_grant(self):
        with pytest.raises(PromotionError, match=f"does not grant account {OTHER_ACCOUNT} its releases"):
            check_reachable("org/delivery/dev", "us-east-1", OTHER_ACCOUNT, self.outputs())
        check_reachable("org/delivery/dev", "us-east-1", OTHER_ACCOUNT,
                        self.outputs(promoteToAccounts=[OTHER_ACCOUNT]))


class TestCrossAccount:
    """dev with `promoteToAccounts`: the grants a prod in another account needs, scoped to that account."""

    @pytest.fixture(scope="class")
    @classmethod
    def shared(cls, tmp_path_factory, project_root):
        folder = program_with_stack(tmp_path_factory.mktemp("project"), project_root, "shared",
                                    (project_root / "Pulumi.dev.yaml").read_text()
                                    + f'  delivery:promoteToAccounts: ["{OTHER_ACCOUNT}"]\n')
        return run_program("shared", folder)

    def test_the_other_account_may_pull_release_images_only(self, shared):
        (statement,) = policy_of(one(shared, "aws:ecr/repositoryPolicy:RepositoryPolicy"))["Statement"]
        assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{OTHER_ACCOUNT}:root"]}
        assert statement["Action"] == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                       "ecr:GetDownloadUrlForLayer"]

    def test_the_other_account_may_read_releases_and_write_live_records_only(self, shared):
        statements_ = policy_of(one(shared, "aws:s3/bucketPolicy:BucketPolicy", "releases-tls-only"))["Statement"]
        bucket = shared.stack_outputs["releaseBucketArn"]
        granted = {s["Sid"]: s for s in statements_[1:] if s["Effect"] == "Allow"}
        assert all(s["Principal"] == {"AWS": [f"arn:aws:iam::{OTHER_ACCOUNT}:root"]} for s in granted.values())
        (deny,) = [s for s in statements_[1:] if s["Effect"] == "Deny"]
        assert (deny["Action"], deny["Resource"]) == (["s3:PutObject"], [f"{bucket}/{live_key('shared')}"])
        assert granted["DownstreamReadReleases"]["Resource"] == [f"{bucket}/{RELEASE_KEY}"]
        assert granted["DownstreamRecordReleases"]["Resource"] == [f"{bucket}/live/*"]
        assert not any(a.startswith("s3:Delete") for s in granted.values() for a in s["Action"])

    def test_release_events_are_forwarded_to_the_other_accounts_default_bus(self, shared):
        target = one(shared, "aws:cloudwatch/eventTarget:EventTarget")
        assert target.inputs["arn"] == f"arn:aws:events:us-east-1:{OTHER_ACCOUNT}:event-bus/default"
        (grant,) = statements(shared, f"releases-forward-{OTHER_ACCOUNT}")
        assert (grant["Action"], grant["Resource"]) == (["events:PutEvents"], [target.inputs["arn"]])


def test_a_promoted_stack_refuses_build_settings(tmp_path, project_root):
    program_with_stack(tmp_path, project_root, "edited",
                       (project_root / "Pulumi.prod.yaml").read_text() + "  delivery:githubRepo: delivery-app\n")
    with pytest.raises(OpsError) as caught:
        run_program("edited", tmp_path)
    assert str(caught.value) == (
        "config `delivery:githubRepo` has no effect in a stack that takes its releases from "
        "`example-org/delivery/dev` (`delivery:promoteFrom`): it builds nothing; remove the key, or set it on the "
        "upstream stack")


def test_the_copies_of_the_release_store_layout_agree():
    """The key names are written again where the program's modules cannot be imported: the operator CLI (which
    must start without the Pulumi SDK), the publisher (a standalone script in the buildspec) and the app template's
    contract gate (another repository)."""
    from app.contract.__main__ import DEFAULT_LIVE_PREFIX
    from components import release_publish, release_store
    from ops import releases

    assert releases.RELEASE_KEY == release_store.RELEASE_KEY
    assert releases.LIVE_PREFIX == release_publish.LIVE_PREFIX == DEFAULT_LIVE_PREFIX == release_store.LIVE_PREFIX


def test_diagnose_knows_the_stages_that_run_after_the_deploy(dev, prod):
    """ops diagnose names a failure there as a release not promoted or not recorded, by the stage's name."""
    from ops.diagnose.classify import AFTER_DEPLOY_STAGES

    assert (list(stages(dev))[-1], list(stages(prod))[-1]) == ("Publish", "Record")
    assert set(AFTER_DEPLOY_STAGES) == {"Publish", "Record"}
