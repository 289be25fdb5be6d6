#!/usr/bin/env bash
# ValidateService: poll /healthz until it answers 200, then check that /version reports the digest this
# deployment started, all within HOOK_VALIDATE_TIMEOUT seconds. Failing here makes CodeDeploy roll back.
set -euo pipefail
HOOK=ValidateService
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HOOK_VALIDATE_TIMEOUT="${HOOK_VALIDATE_TIMEOUT:-120}"
HOOK_VALIDATE_INTERVAL="${HOOK_VALIDATE_INTERVAL:-2}"
HOOK_HEALTH_HOST="${HOOK_HEALTH_HOST:-127.0.0.1}"
[[ "$HOOK_VALIDATE_TIMEOUT" =~ ^[0-9]+$ ]] \
  || fail "HOOK_VALIDATE_TIMEOUT must be whole seconds, got '$HOOK_VALIDATE_TIMEOUT'"
[[ "$HOOK_VALIDATE_INTERVAL" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || fail "HOOK_VALIDATE_INTERVAL must be seconds (e.g. 2 or 0.5), got '$HOOK_VALIDATE_INTERVAL'"

load_deploy_env
read_image
base="http://$HOOK_HEALTH_HOST:$APP_PORT"

# Print the container's state and last log lines, then the failure (last, so a log tail shows it).
fail_with_evidence() {
  echo "$HOOK: container $HOOK_CONTAINER_NAME: $(docker ps --all --filter "name=^/?${HOOK_CONTAINER_NAME}\$" \
    --format '{{.Status}}' 2>&1 || true)" >&2
  docker logs --tail 20 "$HOOK_CONTAINER_NAME" 2>&1 | sed "s/^/$HOOK: log: /" >&2 || true
  fail "$@"
}

echo "$HOOK: waiting up to ${HOOK_VALIDATE_TIMEOUT}s for $base/healthz to return 200"
deadline=$((SECONDS + HOOK_VALIDATE_TIMEOUT))
while :; do
  status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 "$base/healthz" || true)"
  if [[ "$status" == 200 ]]; then
    version="$(curl --silent --fail --max-time 5 "$base/version")" \
      || fail_with_evidence "/version did not answer 200 although /healthz did"
    digest="$(json_field image_digest <<<"$version")" \
      || fail_with_evidence "/version answered without an image_digest: $version"
    [[ "$digest" == "$IMAGE_DIGEST" ]] \
      || fail_with_evidence "/version reports digest $digest, expected $IMAGE_DIGEST"
    mark_released
    echo "$HOOK: healthy and serving $IMAGE_URI"
    exit 0
  fi
  if [[ -z "$status" || "$status" == 000 ]]; then last_status="none, no answer"; else last_status="$status"; fi
  if ((SECONDS >= deadline)); then
    fail_with_evidence "/healthz did not return 200 within ${HOOK_VALIDATE_TIMEOUT}s (last status $last_status)"
  fi
  sleep "$HOOK_VALIDATE_INTERVAL"
done
