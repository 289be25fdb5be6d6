"""boto3 clients from the default session (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL all apply), each with connect
and read timeouts and a bounded number of standard-mode retries, and `explain`, the one place that turns what
botocore raises into one clear line (an AwsError, exit code 2) and says what it was: a refusal (naming the missing
permission), AWS's own answer about the call, or no answer worth reading (unreachable, timed out, still throttling
or failing after the retries, no region or profile). `ops diagnose` and `ops rollback app` both use it.

The bound. One call makes at most ATTEMPTS attempts. Each waits at most CONNECT_TIMEOUT for the connection and
READ_TIMEOUT for each read of the answer (botocore's defaults are 60 s each: against an endpoint that never answered,
a call took 6 minutes). Between attempts standard mode waits rand(0, 1) * min(scale * 2**i, 20 s), the scale 1 s for
throttling and 50 ms otherwise, plus at most 5 s more when the answer carries an x-amz-retry-after header
(botocore/retries/standard.py, ExponentialBackoff). So the worst case of one call is WORST_CASE_SECONDS:
3 * (5 + 10) + (1 + 5) + (2 + 5) = 58 s, under a minute. Two things it does not bound: resolving the endpoint's name
(getaddrinfo takes no timeout; a failed lookup is quick) and a server that trickles a byte at a time (the read
timeout applies to each read).

Sources (read 2026-12):
- botocore Config, https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html:
  connect_timeout "The time in seconds till a timeout exception is thrown when attempting to make a connection";
  read_timeout "... when attempting to read from a connection"; retries max_attempts "the maximum number of retry
  attempts that will be made on a single request" (the first request not counted).
- Boto3 retries guide, https://docs.aws.amazon.com/boto3/latest/guide/retries.html: standard mode retries
  throttling errors (Throttling, ThrottlingException, SlowDown, ...), "transient errors" (RequestTimeout, ...,
  HTTP 500, 502, 503, 504) and connection errors (ReadTimeoutError, EndpointConnectionError, ...).
- AWS SDKs reference, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html: standard is
  "The standard set of retry rules across AWS SDKs"; "The default maximum number of attempts with this mode is
  three, unless max_attempts is explicitly configured."
- Timestamps come back in the machine's zone (tzinfo=tzlocal()): botocore/utils.py parse_timestamp; a boto3
  maintainer, https://github.com/boto/boto3/issues/2211: "refers to the local timezone as configured on the host
  that received this response". `utc_iso` prints them in one zone."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from ops.errors import OpsError

CONNECT_TIMEOUT = 5  # seconds to open a connection
READ_TIMEOUT = 10  # seconds to wait for each read of an answer (a slower answer is retried, then reported)
ATTEMPTS = 3  # the first try and 2 retries: standard mode's own default, made explicit
MAX_BACKOFF, RETRY_AFTER_EXTRA = 20, 5  # botocore's ExponentialBackoff cap and x-amz-retry-after allowance
WORST_CASE_SECONDS = ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + sum(
    min(2**i, MAX_BACKOFF) + RETRY_AFTER_EXTRA for i in range(ATTEMPTS - 1)
)
CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
    # An explicit client config wins over AWS_MAX_ATTEMPTS / AWS_RETRY_MODE, so the bound above always holds.
    retries={"mode": "standard", "max_attempts": ATTEMPTS - 1},  # max_attempts counts the retries only
)
# Throttling codes botocore's standard mode retries (ThrottledRetryableChecker): after ATTEMPTS it gives up.
THROTTLING_CODES = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
}
# A refusal, and how AWS names the action that was refused in its message.
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
NOT_AUTHORIZED = re.compile(r"not authorized to perform:?\s+([\w-]+:[\w*]+)")


def default_session() -> boto3.session.Session:
    """The default session. botocore reads AWS_PROFILE here, so a profile that does not exist fails here."""
    try:
        return boto3.session.Session()
    except BotoCoreError as error:
        raise explain(error, "the AWS session") from error


def client(service: str, session: boto3.session.Session | None = None):
    """A client for `service`. botocore reads only AWS_DEFAULT_REGION (and the profile's region); AWS_REGION, the
    variable the other AWS SDKs and most CI systems set, is honoured when neither names one."""
    session = session or default_session()
    try:
        region = session.region_name or os.environ.get("AWS_REGION") or None
        return session.client(service, region_name=region, config=CONFIG)
    except BotoCoreError as error:
        raise explain(error, service) from error
    except ValueError as error:  # botocore's answer to a malformed endpoint URL
        raise OpsError(f"cannot make an AWS client for {service}: {error} (check AWS_ENDPOINT_URL)") from error


class AwsError(OpsError):
    """What botocore raised, said in one line (exit code 2). `code` is AWS's error code (None when AWS gave no answer
    at all); `reply` is AWS's own answer about the call, "Code: Message" (None when there is none worth reading: the
    call was still throttled or failing with 5xx after the retries, or never answered); `permission` is the IAM action
    a refusal names (None unless refused); `said` is AWS's message."""

    def __init__(self, line: str, code: str | None = None, reply: str | None = None, permission: str | None = None,
                 said: str = ""):
        super().__init__(line)
        self.code, self.reply, self.permission, self.said = code, reply, permission, said

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLING_CODES


