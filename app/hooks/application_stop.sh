#!/usr/bin/env bash
# ApplicationStop: stop and remove the app container; succeed if there is none. CodeDeploy runs this hook from
# the last successfully deployed revision's bundle, and not at all on an instance's first deployment.
set -euo pipefail
HOOK=ApplicationStop
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Seconds for the app to drain (APP_DRAIN_SECONDS, 5) and finish its requests (up to 10) before SIGKILL.
HOOK_STOP_TIMEOUT="${HOOK_STOP_TIMEOUT:-30}"
mark_deploying

if [[ -z "$(container_id)" ]]; then
  echo "$HOOK: no container named $HOOK_CONTAINER_NAME; nothing to stop"
  exit 0
fi
echo "$HOOK: stopping $HOOK_CONTAINER_NAME (SIGTERM, up to ${HOOK_STOP_TIMEOUT}s to drain)"
docker stop --time "$HOOK_STOP_TIMEOUT" "$HOOK_CONTAINER_NAME" >/dev/null
docker rm --force "$HOOK_CONTAINER_NAME" >/dev/null
echo "$HOOK: stopped and removed $HOOK_CONTAINER_NAME"
