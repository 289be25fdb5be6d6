#!/bin/bash
# Boot script for the app instances (Amazon Linux 2023): docker, the CodeDeploy agent and the health reporter.
# The app itself arrives through CodeDeploy, which also replays the last good revision on new instances.
set -euo pipefail

dnf install -y docker ruby wget
systemctl enable --now docker

# The stack's settings for this environment, which the deployment hooks read: the release bundle is the same in
# every stack, so they cannot travel in it (components/fleet.py deploy_settings). Written before the CodeDeploy agent
# starts: on a launch into the group CodeDeploy deploys the last good revision at once.
install -d -m 0755 /etc/app
cat >/etc/app/deploy.env <<'SETTINGS'
@DEPLOY_SETTINGS@
SETTINGS
chmod 0644 /etc/app/deploy.env

# IMDSv2 only: ask for a session token first.
token=$(curl -sS -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
region=$(curl -sS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/placement/region")

installer=$(mktemp)
wget -q -O "${installer}" "https://aws-codedeploy-${region}.s3.${region}.amazonaws.com/latest/install"
chmod +x "${installer}"
"${installer}" auto
rm -f "${installer}"
systemctl enable --now codedeploy-agent

# The health reporter (components/fleet_health_report.sh), run every 30 s once the instance is up.
install -d -m 0755 /var/lib/app-health
cat >/usr/local/sbin/app-health-report <<'REPORTER'
@HEALTH_REPORT_SCRIPT@
REPORTER
chmod 0755 /usr/local/sbin/app-health-report
cat >/etc/systemd/system/app-health-report.service <<'UNIT'
[Unit]
Description=Report this instance Unhealthy to Auto Scaling when its validated release stops answering /healthz

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/app-health-report
UNIT
cat >/etc/systemd/system/app-health-report.timer <<'UNIT'
[Unit]
Description=Check the app's health every 30 seconds

[Timer]
OnBootSec=60
OnUnitActiveSec=30
AccuracySec=5

[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now app-health-report.timer
