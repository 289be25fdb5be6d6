#!/usr/bin/env bash
# ApplicationStart: run the pulled image (by digest) with a restart policy, the app port published, the instance's
# settings and the release's drill rate in its environment, and its logs sent to CloudWatch Logs.
set -euo pipefail
HOOK=ApplicationStart
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

load_deploy_env
read_image
read_release
HOOK_LOG_STREAM_PREFIX="${HOOK_LOG_STREAM_PREFIX:-$HOSTNAME}"  # a log stream per instance and container

if [[ -n "$(container_id)" ]]; then  # a retried hook, or a container ApplicationStop did not know about
  echo "$HOOK: removing the existing $HOOK_CONTAINER_NAME container first"
  docker rm --force "$HOOK_CONTAINER_NAME" >/dev/null
fi

echo "$HOOK: starting $IMAGE_URI as $HOOK_CONTAINER_NAME on port $APP_PORT"
docker run --detach \
  --name "$HOOK_CONTAINER_NAME" \
  --restart unless-stopped \
  --publish "$APP_PORT:$APP_PORT" \
  --env "APP_PORT=$APP_PORT" \
  --env "APP_IMAGE_DIGEST=$IMAGE_DIGEST" \
  --env "DRILL_FAILURE_RATE=$DRILL_FAILURE_RATE" \
  --log-driver awslogs \
  --log-opt "awslogs-region=$AWS_REGION" \
  --log-opt "awslogs-group=$APP_LOG_GROUP" \
  --log-opt "tag=$HOOK_LOG_STREAM_PREFIX/{{.Name}}/{{.ID}}" \
  --log-opt mode=non-blocking \
  --log-opt max-buffer-size=4m \
  --read-only --tmpfs /tmp \
  --cap-drop ALL \
  --security-opt no-new-privileges \
  "$IMAGE_URI" >/dev/null \
  || fail "docker run of $IMAGE_URI failed (is port $APP_PORT free, and does log group $APP_LOG_GROUP exist?)"
echo "$HOOK: started $HOOK_CONTAINER_NAME"
