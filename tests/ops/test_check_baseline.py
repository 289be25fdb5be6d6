"""Baselines for `ops check --baseline`: a mock run turned into the `pulumi stack export` shape (version 3), and
the checks on a file a user passes."""

from __future__ import annotations

import json

import pytest

from ops.baseline import baseline_from_run, load_baseline, write_baseline
from ops.errors import OpsError
from ops.offline.run import run_program


@pytest.fixture(scope="module")
def prod_run(project_root):
    return run_program("prod", project_root)


def test_a_run_becomes_a_version_3_stack_export(prod_run):
    document = baseline_from_run(prod_run)

    assert document["version"] == 3
    resources = document["deployment"]["resources"]
    assert [r["urn"] for r in resources] == [r.urn for r in prod_run.resources]
    root = resources[0]
    assert root["type"] == "pulumi:pulumi:Stack" and root["outputs"] == prod_run.stack_outputs
    assert "inputs" not in root and "parent" not in root and "id" not in root


def test_exported_resources_keep_what_the_change_guardrails_read(prod_run):
    resources = {r["urn"]: r for r in baseline_from_run(prod_run)["deployment"]["resources"]}
    repository = next(r for r in resources.values() if r["type"] == "aws:s3/bucket:Bucket")
    component = next(r for r in resources.values() if r["type"] == "delivery:artifacts:ArtifactStore")

    assert repository["protect"] is True and repository["custom"] is True
    assert repository["inputs"]["forceDestroy"] is False and repository["id"]
    assert repository["parent"] == component["urn"] and repository["provider"].startswith("urn:pulumi:")
    assert component["custom"] is False and "id" not in component and "protect" not in component


def test_a_written_baseline_loads_back(prod_run, tmp_path):
    path = write_baseline(prod_run, tmp_path / "prod.json")

    assert load_baseline(path) == json.loads(path.read_text())


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not JSON"),
    (json.dumps({"version": 3}), "is not a `pulumi stack export` file"),
    (json.dumps({"version": 2, "deployment": {"resources": []}}), "is not a `pulumi stack export` file"),
    (json.dumps({"version": 3, "deployment": {"resources": [{"type": "x"}]}}), "each needs a urn"),
])
def test_a_file_that_is_not_a_stack_export_is_refused_with_one_sentence(tmp_path, content, message):
    path = tmp_path / "export.json"
    path.write_text(content)

    with pytest.raises(OpsError, match=message.replace("`", ".")):
        load_baseline(path)
