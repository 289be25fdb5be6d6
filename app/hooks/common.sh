# shellcheck shell=bash
# Sourced by every hook after `set -euo pipefail` and HOOK=<its lifecycle event>. Gives each failure a message
# that starts with the hook's name (the operator's `diagnose` reads the failing hook's log tail) and reads the
# bundle's inputs. Every path, name and timeout here can be overridden from the environment.

set -E  # the ERR trap also fires inside functions
trap 'echo "$HOOK: command failed (exit $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

# The bundle this script came from. CodeDeploy runs every hook from its revision's deployment-archive
# directory, and BeforeInstall runs before `files:` are copied, so the bundle is found next to the script.
HOOK_BUNDLE_DIR="${HOOK_BUNDLE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
HOOK_CONTAINER_NAME="${HOOK_CONTAINER_NAME:-app}"
HOOK_PYTHON="${HOOK_PYTHON:-python3}"  # Amazon Linux 2023 ships python3; used only to read JSON
# Shared with the instance's health reporter (the stack's boot script): which release was validated here, and
# whether a deployment is changing the app right now, so that it never reports a deployment as an outage.
HOOK_HEALTH_STATE_DIR="${HOOK_HEALTH_STATE_DIR:-/var/lib/app-health}"

fail() {
  echo "$HOOK: $*" >&2
  exit 1
}

# json_field NAME < document: print one top-level field of a JSON object.
json_field() {
  "$HOOK_PYTHON" -c '
import json, sys
try:
    print(json.load(sys.stdin)[sys.argv[1]])
except (ValueError, KeyError, TypeError):
    sys.exit(1)
' "$1"
}

# The deployment's settings, written by the build (app/artifact.py): AWS_REGION, APP_PORT, APP_LOG_GROUP,
# DRILL_FAILURE_RATE.
load_deploy_env() {
  local file="$HOOK_BUNDLE_DIR/deploy.env"
  [[ -f "$file" ]] || fail "$file is missing: the build writes it into the bundle (python -m app.artifact)"
  # shellcheck source=/dev/null
  source "$file"
  local name
  for name in AWS_REGION APP_PORT APP_LOG_GROUP DRILL_FAILURE_RATE; do
    [[ -n "${!name:-}" ]] || fail "$file does not set $name"
  done
}

# The image to deploy, from image.json: IMAGE_REPOSITORY, IMAGE_TAG, IMAGE_DIGEST, IMAGE_URI (repo@sha256:...).
read_image() {
  local file="$HOOK_BUNDLE_DIR/image.json"
  [[ -f "$file" ]] || fail "$file is missing: the build writes it into the bundle (python -m app.artifact)"
  IMAGE_REPOSITORY="$(json_field repository <"$file")" || fail "$file has no 'repository'"
  # shellcheck disable=SC2034  # used by the hooks that source this file
  IMAGE_TAG="$(json_field tag <"$file")" || fail "$file has no 'tag'"
  IMAGE_DIGEST="$(json_field digest <"$file")" || fail "$file has no 'digest'"
  IMAGE_URI="$(json_field uri <"$file")" || fail "$file has no 'uri'"
  [[ "$IMAGE_DIGEST" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "$file: digest '$IMAGE_DIGEST' is not sha256:<64 hex>"
  [[ "$IMAGE_URI" == "$IMAGE_REPOSITORY@$IMAGE_DIGEST" ]] \
    || fail "$file: uri '$IMAGE_URI' is not repository@digest; refusing to deploy by anything but digest"
}

# The ID of the app container, running or not; empty if there is none.
container_id() {
  docker ps --all --quiet --filter "name=^/?${HOOK_CONTAINER_NAME}\$"
}

# A deployment is about to stop or replace the app: the health reporter holds off until mark_released.
mark_deploying() {
  mkdir -p "$HOOK_HEALTH_STATE_DIR"
  touch "$HOOK_HEALTH_STATE_DIR/deploying"
}

# The release on APP_PORT passed ValidateService: from now on the health reporter watches it.
mark_released() {
  mkdir -p "$HOOK_HEALTH_STATE_DIR"
  echo "$APP_PORT" >"$HOOK_HEALTH_STATE_DIR/released.tmp"
  mv "$HOOK_HEALTH_STATE_DIR/released.tmp" "$HOOK_HEALTH_STATE_DIR/released"
  rm -f "$HOOK_HEALTH_STATE_DIR/deploying"
}
