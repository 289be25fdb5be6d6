#!/usr/bin/env bash
# ValidateService: poll /healthz until it answers 200, then check that /version reports the digest this
# deployment started, all within VALIDATE_TIMEOUT seconds. Failing here makes CodeDeploy roll back.
set -euo pipefail
HOOK=ValidateService
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VALIDATE_TIMEOUT="${VALIDATE_TIMEOUT:-120}"
VALIDATE_INTERVAL="${VALIDATE_INTERVAL:-2}"
HEALTH_HOST="${HEALTH_HOST:-127.0.0.1}"
[[ "$VALIDATE_TIMEOUT" =~ ^[0-9]+$ ]] || fail "VALIDATE_TIMEOUT must be whole seconds, got '$VALIDATE_TIMEOUT'"

load_deploy_env
read_image
base="http://$HEALTH_HOST:$APP_PORT"

# Print the container's state and last log lines, then the failure (last, so a log tail shows it).
fail_with_evidence() {
  echo "$HOOK: container $CONTAINER_NAME: $(docker ps --all --filter "name=^/?${CONTAINER_NAME}\$" \
    --format '{{.Status}}' 2>&1 || true)" >&2
  docker logs --tail 20 "$CONTAINER_NAME" 2>&1 | sed "s/^/$HOOK: log: /" >&2 || true
  fail "$@"
}

echo "$HOOK: waiting up to ${VALIDATE_TIMEOUT}s for $base/healthz to return 200"
deadline=$((SECONDS + VALIDATE_TIMEOUT))
while :; do
  status="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 5 "$base/healthz" || true)"
  if [[ "$status" == 200 ]]; then
    version="$(curl --silent --fail --max-time 5 "$base/version")" \
      || fail_with_evidence "/version did not answer 200 although /healthz did"
    digest="$(json_field image_digest <<<"$version")" \
      || fail_with_evidence "/version answered without an image_digest: $version"
    [[ "$digest" == "$IMAGE_DIGEST" ]] \
      || fail_with_evidence "/version reports digest $digest, expected $IMAGE_DIGEST"
    echo "$HOOK: healthy and serving $IMAGE_URI"
    exit 0
  fi
  if [[ -z "$status" || "$status" == 000 ]]; then last_status="none, no answer"; else last_status="$status"; fi
  if ((SECONDS >= deadline)); then
    fail_with_evidence "/healthz did not return 200 within ${VALIDATE_TIMEOUT}s (last status $last_status)"
  fi
  sleep "$VALIDATE_INTERVAL"
done
