"""ops.aws.client: the default session's settings, standard retries, and AWS_REGION honoured."""

from __future__ import annotations

import boto3
import pytest

from ops.aws import client
from ops.errors import OpsError


def test_aws_region_names_the_region_when_botocore_finds_none(monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")

    assert client("codedeploy", boto3.session.Session()).meta.region_name == "eu-west-2"


def test_the_profile_or_aws_default_region_still_wins(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")

    assert client("codedeploy", boto3.session.Session()).meta.region_name == "us-west-2"


def test_clients_retry_in_standard_mode(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    retries = client("logs").meta.config.retries

    assert retries == {"mode": "standard", "total_max_attempts": 6}  # the first try and 5 retries


def test_a_malformed_endpoint_url_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not-a-url")

    with pytest.raises(OpsError, match="AWS_ENDPOINT_URL"):
        client("codedeploy")
