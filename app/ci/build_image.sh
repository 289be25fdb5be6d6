#!/usr/bin/env bash
# CodeBuild's build phase (app/buildspec.yml): build the image, push it as <repository>:<git sha> exactly once
# (tags are immutable; nothing moving like "latest" is ever pushed), resolve the digest the registry holds, and
# assemble the CodeDeploy bundle: appspec.yml, hooks/, image.json, release.json and contract/openapi.json. The
# bundle holds nothing about any one environment: every stack it is promoted to deploys it as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."  # the repository root

BUILD_BUNDLE_OUT="${BUILD_BUNDLE_OUT:-app/dist/bundle}"
BUILD_PYTHON="${BUILD_PYTHON:-python}"

fail() {
  echo "build: $*" >&2
  exit 1
}

for name in REPOSITORY_URI REPOSITORY_NAME DELIVERY_STACK; do
  [[ -n "${!name:-}" ]] || fail "$name is not set (the CodeBuild project sets it)"
done
for name in AWS_DEFAULT_REGION CODEBUILD_BUILD_ID CODEBUILD_RESOLVED_SOURCE_VERSION; do
  [[ -n "${!name:-}" ]] || fail "$name is not set (CodeBuild sets it in every build)"
done
tag="$CODEBUILD_RESOLVED_SOURCE_VERSION"
[[ "$tag" =~ ^[0-9a-f]{40}$ ]] || fail "CODEBUILD_RESOLVED_SOURCE_VERSION is '$tag', not a git commit sha"
built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# The drill rate the release carries, checked as the service checks its settings, before anything is pushed.
"$BUILD_PYTHON" -m app.settings >/dev/null || fail "DRILL_FAILURE_RATE or APP_PORT is invalid (see above)"
registry="${REPOSITORY_URI%%/*}"
image="$REPOSITORY_URI:$tag"

# The digest the registry holds for our tag, or "None".
pushed_digest() {
  aws ecr batch-get-image --region "$AWS_DEFAULT_REGION" --repository-name "$REPOSITORY_NAME" \
    --image-ids "imageTag=$tag" --query 'images[0].imageId.imageDigest' --output text
}

echo "build: logging in to $registry"
aws ecr get-login-password --region "$AWS_DEFAULT_REGION" \
  | docker login --username AWS --password-stdin "$registry" >/dev/null \
  || fail "ECR login to $registry failed"

digest="$(pushed_digest)" || fail "could not look up $image in ECR"
if [[ "$digest" == sha256:* ]]; then
  # A retried build of the same commit: the tag is immutable, so the pushed image is the release.
  echo "build: $image is already in the registry ($digest); not rebuilding it"
else
  echo "build: building $image"
  docker build --build-arg "GIT_SHA=$tag" --build-arg "BUILD_TIME=$built_at" \
    --tag "$image" app
  docker push "$image"
  digest="$(pushed_digest)" || fail "could not look up $image in ECR after pushing it"
fi
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "could not resolve the digest of $image (registry said '$digest')"

echo "build: assembling the CodeDeploy bundle in $BUILD_BUNDLE_OUT"
rm -rf "$BUILD_BUNDLE_OUT"
mkdir -p "$BUILD_BUNDLE_OUT/hooks"
cp app/appspec.yml "$BUILD_BUNDLE_OUT/"
cp app/hooks/*.sh "$BUILD_BUNDLE_OUT/hooks/"
chmod 0755 "$BUILD_BUNDLE_OUT"/hooks/*.sh
# PIPELINE_EXECUTION_ID comes from the pipeline's build action (#{codepipeline.PipelineExecutionId}); a build
# started outside a pipeline has none.
"$BUILD_PYTHON" -m app.artifact --out "$BUILD_BUNDLE_OUT" --repository-uri "$REPOSITORY_URI" --commit "$tag" \
  --digest "$digest" --stack "$DELIVERY_STACK" --build-id "$CODEBUILD_BUILD_ID" \
  --pipeline-execution-id "${PIPELINE_EXECUTION_ID:-}" --built-at "$built_at" \
  --drill-failure-rate "${DRILL_FAILURE_RATE:-0}"
