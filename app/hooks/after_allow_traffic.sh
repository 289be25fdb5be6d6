#!/usr/bin/env bash
# AfterAllowTraffic: the bake. CodeDeploy runs it after registering this instance with the target group again.
# On the last wave of a release (no instance of the deployment still pending), it keeps the deployment in progress
# for BAKE_MINUTES (from the instance's deploy.env) while CodeDeploy watches the deployment group's alarms: an
# alarm stops the deployment and CodeDeploy rolls it back (docs/aws-behaviour.md, B4, B5). It ends early as soon
# as the deployment is no longer in progress, so a rollback never waits for it. Earlier waves return at once
# (CodeDeploy's zonal monitor covers the time between zones), and so do the deployments Auto Scaling starts for new
# instances, CodeDeploy's own rollbacks and `python -m ops rollback app` (its description starts with
# "ops rollback app:").
set -euo pipefail
HOOK=AfterAllowTraffic
# shellcheck source=app/hooks/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

HOOK_BAKE_POLL_SECONDS="${HOOK_BAKE_POLL_SECONDS:-30}"
[[ "$HOOK_BAKE_POLL_SECONDS" =~ ^[0-9]+([.][0-9]+)?$ ]] \
  || fail "HOOK_BAKE_POLL_SECONDS must be seconds, got '$HOOK_BAKE_POLL_SECONDS'"
load_deploy_env  # checks BAKE_MINUTES: whole minutes from 1 to MAX_BAKE_MINUTES
# The bake's length: this instance's BAKE_MINUTES, unless HOOK_BAKE_SECONDS overrides it (as the other HOOK_* do).
HOOK_BAKE_SECONDS="${HOOK_BAKE_SECONDS:-$((BAKE_MINUTES * 60))}"
[[ "$HOOK_BAKE_SECONDS" =~ ^[0-9]+$ ]] || fail "HOOK_BAKE_SECONDS must be whole seconds, got '$HOOK_BAKE_SECONDS'"
[[ -n "${DEPLOYMENT_ID:-}" ]] || fail "DEPLOYMENT_ID is not set (CodeDeploy's agent sets it for every hook)"

# "STATUS CREATOR PENDING OPS_ROLLBACK" of this deployment (GetDeployment; docs/aws-behaviour.md, B7).
describe_deployment() {
  local document
  document="$(AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=5 aws deploy get-deployment --region "$AWS_REGION" \
    --deployment-id "$DEPLOYMENT_ID" --output json)" || return 1
  "$HOOK_PYTHON" -c '
import json, sys
info = json.load(sys.stdin)["deploymentInfo"]
ops = (info.get("description") or "").startswith("ops rollback app:")
pending = (info.get("deploymentOverview") or {}).get("Pending", 0)
print(info["status"], info.get("creator", "user"), pending, "yes" if ops else "no")
' <<<"$document"
}

read -r status creator pending ops_rollback < <(describe_deployment || echo "unreadable") || true
[[ -n "${creator:-}" ]] || fail "cannot read deployment $DEPLOYMENT_ID (codedeploy:GetDeployment); the bake cannot tell \
whether this is the last wave"
if [[ "$creator" != user ]]; then
  echo "$HOOK: no bake: deployment $DEPLOYMENT_ID was started by $creator"
  exit 0
fi
if [[ "$ops_rollback" == yes ]]; then
  echo "$HOOK: no bake: deployment $DEPLOYMENT_ID is an operator's rollback (ops rollback app)"
  exit 0
fi
if ((pending > 0)); then
  echo "$HOOK: no bake on this wave: $pending instance(s) of deployment $DEPLOYMENT_ID still to go"
  exit 0
fi

# Microseconds since the epoch (bash's SECONDS counts whole seconds only).
now_us() { local now="$EPOCHREALTIME"; echo "${now/[.,]/}"; }

echo "$HOOK: last wave of $DEPLOYMENT_ID: baking for ${HOOK_BAKE_SECONDS}s while CodeDeploy watches the alarms"
started=$(now_us)
deadline=$((started + HOOK_BAKE_SECONDS * 1000000))
while (($(now_us) < deadline)); do
  sleep "$HOOK_BAKE_POLL_SECONDS"
  if read -r status _ < <(describe_deployment); then
    if [[ "$status" != InProgress ]]; then
      echo "$HOOK: deployment $DEPLOYMENT_ID is $status: the bake ends here"
      exit 0
    fi
  else
    echo "$HOOK: could not read deployment $DEPLOYMENT_ID; baking on" >&2
  fi
  echo "$HOOK: baked $((($(now_us) - started) / 1000000))s of ${HOOK_BAKE_SECONDS}s"
done
echo "$HOOK: baked ${HOOK_BAKE_SECONDS}s and CodeDeploy saw no alarm: the release is good"
