"""What `ops releases` shows, as one document (schema.json next to this file): the rows, newest first, each a
release and what happened to it in this stack, plus the live records and notes. The text table (render.py) is
printed from this same document.

Matching is by image digest (release.json's `image.digest`). A row is:

- `release`: a published version of the release key (the newest `limit`; with `beyondLimit`, an older one that a
  recent deployment here was of);
- `not_published`: a build deployed here that is no published release (it failed before publishing, or is being
  baked now);
- `unlisted`: a build deployed here that is not among the versions read (LOOKBACK ran out before telling);
- `unreadable`: a version or a deployment's revision whose release.json could not be read, with the reason.

Deployments older than the oldest listed release, of releases that are not listed, are counted in a note only."""

from __future__ import annotations

from datetime import datetime

from ops.aws import utc_iso
from ops.releases.collect import EPOCH, Bundle, Deployment, Findings, Version, s3_url

SCHEMA_VERSION = 1
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")  # a deployment that has not ended
RESULTS = {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Stopped", **dict.fromkeys(ACTIVE, "InProgress")}
# Who made a deployment (DeploymentInfo.creator), when it was not a person or a pipeline (`user`).
CREATORS = {
    "codeDeployRollback": "rollback", "autoscaling": "autoscaling", "autoscalingTermination": "autoscaling",
    "CodeDeployAutoUpdate": "auto update", "CodeDeploy": "CodeDeploy", "CloudFormation": "CloudFormation",
    "CloudFormationRollback": "CloudFormation rollback",
}
OPS_ROLLBACK = "ops rollback app:"  # ops.rollback.app.DESCRIPTION_PREFIX (not imported: it loads the Pulumi helpers)


def document(findings: Findings) -> dict:
    handles = findings.handles
    rows: list[dict] = []
    by_digest: dict[str, dict] = {}
    for version in findings.versions:
        row = _version_row(version, beyond_limit=False)
        rows.append(row)
        if row["digest"] and row["digest"] not in by_digest:  # the same build published twice: the newest
            by_digest[row["digest"]] = row
    older = {}
    for version in findings.older:
        if version.bundle.release and version.bundle.release.digest not in older:
            older[version.bundle.release.digest] = version
    cutoff, earlier = findings.cutoff, 0
    by_location: dict[object, dict] = {}
    for deployment in findings.deployments:  # newest first
        release = deployment.bundle.release
        row = by_digest.get(release.digest) if release else None
        if row is None and cutoff is not None and deployment.created < cutoff:
            earlier += 1
            continue
        if row is None and release and release.digest in older:
            row = by_digest[release.digest] = _version_row(older[release.digest], beyond_limit=True)
            rows.append(row)
        elif row is None and release:
            kind = "not_published" if _surely_unpublished(findings, release.built) else "unlisted"
            row = by_digest[release.digest] = _row(kind, deployment.bundle)
            rows.append(row)
        elif row is None:
            key = deployment.bundle.location or deployment.info.get("deploymentId")
            if key not in by_location:
                by_location[key] = _row("unreadable", deployment.bundle)
                rows.append(by_location[key])
            row = by_location[key]
        row["deployments"].append(_deployment(deployment))
    live, notes = [], list(findings.notes)
    for record in findings.live:
        release = record.bundle.release
        live.append({"stack": record.stack, "key": record.key, "commit": release.commit if release else None,
                     "digest": release.digest if release else None, "error": record.bundle.error})
        if release and release.digest in by_digest:
            by_digest[release.digest]["liveIn"].append(record.stack)
        elif release:
            notes.append(f"{record.key}: {record.stack} runs {release.commit[:12]} ({_short_digest(release.digest)}), "
                         "which is not among the releases listed")
        else:
            notes.append(f"{record.key}: unreadable: {record.bundle.error}")
    if earlier:
        notes.append(f"{earlier} of the {len(findings.deployments)} deployments read are older than the oldest "
                     "release listed, of releases not listed (a larger --limit shows them)")
    if findings.deployment_ids == 0:
        notes.append(f"{handles.application}/{handles.group} has no deployments yet")
    for row in rows:
        row["liveIn"].sort()
        _summarize(row)
    rows.sort(key=lambda row: row["_when"] or EPOCH, reverse=True)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "stack": handles.stack,
        "promotedFrom": handles.promoted_from,
        "region": findings.region or handles.region,
        "releaseBucket": handles.bucket,
        "releaseKey": handles.release_key,
        "livePrefix": handles.live_prefix,
        "application": handles.application,
        "deploymentGroup": handles.group,
        "limit": handles.limit,
        "moreReleases": findings.more_versions,
        "deploymentsRead": len(findings.deployments),
        "deploymentsListed": findings.deployment_ids,
        "releases": [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows],
        "live": live,
        "notes": notes,
    }


