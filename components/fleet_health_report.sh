#!/bin/bash
# Run every 30 s on each app instance (a systemd timer set up by the boot script). Once this instance runs a
# release that passed ValidateService, a release that stops answering /healthz for HEALTH_REPORT_FAILURES checks
# in a row makes the instance report itself Unhealthy to Auto Scaling, which replaces it. Before the first
# release, and while a deployment is changing the app, it reports nothing: a fleet waiting for its first release
# does not churn, and a deployment is never raced by a replacement (docs/aws-behaviour.md, B9, B10).
# The state files are written by the app's hooks (app/hooks/common.sh: mark_deploying, mark_released).
set -euo pipefail

state_dir="${HEALTH_STATE_DIR:-/var/lib/app-health}"
failures_needed="${HEALTH_REPORT_FAILURES:-3}"
deploying_max_minutes="${HEALTH_DEPLOYING_MAX_MINUTES:-120}"  # a deployment marker older than this is stale
imds="${HEALTH_IMDS_URL:-http://169.254.169.254}"
failures_file="$state_dir/failures"

say() { echo "app-health: $*"; }

if [[ ! -s "$state_dir/released" ]]; then
  say "no release validated on this instance yet: nothing to report"
  exit 0
fi
if [[ -n "$(find "$state_dir" -maxdepth 1 -name deploying -mmin "-$deploying_max_minutes" 2>/dev/null)" ]]; then
  say "a deployment is changing the app: not checking"
  rm -f "$failures_file"
  exit 0
fi

port="$(cat "$state_dir/released")"
[[ "$port" =~ ^[0-9]+$ ]] || { say "$state_dir/released holds '$port', not a port: not checking"; exit 0; }
if curl --silent --fail --output /dev/null --max-time 5 "http://127.0.0.1:$port/healthz"; then
  rm -f "$failures_file"
  exit 0
fi

failures=$(( $(cat "$failures_file" 2>/dev/null || echo 0) + 1 ))
echo "$failures" >"$failures_file"
if (( failures < failures_needed )); then
  say "/healthz on port $port failed ($failures of $failures_needed in a row)"
  exit 0
fi

if [[ -n "${HEALTH_INSTANCE_ID:-}" && -n "${HEALTH_REGION:-}" ]]; then
  instance_id="$HEALTH_INSTANCE_ID" region="$HEALTH_REGION"
else
  # IMDSv2 only: a session token first.
  token="$(curl --silent --fail --max-time 5 -X PUT "$imds/latest/api/token" \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 60")"
  instance_id="$(curl --silent --fail --max-time 5 -H "X-aws-ec2-metadata-token: $token" \
    "$imds/latest/meta-data/instance-id")"
  region="$(curl --silent --fail --max-time 5 -H "X-aws-ec2-metadata-token: $token" \
    "$imds/latest/meta-data/placement/region")"
fi
say "/healthz on port $port failed $failures times in a row: reporting $instance_id Unhealthy to Auto Scaling"
aws autoscaling set-instance-health --region "$region" --instance-id "$instance_id" --health-status Unhealthy
