#!/usr/bin/env bash
# BeforeInstall: log in to ECR and pull the new image by digest (never by tag), then log out again so no
# registry credentials stay on the instance.
set -euo pipefail
HOOK=BeforeInstall
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mark_deploying

load_deploy_env
read_image
registry="${IMAGE_REPOSITORY%%/*}"

echo "$HOOK: logging in to $registry"
aws ecr get-login-password --region "$AWS_REGION" \
  | docker login --username AWS --password-stdin "$registry" >/dev/null \
  || fail "ECR login to $registry failed (may the instance role call ecr:GetAuthorizationToken?)"
trap 'docker logout "$registry" >/dev/null 2>&1 || true' EXIT

echo "$HOOK: pulling $IMAGE_URI (tag $IMAGE_TAG)"
docker pull --quiet "$IMAGE_URI" >/dev/null \
  || fail "could not pull $IMAGE_URI (is the digest in the repository, and may the instance role pull it?)"
echo "$HOOK: pulled $IMAGE_URI"
