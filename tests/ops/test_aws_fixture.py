"""The moto fixture itself: boto3's default session reaches the server through AWS_ENDPOINT_URL."""

from ops.aws import client


def test_default_session_reaches_moto_through_endpoint_url(aws):
    codedeploy = client("codedeploy")
    codedeploy.create_application(applicationName="probe", computePlatform="Server")
    assert codedeploy.meta.endpoint_url == aws
    assert codedeploy.list_applications()["applications"] == ["probe"]


def test_each_test_starts_with_an_empty_account(aws):
    assert client("codedeploy").list_applications()["applications"] == []