def explain(error: Exception, service: str, region: str | None = None) -> AwsError:
    """One line for what botocore raised while reaching `service` (after its retries)."""
    if isinstance(error, ClientError):
        return _client_error(error, service)
    return AwsError(_fault_line(error, service, region))


def _fault_line(error: Exception, service: str, region: str | None) -> str:
    url = getattr(error, "kwargs", {}).get("endpoint_url", "")
    if isinstance(error, ProfileNotFound):
        return (f"AWS profile `{error.kwargs.get('profile')}` (AWS_PROFILE) is not in the AWS config or credentials "
                "files; `aws configure list-profiles` lists the profiles there are")
    if isinstance(error, NoRegionError):
        return "no AWS region configured; set AWS_REGION or use a profile with a region"
    if isinstance(error, InvalidRegionError):
        return (f"`{error.kwargs.get('region_name')}` is not a valid AWS region name (from AWS_REGION, "
                "AWS_DEFAULT_REGION or the profile); use a name such as eu-west-1")
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found; configure a profile or set AWS_PROFILE"
    if isinstance(error, ReadTimeoutError):
        return (f"AWS did not answer: {service} at {url} sent nothing within {READ_TIMEOUT}s, {ATTEMPTS} attempts "
                "(check the network, a proxy, AWS_ENDPOINT_URL)")
    if isinstance(error, ConnectTimeoutError):
        return (f"AWS did not answer: no connection to {service} at {url} within {CONNECT_TIMEOUT}s, {ATTEMPTS} "
                "attempts (check the network, a proxy, AWS_ENDPOINT_URL)")
    if isinstance(error, EndpointConnectionError):
        return f"cannot connect to AWS: {service} at {url}{_region_hint(service, region)}"
    return f"AWS call to {service} failed: {error}"


def _region_hint(service: str, region: str | None) -> str:
    known = known_regions(service) if region else None
    if known and region not in known:
        return f"; `{region}` is not a region botocore knows for {service} (check AWS_REGION, AWS_DEFAULT_REGION)"
    return " (check the network, AWS_REGION, AWS_ENDPOINT_URL)"


def known_regions(service: str) -> set[str] | None:
    """Every region botocore's endpoint data lists for `service`, in every partition (aws, aws-cn, ...); None when
    that data cannot be read. A region botocore does not list may still be new, hence a hint, not a refusal."""
    try:
        data = boto3.session.Session()
        return {region for partition in data.get_available_partitions()
                for region in data.get_available_regions(service, partition)}
    except BotoCoreError:
        return None


def _gave_up(error: ClientError) -> bool:
    """AWS still throttled or failed (5xx) after the retries: an outage to wait out, not an answer about the call."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in THROTTLING_CODES or code.isdigit() or status >= 500


def _client_error(error: ClientError, service: str) -> AwsError:
    detail = error.response.get("Error", {})
    code = str(detail.get("Code", ""))
    said = str(detail.get("Message") or error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    where = f"{service}:{error.operation_name}"
    if code in THROTTLING_CODES:
        line = f"AWS kept throttling {where} ({code}) after {ATTEMPTS} attempts; try again in a minute"
        return AwsError(line, code, said=said)
    if _gave_up(error):
        named = f" {code}" if code and not code.isdigit() else ""
        return AwsError(f"AWS {where} answered HTTP {status or code}{named} after {ATTEMPTS} attempts (the service is "
                        "unavailable or throttling); try again in a minute", code, said=said)
    reply = f"{code or 'error'}: {said}"
    permission = None
    if code in DENIED_CODES:
        named = NOT_AUTHORIZED.search(said)
        permission = named.group(1) if named else where
    return AwsError(f"{where} failed: {reply}", code, reply, permission, said)


def utc_iso(value: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC, to the second ("2026-11-26T21:50:24+00:00"), whatever zone botocore gave it."""
    if not isinstance(value, datetime):
        return value
    return value.astimezone(UTC).isoformat(timespec="seconds")
