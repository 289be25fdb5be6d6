"""boto3 clients from the default session (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL all apply), with
standard retry mode so throttling is retried with backoff."""

from __future__ import annotations

import os

import boto3
from botocore.config import Config

from ops.errors import OpsError

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, session: boto3.session.Session | None = None):
    """A client for `service`. botocore reads only AWS_DEFAULT_REGION (and the profile's region); AWS_REGION, the
    variable the other AWS SDKs and most CI systems set, is honoured when neither names one."""
    session = session or boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or None
    try:
        return session.client(service, region_name=region, config=RETRY_CONFIG)
    except ValueError as error:  # botocore's answer to a malformed endpoint URL
        raise OpsError(f"cannot make an AWS client for {service}: {error} (check AWS_ENDPOINT_URL)") from error
