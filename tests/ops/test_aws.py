"""ops.aws: the default session's settings, timeouts and bounded standard retries, AWS_REGION honoured, and every
botocore fault turned into one clear line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from ops import aws
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


def test_clients_have_timeouts_and_bounded_standard_retries(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    config = client("logs").meta.config

    assert config.retries == {"mode": "standard", "total_max_attempts": aws.ATTEMPTS}  # the first try included
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT, aws.READ_TIMEOUT)


def test_the_documented_worst_case_of_one_call_is_under_a_minute():
    waits = aws.ATTEMPTS * (aws.CONNECT_TIMEOUT + aws.READ_TIMEOUT)
    backoff = sum(min(2 ** i, 20) + 5 for i in range(aws.ATTEMPTS - 1))  # throttling scale 1 s, retry-after +5 s
    assert aws.WORST_CASE_SECONDS == waits + backoff == 58


def test_environment_settings_cannot_unbound_the_retries(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "20")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")

    assert client("codedeploy").meta.config.retries == {"mode": "standard", "total_max_attempts": aws.ATTEMPTS}


def test_a_malformed_endpoint_url_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not-a-url")

    with pytest.raises(OpsError, match="AWS_ENDPOINT_URL"):
        client("codedeploy")


def test_a_profile_that_does_not_exist_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    with pytest.raises(OpsError) as raised:
        aws.default_session()

    assert str(raised.value) == ("AWS profile `no-such-profile` (AWS_PROFILE) is not in the AWS config or credentials "
                                 "files; `aws configure list-profiles` lists the profiles there are")
    assert raised.value.exit_code == 2


def test_a_region_name_of_the_wrong_shape_is_named_not_blamed_on_the_endpoint(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "bad region!")

    with pytest.raises(OpsError) as raised:
        client("codedeploy")

    message = str(raised.value)
    assert "`bad region!` is not a valid AWS region name" in message and "AWS_ENDPOINT_URL" not in message


@pytest.mark.parametrize(("error", "says"), [
    (NoRegionError(), "no AWS region configured; set AWS_REGION or use a profile with a region"),
    (ProfileNotFound(profile="x"), "AWS profile `x` (AWS_PROFILE) is not in the AWS config or credentials files"),
    (ReadTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/"),
     f"AWS did not answer: codedeploy at https://codedeploy.us-east-1.amazonaws.com/ sent nothing within "
     f"{aws.READ_TIMEOUT}s, {aws.ATTEMPTS} attempts"),
    (ConnectTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/"),
     f"AWS did not answer: no connection to codedeploy at https://codedeploy.us-east-1.amazonaws.com/ within "
     f"{aws.CONNECT_TIMEOUT}s, {aws.ATTEMPTS} attempts"),
    (EndpointConnectionError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/"),
     "cannot connect to AWS: codedeploy at https://codedeploy.us-east-1.amazonaws.com/"),
])
def test_each_botocore_fault_is_one_line(error, says):
    message = str(aws.explain(error, "codedeploy"))
    assert says in message and "\n" not in message


def test_an_endpoint_in_a_region_botocore_does_not_know_says_so():
    error = EndpointConnectionError(endpoint_url="https://codedeploy.moon-1.amazonaws.com/")

    message = str(aws.explain(error, "codedeploy", region="moon-1"))

    assert "`moon-1` is not a region botocore knows for codedeploy" in message


@pytest.mark.parametrize(("status", "code", "says"), [
    (400, "ThrottlingException", "AWS kept throttling codedeploy:ListDeployments (ThrottlingException)"),
    (503, "SlowDown", "AWS kept throttling codedeploy:ListDeployments (SlowDown)"),
    (503, "503", "AWS codedeploy:ListDeployments answered HTTP 503"),
])
def test_throttling_and_service_faults_after_the_retries_are_one_line(status, code, says):
    body = '<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>' if code == "503" else "Rate exceeded"
    error = ClientError({"Error": {"Code": code, "Message": body},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "ListDeployments")

    message = str(aws.explain(error, "codedeploy"))

    assert message.startswith(says) and f"after {aws.ATTEMPTS} attempts" in message
    assert "<?xml" not in message


def test_times_are_printed_in_utc_to_the_second():
    local = datetime(2026, 11, 26, 22, 50, 24, 987654, tzinfo=timezone(timedelta(hours=1)))

    assert aws.utc_iso(local) == "2026-11-26T21:50:24+00:00"
    assert aws.utc_iso(None) is None


# --- one error path: what each kind of failure is, for the commands that react to it --------------------------------


def client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "ListDeployments")


def test_a_refusal_names_the_missing_permission_or_else_the_call():
    said = ("User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: codedeploy:ListDeployments "
            "on resource: *")
    refused = aws.explain(client_error("AccessDeniedException", said), "codedeploy")
    assert refused.permission == "codedeploy:ListDeployments" and refused.said == said
    assert refused.reply == f"AccessDeniedException: {said}"
    assert aws.explain(client_error("AccessDenied", ""), "codedeploy").permission == "codedeploy:ListDeployments"


def test_an_answer_about_the_call_is_its_code_and_message():
    failure = aws.explain(client_error("ApplicationDoesNotExistException", "No application found"), "codedeploy")
    assert str(failure) == "codedeploy:ListDeployments failed: ApplicationDoesNotExistException: No application found"
    assert failure.reply == "ApplicationDoesNotExistException: No application found" and failure.exit_code == 2
    assert failure.code == "ApplicationDoesNotExistException" and failure.permission is None


@pytest.mark.parametrize(("error", "code", "throttled"), [
    (client_error("ThrottlingException", "Rate exceeded"), "ThrottlingException", True),
    (client_error("InternalFailure", "oops", 500), "InternalFailure", False),
    (ReadTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com/"), None, False),
    (NoRegionError(), None, False),
])
def test_no_answer_worth_reading_has_no_reply(error, code, throttled):
    failure = aws.explain(error, "codedeploy")
    assert failure.reply is None and failure.permission is None
    assert failure.code == code and failure.throttled is throttled
