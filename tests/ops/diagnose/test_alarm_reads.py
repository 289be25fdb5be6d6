"""How diagnose reads alarms: every page of DescribeAlarms, and each alarm's history by its own type."""

from __future__ import annotations

from botocore.stub import ANY

from ops.diagnose.collect import Findings, _read_alarms


def _metric(name: str, account) -> dict:
    return {"AlarmName": name, "StateValue": "OK", "StateReason": "fine", "StateUpdatedTimestamp": account.ago(600)}


def test_more_alarms_than_one_page_holds_are_all_read(account):
    names = [f"alarm-{i:02}" for i in range(60)]  # DescribeAlarms pages at 50 by default
    cloudwatch = account.stub["cloudwatch"]
    types = ["MetricAlarm", "CompositeAlarm"]
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": [_metric(n, account) for n in names[:50]],
                                                "NextToken": "page-2"}, {"AlarmNames": names, "AlarmTypes": types})
    cloudwatch.add_response("describe_alarms", {"MetricAlarms": [_metric(n, account) for n in names[50:]]},
                            {"AlarmNames": names, "AlarmTypes": types, "NextToken": "page-2"})
    findings = Findings(pipeline={})

    _read_alarms(account.aws, findings, names)

    assert [alarm["name"] for alarm in findings.alarms] == names


def test_a_composite_alarms_history_is_asked_for_as_a_composite_alarm(account):
    cloudwatch = account.stub["cloudwatch"]
    composite = {"AlarmName": "health", "StateValue": "ALARM", "StateReason": "child in ALARM",
                 "StateUpdatedTimestamp": account.ago(5)}
    cloudwatch.add_response("describe_alarms", {"CompositeAlarms": [composite]},
                            {"AlarmNames": ["health"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    item = {"AlarmName": "health", "AlarmType": "CompositeAlarm", "Timestamp": account.ago(5),
            "HistoryItemType": "StateUpdate", "HistorySummary": "Alarm updated from OK to ALARM"}
    cloudwatch.add_response("describe_alarm_history", {"AlarmHistoryItems": [item]}, {
        "AlarmName": "health", "AlarmTypes": ["CompositeAlarm"], "HistoryItemType": "StateUpdate",
        "StartDate": ANY, "EndDate": ANY, "MaxRecords": 20, "ScanBy": "TimestampDescending"})
    findings = Findings(pipeline={}, window=(account.ago(10), account.now))

    _read_alarms(account.aws, findings, ["health"])

    assert findings.alarms[0]["type"] == "composite"
    assert findings.alarms[0]["transitions"][0]["summary"] == "Alarm updated from OK to ALARM"
