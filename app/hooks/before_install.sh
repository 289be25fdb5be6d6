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
# Log in at the registry's own region (<account>.dkr.ecr.<region>.amazonaws.com), as AWS's registry authentication
# steps do (https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html): a promoted release was
# pushed by the stack that built it, which may run in another region than this instance.
registry_region="${registry#*.dkr.ecr.}"
registry_region="${registry_region%%.amazonaws.com*}"
[[ "$registry_region" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] \
  || fail "image.json: repository '$IMAGE_REPOSITORY' is not an ECR repository URI (<account>.dkr.ecr.<region>...)"

echo "$HOOK: logging in to $registry"
aws ecr get-login-password --region "$registry_region" \
  | docker login --username AWS --password-stdin "$registry" >/dev/null \
  || fail "ECR login to $registry failed (may the instance role call ecr:GetAuthorizationToken?)"
trap 'docker logout "$registry" >/dev/null 2>&1 || true' EXIT

echo "$HOOK: pulling $IMAGE_URI (tag $IMAGE_TAG)"
docker pull --quiet "$IMAGE_URI" >/dev/null \
  || fail "could not pull $IMAGE_URI (is the digest in the repository, and may the instance role pull it?)"
echo "$HOOK: pulled $IMAGE_URI"
