"""The build log tail: read backwards from the stream's end, through partly full or empty pages."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from ops.aws import client
from ops.diagnose.collect import Aws, Findings, Handles, _read_log_tail

GROUP, STREAM = "/aws/codebuild/app-prod", "build-1"
PARAMS = {"logGroupName": GROUP, "logStreamName": STREAM, "limit": 4, "startFromHead": False}


def read_tail(stubber_setup) -> list[str]:
    logs = client("logs", boto3.session.Session(region_name="us-east-1", aws_access_key_id="testing",
                                                aws_secret_access_key="testing"))
    with Stubber(logs) as stubber:
        stubber_setup(stubber)
        findings = Findings(pipeline={})
        _read_log_tail(Aws(factory=lambda service: logs), Handles(pipeline="p", log_lines=4), findings, GROUP, STREAM)
        stubber.assert_no_pending_responses()
    return findings.log_lines


def page(messages: list[str], backward: str) -> dict:
    events = [{"timestamp": n, "message": message, "ingestionTime": n} for n, message in enumerate(messages)]
    return {"events": events, "nextForwardToken": "f/end", "nextBackwardToken": backward}


def test_an_empty_page_before_the_start_is_read_past():
    def setup(stubber):
        stubber.add_response("get_log_events", page([], "b/2"), PARAMS)
        stubber.add_response("get_log_events", page(["c", "d\ne"], "b/1"), PARAMS | {"nextToken": "b/2"})
        stubber.add_response("get_log_events", page(["a", "b"], "b/0"), PARAMS | {"nextToken": "b/1"})  # older

    assert read_tail(setup) == ["b", "c", "d", "e"]  # the newest 4 lines in order, an event split into lines


def test_a_short_log_ends_where_the_token_stops_changing():
    def setup(stubber):
        stubber.add_response("get_log_events", page(["only line\n"], "b/0"), PARAMS)
        stubber.add_response("get_log_events", page([], "b/0"), PARAMS | {"nextToken": "b/0"})

    assert read_tail(setup) == ["only line"]
