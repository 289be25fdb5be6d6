#!/bin/bash
# Boot script for the app instances (Amazon Linux 2023): docker and the CodeDeploy agent, nothing else.
# The app itself arrives through CodeDeploy, which also replays the last good revision on new instances.
set -euo pipefail

dnf install -y docker ruby wget
systemctl enable --now docker

# IMDSv2 only: ask for a session token first.
token=$(curl -sS -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
region=$(curl -sS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/placement/region")

installer=$(mktemp)
wget -q -O "${installer}" "https://aws-codedeploy-${region}.s3.${region}.amazonaws.com/latest/install"
chmod +x "${installer}"
"${installer}" auto
rm -f "${installer}"
systemctl enable --now codedeploy-agent
