# shellcheck shell=bash
# Sourced by every hook after `set -euo pipefail` and HOOK=<its lifecycle event>. Gives each failure a message
# that starts with the hook's name (the operator's `diagnose` reads the failing hook's log tail) and reads the
# bundle's and the instance's inputs. Every path, name and timeout here can be overridden from the environment.

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

# This instance's settings, from the file its boot script (the delivery stack's user data) writes: AWS_REGION,
# APP_PORT, APP_LOG_GROUP and BAKE_MINUTES as shell-quoted KEY=value lines. The bundle is the same in every
# environment it is promoted to, so nothing about the environment comes from it.
HOOK_DEPLOY_ENV="${HOOK_DEPLOY_ENV:-/etc/app/deploy.env}"
MAX_BAKE_MINUTES=55  # the bake (AfterAllowTraffic) must end within AWS's 3600 s limit for a hook
load_deploy_env() {
  local file="$HOOK_DEPLOY_ENV" name
  [[ -f "$file" ]] || fail "$file is missing: the instance's boot script writes it (AWS_REGION, APP_PORT, \
APP_LOG_GROUP, BAKE_MINUTES)"
  # shellcheck source=/dev/null
  source "$file" || fail "$file could not be read as KEY=value lines (the instance's boot script writes it)"
  for name in AWS_REGION APP_PORT APP_LOG_GROUP BAKE_MINUTES; do
    [[ -n "${!name:-}" ]] || fail "$file does not set $name (the instance's boot script writes it)"
  done
  whole_number_in "$APP_PORT" 1 65535 || fail "$file: APP_PORT must be a TCP port from 1 to 65535, got '$APP_PORT'"
  whole_number_in "$BAKE_MINUTES" 1 "$MAX_BAKE_MINUTES" \
    || fail "$file: BAKE_MINUTES must be whole minutes from 1 to $MAX_BAKE_MINUTES, got '$BAKE_MINUTES'"
}

# whole_number_in VALUE MIN MAX: VALUE is a whole number in decimal (no sign, no leading zero) from MIN to MAX.
whole_number_in() {
  [[ "$1" =~ ^[1-9][0-9]{0,8}$ ]] || return 1
  (($1 >= $2 && $1 <= $3))
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

# What the release itself sets, from release.json: DRILL_FAILURE_RATE (the rollback drill; 0 for a real release).
read_release() {
  local file="$HOOK_BUNDLE_DIR/release.json"
  [[ -f "$file" ]] || fail "$file is missing: the build writes it into the bundle (python -m app.artifact)"
  # shellcheck disable=SC2034  # used by the hooks that source this file
  DRILL_FAILURE_RATE="$(json_field drillFailureRate <"$file")" || fail "$file has no 'drillFailureRate'"
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
