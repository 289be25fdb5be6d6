"""The service over real HTTP: every endpoint, request logs, draining on SIGTERM, the drill switch, bad input."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import httpx
import pytest

from app.drill import FailureDrill
from app.service import create_app
from app.settings import Settings
from app.tests.conftest import DIGEST, GIT_SHA, ROOT

QUOTE = {"currency": "EUR", "items": [{"sku": "MUG-01", "quantity": 2, "unit_price_cents": 1250}]}


def test_healthz_answers_200_when_ready(service):
    response = httpx.get(f"{service.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_version_reports_the_build_it_was_started_with(service):
    response = httpx.get(f"{service.url}/version")
    assert response.status_code == 200
    assert response.json() == {"git_sha": GIT_SHA, "image_digest": DIGEST, "build_time": "2026-11-26T12:00:00Z"}


def test_version_says_unknown_when_the_environment_does_not_tell(start_service):
    service = start_service(APP_GIT_SHA="", APP_IMAGE_DIGEST="", APP_BUILD_TIME="")
    assert httpx.get(f"{service.url}/version").json() == {
        "git_sha": "unknown", "image_digest": "unknown", "build_time": "unknown"}


def test_currencies_lists_what_quotes_accept(service):
    response = httpx.get(f"{service.url}/api/v1/currencies")
    assert response.status_code == 200
    assert response.json() == {"currencies": ["EUR", "GBP", "USD"]}


def test_a_quote_totals_the_lines_without_discount_below_ten_units(service):
    response = httpx.post(f"{service.url}/api/v1/quotes", json=QUOTE)
    assert response.status_code == 200
    assert response.json() == {
        "currency": "EUR", "lines": [{"sku": "MUG-01", "quantity": 2, "line_total_cents": 2500}],
        "total_quantity": 2, "subtotal_cents": 2500, "discount_bp": 0, "discount_cents": 0, "total_cents": 2500}


@pytest.mark.parametrize(("quantity", "discount_bp", "discount_cents"), [(9, 0, 0), (10, 500, 17), (100, 1000, 330)])
def test_volume_discounts_round_half_up_to_the_cent(service, quantity, discount_bp, discount_cents):
    body = {"currency": "USD", "items": [{"sku": "PEN-7", "quantity": quantity, "unit_price_cents": 33}]}
    quote = httpx.post(f"{service.url}/api/v1/quotes", json=body).json()
    assert quote["subtotal_cents"] == 33 * quantity
    assert (quote["discount_bp"], quote["discount_cents"]) == (discount_bp, discount_cents)
    assert quote["total_cents"] == 33 * quantity - discount_cents


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"currency": "JPY", "items": QUOTE["items"]}, "currency", "EUR"),
    ({"currency": "EUR", "items": []}, "items", "at least 1"),
    ({"currency": "EUR", "items": [{"sku": "MUG-01", "quantity": 0, "unit_price_cents": 1}]}, "quantity", "equal to 1"),
    ({"currency": "EUR", "items": [{"sku": "mug 01", "quantity": 1, "unit_price_cents": 1}]}, "sku", "pattern"),
    ({"items": QUOTE["items"]}, "currency", "required"),
])
def test_an_invalid_quote_request_gets_422_naming_the_field(service, body, field, message):
    response = httpx.post(f"{service.url}/api/v1/quotes", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"][-1] == field and message in error["msg"] for error in errors), errors


def test_malformed_json_gets_422_that_says_so(service):
    response = httpx.post(f"{service.url}/api/v1/quotes", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_unknown_paths_and_methods_get_404_and_405(service):
    assert httpx.get(f"{service.url}/api/v1/nothing-here").status_code == 404
    response = httpx.delete(f"{service.url}/api/v1/quotes")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


def test_every_request_writes_one_json_log_line(start_service):
    service = start_service()  # its own, so no other test's requests are in its log

    def request_lines() -> list[dict]:
        return [line for line in service.log_lines() if line.get("message") == "request"
                and line["path"] != "/healthz"]  # the fixture's readiness polls

    httpx.post(f"{service.url}/api/v1/quotes", json=QUOTE)
    httpx.get(f"{service.url}/api/v1/nothing-here")
    deadline = time.monotonic() + 5  # a line is written once its response has gone out
    while len(request_lines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = request_lines()
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/api/v1/quotes", 200), ("GET", "/api/v1/nothing-here", 404)]
    assert all(isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0 for line in lines)
    assert all(line["logger"] == "app.access" and line["level"] == "INFO" and "time" in line for line in lines)
    assert all(set(line) == {"time", "level", "logger", "message", "method", "path", "status", "latency_ms"}
               for line in lines)


def test_sigterm_drains_with_503_then_exits_cleanly(start_service):
    service = start_service(APP_DRAIN_SECONDS="3")
    service.process.send_signal(signal.SIGTERM)
    response = wait_for_health(service.url, 503)
    assert response.json() == {"status": "draining"}
    assert httpx.post(f"{service.url}/api/v1/quotes", json=QUOTE).status_code == 200  # still serving meanwhile
    assert service.wait_for_exit(timeout=15) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{service.url}/healthz", timeout=1)
    assert any(line.get("message", "").startswith("draining") for line in service.log_lines())


def wait_for_health(url: str, status: int, timeout: float = 2.5) -> httpx.Response:
    """The signal is handled asynchronously: poll until /healthz answers the expected status."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


