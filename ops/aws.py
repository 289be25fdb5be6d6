"""boto3 clients from the default session (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL all apply), with
standard retry mode so throttling is retried with backoff."""

from __future__ import annotations

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, session: boto3.session.Session | None = None):
    return (session or boto3.session.Session()).client(service, config=RETRY_CONFIG)