def _surely_unpublished(findings: Findings, built: datetime | None) -> bool:
    """Whether a build that no version read holds was never published: every version was read, or it was built
    after the oldest listed release was published (so, published, it would be listed)."""
    if findings.lookback_exhausted or findings.cutoff is None:
        return True
    return built is not None and built >= findings.cutoff


def _version_row(version: Version, beyond_limit: bool) -> dict:
    row = _row("release" if version.bundle.release else "unreadable", version.bundle)
    row.update(versionId=version.version_id, publishedAt=utc_iso(version.published), beyondLimit=beyond_limit,
               _when=version.published)
    return row


def _row(kind: str, bundle: Bundle) -> dict:
    release = bundle.release
    return {
        "kind": kind,
        "versionId": None,
        "publishedAt": None,
        "beyondLimit": False,
        "commit": release.commit if release else None,
        "digest": release.digest if release else None,
        "image": {"repository": release.repository, "tag": release.tag, "uri": release.uri} if release else None,
        "builtBy": {"stack": release.stack, "pipelineExecutionId": release.execution_id, "buildId": release.build_id,
                    "builtAt": release.built_at} if release else None,
        "liveIn": [],
        "here": None,
        "rollbacks": [],
        "deployments": [],
        "error": bundle.error,
        "location": s3_url(bundle.location) if bundle.location and bundle.error else None,
        "_when": (release.built if release else None),
    }


def _deployment(deployment: Deployment) -> dict:
    info = deployment.info
    rollback = info.get("rollbackInfo") or {}
    s3 = (info.get("revision") or {}).get("s3Location") or {}
    return {
        "deploymentId": info.get("deploymentId"),
        "status": info.get("status"),
        "creator": info.get("creator"),
        "description": info.get("description"),
        "createdAt": utc_iso(info.get("createTime")),
        "completedAt": utc_iso(info.get("completeTime")),
        "revision": s3_url((s3["bucket"], s3["key"], s3.get("version"))) if s3.get("bucket") and s3.get("key")
        else None,
        "rollbackDeploymentId": rollback.get("rollbackDeploymentId"),
        "rollbackTriggeringDeploymentId": rollback.get("rollbackTriggeringDeploymentId"),
        "rollbackMessage": rollback.get("rollbackMessage"),
        "errorCode": (info.get("errorInformation") or {}).get("code"),
        "_created": info.get("createTime") or EPOCH,
    }


def _summarize(row: dict) -> None:
    """`here` (the newest deployment's result), `rollbacks` (what CodeDeploy's rollbacks did with this release),
    and the time the row sorts by when it has no publication time."""
    deployments = row["deployments"]
    if deployments:
        newest = deployments[0]
        row["here"] = {"result": RESULTS.get(newest["status"], newest["status"] or "unknown"),
                       "status": newest["status"], "deploymentId": newest["deploymentId"], "by": _by(newest)}
        if row["_when"] is None:
            row["_when"] = newest["_created"]
    for deployment in deployments:
        if deployment["rollbackDeploymentId"]:
            row["rollbacks"].append({"kind": "rolledBack", "deploymentId": deployment["deploymentId"],
                                     "rollbackDeploymentId": deployment["rollbackDeploymentId"]})
        if deployment["rollbackTriggeringDeploymentId"]:
            row["rollbacks"].append({"kind": "restored", "deploymentId": deployment["deploymentId"],
                                     "rollbackTriggeringDeploymentId": deployment["rollbackTriggeringDeploymentId"]})
        del deployment["_created"]


def _by(deployment: dict) -> str | None:
    """Who made the deployment, when it was not the pipeline or a person: a rollback, Auto Scaling, ..."""
    if (deployment["description"] or "").startswith(OPS_ROLLBACK):
        return "ops rollback app"
    return CREATORS.get(deployment["creator"] or "")


def _short_digest(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
