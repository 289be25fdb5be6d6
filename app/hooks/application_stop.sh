#!/usr/bin/env bash
# ApplicationStop: stop and remove the app container; succeed if there is none. CodeDeploy runs this hook from
# the last successfully deployed revision's bundle, and not at all on an instance's first deployment.
set -euo pipefail
HOOK=ApplicationStop
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STOP_TIMEOUT="${STOP_TIMEOUT:-30}"  # seconds for the app to drain (APP_DRAIN_SECONDS) and finish requests

if [[ -z "$(container_id)" ]]; then
  echo "$HOOK: no container named $CONTAINER_NAME; nothing to stop"
  exit 0
fi
echo "$HOOK: stopping $CONTAINER_NAME (SIGTERM, up to ${STOP_TIMEOUT}s to drain)"
docker stop --time "$STOP_TIMEOUT" "$CONTAINER_NAME" >/dev/null
docker rm --force "$CONTAINER_NAME" >/dev/null
echo "$HOOK: stopped and removed $CONTAINER_NAME"