def test_healthz_answers_503_before_startup_has_run():
    """uvicorn only listens after the app's startup, so this state is checked on the app itself."""
    app = create_app(Settings())

    async def get_health() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            return await client.get("/healthz")

    response = asyncio.run(get_health())
    assert response.status_code == 503
    assert response.json() == {"status": "starting"}


def test_drill_switch_off_by_default_fails_nothing(service):
    statuses = [httpx.post(f"{service.url}/api/v1/quotes", json=QUOTE).status_code for _ in range(20)]
    assert statuses == [200] * 20


def test_drill_switch_fails_the_set_fraction_of_api_requests_only(start_service):
    service = start_service(DRILL_FAILURE_RATE="0.75")
    with httpx.Client(base_url=service.url) as client:
        statuses = [client.post("/api/v1/quotes", json=QUOTE).status_code for _ in range(40)]
        failed = client.get("/api/v1/currencies")
        assert client.get("/healthz").status_code == 200
        assert client.get("/version").status_code == 200
    assert statuses.count(500) == 30 and statuses.count(200) == 10
    # the 41st API request: floor(0.75 * 41) = 30 failures so far, so it succeeds
    assert failed.status_code == 200
    with httpx.Client(base_url=service.url) as client:
        response = next(r for r in (client.get("/api/v1/currencies") for _ in range(4)) if r.status_code == 500)
    assert response.json() == {"detail": "injected failure: the drill switch DRILL_FAILURE_RATE=0.75 is on"}


def test_drill_switch_at_one_fails_every_api_request(start_service):
    service = start_service(DRILL_FAILURE_RATE="1")
    statuses = [httpx.get(f"{service.url}/api/v1/currencies").status_code for _ in range(10)]
    assert statuses == [500] * 10


@pytest.mark.parametrize(("env", "message"), [
    ({"DRILL_FAILURE_RATE": "1.5"}, "DRILL_FAILURE_RATE must be a fraction from 0 to 1"),
    ({"DRILL_FAILURE_RATE": "lots"}, "DRILL_FAILURE_RATE must be a fraction from 0 to 1"),
    ({"APP_PORT": "80808"}, "APP_PORT must be a TCP port number"),
    ({"APP_DRAIN_SECONDS": "-1"}, "APP_DRAIN_SECONDS must be a number of seconds"),
])
def test_a_bad_setting_stops_the_service_with_one_clear_line(env, message):
    result = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("rate", "requests", "failures"), [(0.0, 50, 0), (0.1, 50, 5), (0.5, 7, 3), (1.0, 9, 9),
                                                            (0.3, 10, 3)])
def test_the_drill_fails_exactly_the_floor_of_rate_times_requests(rate, requests, failures):
    drill = FailureDrill(rate)
    assert sum(drill.should_fail() for _ in range(requests)) == failures
