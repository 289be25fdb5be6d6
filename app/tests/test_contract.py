"""The API contract gate: which changes break clients, what the messages say, and the check/accept commands."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.contract import compat
from app.contract.compat import compare
from app.contract.gate import CONTRACT, service_document
from app.tests.conftest import ROOT


def base_document() -> dict:
    """A small OpenAPI 3.1 document shaped like FastAPI's: $refs, an enum, an Optional field, an array."""
    ref = {"$ref": "#/components/schemas/Order"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/orders": {
                "get": {
                    "parameters": [{"in": "query", "name": "limit", "required": False,
                                    "schema": {"type": "integer", "maximum": 100}}],
                    "responses": {"200": {"content": {"application/json": {
                        "schema": {"type": "array", "items": ref}}}}},
                },
                "post": {
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewOrder"}}}},
                    "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
                },
            },
            "/orders/{order_id}": {
                "get": {
                    "parameters": [{"in": "path", "name": "order_id", "required": True, "schema": {"type": "string"}}],
                    "responses": {"200": {"content": {"application/json": {"schema": ref}}},
                                  "404": {"description": "not found"}},
                },
            },
        },
        "components": {"schemas": {
            "Size": {"type": "string", "enum": ["S", "M", "L"]},
            "NewOrder": {"type": "object", "required": ["sku", "size"], "properties": {
                "sku": {"type": "string", "maxLength": 32},
                "size": {"$ref": "#/components/schemas/Size"},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "lines": {"type": "array", "items": {"type": "object", "required": ["qty"],
                                                     "properties": {"qty": {"type": "integer"}}}},
            }},
            "Order": {"type": "object", "required": ["id", "sku", "total"], "properties": {
                "id": {"type": "string"},
                "sku": {"type": "string"},
                "total": {"type": "integer"},
                "status": {"type": "string", "enum": ["open", "shipped"]},
            }},
        }},
    }


def schemas(doc: dict) -> dict:
    return doc["components"]["schemas"]


def mutate(edit: Callable[[dict], object]) -> Callable[[dict], dict]:
    def apply(doc: dict) -> dict:
        doc = copy.deepcopy(doc)
        edit(doc)
        return doc
    return apply


# Retirement: removing an operation is not breaking only when the old contract marked it deprecated with an x-sunset
# date (RFC 8594's Sunset, as an OpenAPI extension) on or before the day of the comparison.

TODAY = datetime.date(2026, 11, 26)


def retiring(old_sunsets: dict[tuple[str, str], object], deprecated: bool = True) -> dict:
    """base_document with the operations named as (path, method) deprecated, each with its x-sunset (no x-sunset
    when the value is ...)."""
    doc = base_document()
    for (path, method), sunset in old_sunsets.items():
        operation = doc["paths"][path][method]
        if deprecated:
            operation["deprecated"] = True
        if sunset is not ...:
            operation["x-sunset"] = sunset
    return doc


def removing(old: dict, *operations: tuple[str, str | None]) -> dict[str, bool]:
    """The changes (text: breaking) when the operations, or whole paths (method None), are removed on TODAY."""
    new = copy.deepcopy(old)
    for path, method in operations:
        if method is None:
            new["paths"].pop(path)
        else:
            new["paths"][path].pop(method)
    return {str(change): change.breaking for change in compare(old, new, today=TODAY)}


def test_an_operation_deprecated_with_a_sunset_that_has_passed_may_be_removed():
    old = retiring({("/orders", "post"): "2026-06-30", ("/orders/{order_id}", "get"): "2025-01-01"})

    assert removing(old, ("/orders", "post"), ("/orders/{order_id}", None)) == {
        "POST /orders: method removed (deprecated, and its x-sunset 2026-06-30 has passed)": False,
        "/orders/{order_id}: path removed (it had GET), every operation deprecated and past its x-sunset": False}


def test_a_sunset_on_the_day_of_the_comparison_counts_as_passed():
    old = retiring({("/orders", "post"): TODAY.isoformat()})

    assert removing(old, ("/orders", "post")) == {
        "POST /orders: method removed (deprecated, and its x-sunset 2026-11-26 is today)": False}


def test_a_sunset_tomorrow_keeps_the_removal_breaking_and_says_so():
    tomorrow = (TODAY + datetime.timedelta(days=1)).isoformat()
    old = retiring({("/orders", "post"): tomorrow, ("/orders/{order_id}", "get"): "2027-03-01"})

    assert removing(old, ("/orders", "post"), ("/orders/{order_id}", None)) == {
        "POST /orders: method removed (deprecated, but its x-sunset 2026-11-27 has not passed)": True,
        "/orders/{order_id}: path removed (it had GET): GET deprecated, but its x-sunset 2027-03-01 has not passed":
            True}


def test_the_same_removal_passes_once_the_sunset_has_come():
    old = retiring({("/orders", "post"): "2027-03-01"})
    new = mutate(lambda d: d["paths"]["/orders"].pop("post"))(old)

    assert [c.breaking for c in compare(old, new, today=datetime.date(2027, 2, 28))] == [True]
    assert [c.breaking for c in compare(old, new, today=datetime.date(2027, 3, 1))] == [False]


def test_deprecated_without_a_sunset_is_not_enough():
    old = retiring({("/orders", "post"): ..., ("/orders/{order_id}", "get"): ...})

    assert removing(old, ("/orders", "post"), ("/orders/{order_id}", None)) == {
        "POST /orders: method removed (deprecated without an x-sunset date)": True,
        "/orders/{order_id}: path removed (it had GET): GET deprecated without an x-sunset date": True}


@pytest.mark.parametrize(("sunset", "shown"), [
    ("2026/01/01", '"2026/01/01"'),
    ("20260101", '"20260101"'),  # datetime.date.fromisoformat takes it; the contract's format does not
    ("2026-W01-1", '"2026-W01-1"'),
    ("2026-02-30", '"2026-02-30"'),
    ("2026-01-01T00:00:00Z", '"2026-01-01T00:00:00Z"'),
    ("Thu, 01 Jan 2026 00:00:00 GMT", '"Thu, 01 Jan 2026 00:00:00 GMT"'),  # the HTTP header's own form
    (" 2026-01-01", '" 2026-01-01"'),
    ("", '""'),
    (20260101, "20260101"),
    (None, "null"),
    (["2026-01-01"], '["2026-01-01"]'),
])
def test_a_malformed_sunset_is_not_enough(sunset, shown):
    old = retiring({("/orders", "post"): sunset})

    assert removing(old, ("/orders", "post")) == {
        f"POST /orders: method removed (deprecated, but its x-sunset {shown} is not a YYYY-MM-DD date)": True}


def test_a_sunset_without_deprecated_is_not_enough():
    old = retiring({("/orders", "post"): "2025-01-01"}, deprecated=False)

    assert removing(old, ("/orders", "post")) == {
        "POST /orders: method removed (not deprecated, although it has an x-sunset 2025-01-01)": True}


def test_a_path_is_retired_only_when_every_operation_on_it_qualifies():
    old = retiring({("/orders", "post"): "2025-01-01"})  # GET /orders is not deprecated
    assert removing(old, ("/orders", None)) == {
        "/orders: path removed (it had GET, POST): GET not deprecated": True}

    old = retiring({("/orders", "post"): "2025-01-01", ("/orders", "get"): "2027-03-01"})
    assert removing(old, ("/orders", None)) == {
        "/orders: path removed (it had GET, POST): GET deprecated, but its x-sunset 2027-03-01 has not passed": True}

    old = retiring({("/orders", "post"): "2025-01-01", ("/orders", "get"): "2025-06-01"})
    assert removing(old, ("/orders", None)) == {
        "/orders: path removed (it had GET, POST), every operation deprecated and past its x-sunset": False}


def test_an_undeprecated_removal_reads_as_before():
    assert removing(base_document(), ("/orders", "post"), ("/orders/{order_id}", None)) == {
        "POST /orders: method removed": True, "/orders/{order_id}: path removed (it had GET)": True}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda op: op.update({"deprecated": True, "x-sunset": "2027-03-01"}),
     "POST /orders: operation deprecated (it may be removed from 2027-03-01 on)"),
    (lambda op: op.update({"deprecated": True}),
     "POST /orders: operation deprecated (without an x-sunset date, removing it stays breaking)"),
    (lambda op: op.update({"deprecated": True, "x-sunset": "2026-01-01"}),
     "POST /orders: operation deprecated (its x-sunset 2026-01-01 is not in the future: clients get no notice "
     "before it may be removed)"),
    (lambda op: op.update({"deprecated": True, "x-sunset": "March 2027"}),
     'POST /orders: operation deprecated (its x-sunset "March 2027" is not a YYYY-MM-DD date: removing it stays '
     "breaking)"),
    (lambda op: op.update({"deprecated": True, "x-sunset": {"date": "2027-03-01"}}),
     'POST /orders: operation deprecated (its x-sunset {"date": "2027-03-01"} is not a YYYY-MM-DD date: removing '
     "it stays breaking)"),
    (lambda op: op.update({"x-sunset": "2027-03-01"}),
     "POST /orders: x-sunset changed from none to 2027-03-01 (it has an x-sunset 2027-03-01 but is not deprecated: "
     "removing it stays breaking)"),
])
def test_deprecating_is_noted_never_breaking_and_a_malformed_sunset_is_just_data(edit, message):
    old = base_document()
    new = mutate(lambda d: edit(d["paths"]["/orders"]["post"]))(old)

    assert [(str(c), c.breaking) for c in compare(old, new, today=TODAY)] == [(message, False)]


def test_moving_a_sunset_or_undeprecating_is_noted():
    old = retiring({("/orders", "post"): "2027-03-01"})
    later = mutate(lambda d: d["paths"]["/orders"]["post"].update({"x-sunset": "2027-06-01"}))(old)
    kept = mutate(lambda d: [d["paths"]["/orders"]["post"].pop(k) for k in ("deprecated", "x-sunset")])(old)

    assert [(str(c), c.breaking) for c in compare(old, later, today=TODAY)] == [
        ("POST /orders: x-sunset changed from 2027-03-01 to 2027-06-01 (it may be removed from 2027-06-01 on)",
         False)]
    assert [(str(c), c.breaking) for c in compare(old, kept, today=TODAY)] == [
        ("POST /orders: operation no longer deprecated", False)]


def test_compare_judges_by_todays_utc_date_by_default(monkeypatch):
    old = retiring({("/orders", "post"): "2027-03-01"})
    new = mutate(lambda d: d["paths"]["/orders"].pop("post"))(old)

    class Clock(datetime.datetime):
        now_utc = datetime.datetime(2027, 2, 28, 23, 30, tzinfo=datetime.UTC)  # 1 March already east of UTC

        @classmethod
        def now(cls, tz=None):  # only compare's own call, in UTC, sees the fixed time
            return cls.now_utc if tz is datetime.UTC else super().now(tz)

    monkeypatch.setattr(compat.datetime, "datetime", Clock)
    assert [c.breaking for c in compare(old, new)] == [True]
    Clock.now_utc = datetime.datetime(2027, 3, 1, 0, 5, tzinfo=datetime.UTC)
    assert [c.breaking for c in compare(old, new)] == [False]


def test_fastapi_emits_deprecated_and_x_sunset_and_the_gate_reads_them():
    """`deprecated=True, openapi_extra={"x-sunset": ...}` on a route (openapi_extra: FastAPI 0.68 and later) puts
    both on the operation of the generated document."""
    from fastapi import FastAPI

    def service(with_v1: bool) -> dict:
        api = FastAPI()
        if with_v1:
            @api.get("/api/v1/quotes", deprecated=True, openapi_extra={"x-sunset": "2027-03-01"})
            def quotes_v1() -> dict[str, int]:
                return {}

        @api.get("/api/v2/quotes")
        def quotes_v2() -> dict[str, int]:
            return {}

        return json.loads(json.dumps(api.openapi()))

    release_n, release_n1 = service(with_v1=True), service(with_v1=False)
    operation = release_n["paths"]["/api/v1/quotes"]["get"]
    assert operation["deprecated"] is True and operation["x-sunset"] == "2027-03-01"

    assert [(str(c), c.breaking) for c in compare(release_n, release_n1, today=datetime.date(2027, 2, 28))] == [
        ("/api/v1/quotes: path removed (it had GET): GET deprecated, but its x-sunset 2027-03-01 has not passed",
         True)]
    assert [(str(c), c.breaking) for c in compare(release_n, release_n1, today=datetime.date(2027, 3, 1))] == [
        ("/api/v1/quotes: path removed (it had GET), every operation deprecated and past its x-sunset", False)]


BREAKING = [
    ("removed path", mutate(lambda d: d["paths"].pop("/orders/{order_id}")),
     "/orders/{order_id}: path removed (it had GET)"),
    ("removed method", mutate(lambda d: d["paths"]["/orders"].pop("post")),
     "POST /orders: method removed"),
    ("removed response field", mutate(lambda d: schemas(d)["Order"]["properties"].pop("total")),
     "GET /orders/{order_id} response 200 field 'total': field removed"),
    ("removed field in a response array", mutate(lambda d: schemas(d)["Order"]["properties"].pop("sku")),
     "GET /orders response 200 field '[].sku': field removed"),
    ("response field no longer always present", mutate(lambda d: schemas(d)["Order"]["required"].remove("id")),
     "GET /orders/{order_id} response 200 field 'id': field is no longer always present"),
    ("response field type changed", mutate(lambda d: schemas(d)["Order"]["properties"]["total"].update(type="string")),
     "GET /orders/{order_id} response 200 field 'total': type changed from integer to string"),
    ("response field now nullable", mutate(lambda d: schemas(d)["Order"]["properties"].update(
        id={"anyOf": [{"type": "string"}, {"type": "null"}]})),
     "GET /orders/{order_id} response 200 field 'id': type changed from string to null | string"),
    ("request field type changed", mutate(lambda d: schemas(d)["NewOrder"]["properties"]["sku"].update(
        type="integer")),
     "POST /orders request body field 'sku': type changed from string to integer"),
    ("nested request field type changed", mutate(
        lambda d: schemas(d)["NewOrder"]["properties"]["lines"]["items"]["properties"]["qty"].update(type="string")),
     "POST /orders request body field 'lines[].qty': type changed from integer to string"),
    ("new required request field", mutate(lambda d: (
        schemas(d)["NewOrder"]["properties"].update(coupon={"type": "string"}),
        schemas(d)["NewOrder"]["required"].append("coupon"))),
     "POST /orders request body field 'coupon': new required field"),
    ("optional request field made required", mutate(lambda d: schemas(d)["NewOrder"]["required"].append("note")),
     "POST /orders request body field 'note': field is now required"),
    ("new required query parameter", mutate(lambda d: d["paths"]["/orders"]["get"]["parameters"].append(
        {"in": "query", "name": "region", "required": True, "schema": {"type": "string"}})),
     "GET /orders query parameter 'region': new required parameter"),
    ("optional parameter made required", mutate(
        lambda d: d["paths"]["/orders"]["get"]["parameters"][0].update(required=True)),
     "GET /orders query parameter 'limit': parameter is now required"),
    ("parameter type changed", mutate(
        lambda d: d["paths"]["/orders/{order_id}"]["get"]["parameters"][0]["schema"].update(type="integer")),
     "GET /orders/{order_id} path parameter 'order_id': type changed from string to integer"),
    ("narrowed request enum", mutate(lambda d: schemas(d)["Size"]["enum"].remove("L")),
     "POST /orders request body field 'size': enum narrowed: values \"L\" removed"),
    ("request field restricted to an enum", mutate(
        lambda d: schemas(d)["NewOrder"]["properties"]["sku"].update(enum=["A-1"])),
     "POST /orders request body field 'sku': now restricted to the values \"A-1\""),
    ("tighter request bound", mutate(lambda d: schemas(d)["NewOrder"]["properties"]["sku"].update(maxLength=8)),
     "POST /orders request body field 'sku': maxLength changed from 32 to 8"),
    ("tighter parameter bound", mutate(
        lambda d: d["paths"]["/orders"]["get"]["parameters"][0]["schema"].update(maximum=10)),
     "GET /orders query parameter 'limit': maximum changed from 100 to 10"),
    ("removed success status", mutate(lambda d: d["paths"]["/orders"]["post"]["responses"].update(
        {"201": d["paths"]["/orders"]["post"]["responses"].pop("200")})),
     "POST /orders response 200: response status removed"),
    ("request media type removed", mutate(lambda d: d["paths"]["/orders"]["post"]["requestBody"].update(
        content={"application/xml": {"schema": {"type": "string"}}})),
     "POST /orders request body: media type application/json no longer accepted"),
    ("removed request field where unknown fields are rejected", mutate(lambda d: (
        schemas(d)["NewOrder"]["properties"].pop("note"), schemas(d)["NewOrder"].update(additionalProperties=False))),
     "POST /orders request body field 'note': field removed and unknown fields are rejected"),
]

NON_BREAKING = [
    ("new path", mutate(lambda d: d["paths"].update({"/health": {"get": {"responses": {"200": {}}}}})),
     "/health: path added (GET)"),
    ("new method", mutate(lambda d: d["paths"]["/orders/{order_id}"].update(delete={"responses": {"204": {}}})),
     "DELETE /orders/{order_id}: method added"),
    ("new response field", mutate(lambda d: schemas(d)["Order"]["properties"].update(eta={"type": "string"})),
     "GET /orders/{order_id} response 200 field 'eta': field added"),
    ("new optional request field", mutate(
        lambda d: schemas(d)["NewOrder"]["properties"].update(gift={"type": "boolean"})),
     "POST /orders request body field 'gift': field added"),
    ("new optional parameter", mutate(lambda d: d["paths"]["/orders"]["get"]["parameters"].append(
        {"in": "query", "name": "cursor", "schema": {"type": "string"}})),
     "GET /orders query parameter 'cursor': optional parameter added"),
    ("widened request enum", mutate(lambda d: schemas(d)["Size"]["enum"].append("XL")),
     "POST /orders request body field 'size': enum values \"XL\" added"),
    ("request field made optional", mutate(lambda d: schemas(d)["NewOrder"]["required"].remove("size")),
     None),
    ("request field now nullable", mutate(lambda d: schemas(d)["NewOrder"]["properties"].update(
        sku={"anyOf": [{"type": "string", "maxLength": 32}, {"type": "null"}]})),
     "POST /orders request body field 'sku': type changed from string to null | string (compatible)"),
    ("request integer widened to number", mutate(
        lambda d: schemas(d)["NewOrder"]["properties"]["lines"]["items"]["properties"]["qty"].update(type="number")),
     "POST /orders request body field 'lines[].qty': type changed from integer to number (compatible)"),
    ("looser request bound", mutate(lambda d: schemas(d)["NewOrder"]["properties"]["sku"].update(maxLength=64)),
     "POST /orders request body field 'sku': maxLength changed from 32 to 64"),
    ("removed request field, unknown fields allowed", mutate(
        lambda d: schemas(d)["NewOrder"]["properties"].pop("note")),
     "POST /orders request body field 'note': field removed (now ignored)"),
    ("removed error status", mutate(lambda d: d["paths"]["/orders/{order_id}"]["get"]["responses"].pop("404")),
     "GET /orders/{order_id} response 404: response status removed"),
    ("narrowed response-only enum", mutate(lambda d: schemas(d)["Order"]["properties"]["status"]["enum"].pop()),
     "GET /orders/{order_id} response 200 field 'status': enum narrowed: values \"shipped\" removed"),
    ("descriptions and titles only", mutate(lambda d: schemas(d)["Order"].update(description="An order.")), None),
]


@pytest.mark.parametrize(("change", "edit", "message"), BREAKING, ids=[case[0] for case in BREAKING])
def test_breaking_change_is_reported_as_breaking(change, edit, message):
    old = base_document()
    breaking = [str(c) for c in compare(old, edit(old)) if c.breaking]
    assert message in breaking, breaking


@pytest.mark.parametrize(("change", "edit", "message"), NON_BREAKING, ids=[case[0] for case in NON_BREAKING])
def test_compatible_change_passes(change, edit, message):
    old = base_document()
    changes = compare(old, edit(old))
    assert [str(c) for c in changes if c.breaking] == []
    if message is not None:
        assert message in [str(c) for c in changes]


def test_identical_documents_have_no_changes():
    assert compare(base_document(), base_document()) == []


def test_breaking_changes_are_listed_first():
    old = base_document()
    new = mutate(lambda d: (d["paths"].update({"/health": {"get": {"responses": {}}}}),
                            d["paths"]["/orders"].pop("post")))(old)
    assert [c.breaking for c in compare(old, new)] == [True, False]


def test_recursive_schemas_terminate():
    old = base_document()
    schemas(old)["Order"]["properties"]["parent"] = {"$ref": "#/components/schemas/Order"}
    new = mutate(lambda d: schemas(d)["Order"]["properties"].pop("total"))(old)
    assert "GET /orders/{order_id} response 200 field 'total': field removed" in [str(c) for c in compare(old, new)]


def test_committed_contract_matches_the_service_today():
    committed = json.loads(CONTRACT.read_text())
    assert committed == json.loads(json.dumps(service_document())), (
        "app/contract/openapi.json is out of date: run `python -m app.contract accept`")


# the commands


def run_contract(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.contract", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_check_passes_against_the_committed_contract():
    result = run_contract("check")
    assert result.returncode == 0, result.stderr
    assert "contract check passed: the service matches app/contract/openapi.json." in result.stdout


def test_check_fails_and_lists_what_broke(tmp_path):
    promised = service_document()
    promised["paths"]["/api/v1/orders"] = {"get": {"responses": {"200": {}}}}
    promised["components"]["schemas"]["Quote"]["properties"]["tax_cents"] = {"type": "integer"}
    result = run_contract("--contract", str(write(tmp_path / "c.json", promised)), "check")
    assert result.returncode == 1
    assert "breaking changes (2):" in result.stdout
    assert "  - /api/v1/orders: path removed (it had GET)" in result.stdout
    assert "  - POST /api/v1/quotes response 200 field 'tax_cents': field removed" in result.stdout
    assert "contract check FAILED: 2 breaking change(s)" in result.stderr
    assert "records it in the committed file only: the live gate still fails the build" in result.stderr


def test_check_passes_additions_and_says_how_to_record_them(tmp_path):
    older = service_document()
    del older["paths"]["/api/v1/currencies"]
    result = run_contract("--contract", str(write(tmp_path / "c.json", older)), "check")
    assert result.returncode == 0
    assert "  - /api/v1/currencies: path added (GET)" in result.stdout
    assert "record the additions with `python -m app.contract accept`" in result.stdout


def test_accept_records_additions(tmp_path):
    older = service_document()
    del older["paths"]["/api/v1/currencies"]
    contract = write(tmp_path / "c.json", older)
    assert run_contract("--contract", str(contract), "accept").returncode == 0
    assert json.loads(contract.read_text()) == json.loads(json.dumps(service_document()))
    assert run_contract("--contract", str(contract), "check").stdout.startswith("contract check passed")


def test_accept_refuses_breaking_changes_unless_allowed(tmp_path):
    promised = service_document()
    promised["paths"]["/api/v1/orders"] = {"get": {"responses": {"200": {}}}}
    contract = write(tmp_path / "c.json", promised)
    refused = run_contract("--contract", str(contract), "accept")
    assert refused.returncode == 1
    assert "not accepted: 1 breaking change(s); pass --allow-breaking" in refused.stderr
    assert json.loads(contract.read_text()) == promised  # untouched
    accepted = run_contract("--contract", str(contract), "accept", "--allow-breaking")
    assert accepted.returncode == 0
    assert "accepted breaking changes (1):" in accepted.stdout
    assert "recorded in the committed file only: the live gate (python -m app.contract live)" in accepted.stdout
    assert "/api/v1/orders" not in json.loads(contract.read_text())["paths"]


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist; create it with `python -m app.contract accept`"),
    ("{not json", "is not readable JSON"),
    ('{"swagger": "2.0"}', "is not an OpenAPI document (it needs 'openapi' and 'paths')"),
])
def test_check_rejects_a_missing_or_malformed_contract_clearly(tmp_path, content, message):
    contract = tmp_path / "c.json"
    if content is not None:
        contract.write_text(content)
    result = run_contract("--contract", str(contract), "check")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def composed(doc: dict) -> dict:
    """The same contract written with allOf (a shared base schema plus extra fields) and an OpenAPI 3.0 style
    nullable field and a map, as hand-written or generated-by-other-tools documents are."""
    doc = copy.deepcopy(doc)
    order, new_order = schemas(doc)["Order"], schemas(doc)["NewOrder"]
    schemas(doc)["OrderBase"] = {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}
    schemas(doc)["Order"] = {"allOf": [{"$ref": "#/components/schemas/OrderBase"}, {
        "type": "object", "required": ["id", "total"],
        "properties": {**{k: v for k, v in order["properties"].items() if k != "sku"},
                       "discount": {"type": "integer", "nullable": True},
                       "totals": {"type": "object", "additionalProperties": {"type": "integer"}}}}]}
    schemas(doc)["NewOrder"] = {"allOf": [{"$ref": "#/components/schemas/OrderBase"}, {
        "type": "object", "required": ["size"],
        "properties": {k: v for k, v in new_order["properties"].items() if k != "sku"}}]}
    return doc


def extra_part(doc: dict, name: str) -> dict:
    return schemas(doc)[name]["allOf"][1]


@pytest.mark.parametrize(("change", "edit", "message"), [
    ("base field of an allOf response no longer always present",
     mutate(lambda d: schemas(d)["OrderBase"]["required"].remove("sku")),
     "GET /orders/{order_id} response 200 field 'sku': field is no longer always present"),
    ("new required field in the base of an allOf request",
     mutate(lambda d: (schemas(d)["OrderBase"]["properties"].update(region={"type": "string"}),
                       schemas(d)["OrderBase"]["required"].append("region"))),
     "POST /orders request body field 'region': new required field"),
    ("extra field of an allOf request made required",
     mutate(lambda d: extra_part(d, "NewOrder")["required"].append("note")),
     "POST /orders request body field 'note': field is now required"),
    ("OpenAPI 3.0 nullable added to a response field",
     mutate(lambda d: extra_part(d, "Order")["properties"]["total"].update(nullable=True)),
     "GET /orders/{order_id} response 200 field 'total': type changed from integer to integer | null"),
    ("map value type changed in a response",
     mutate(lambda d: extra_part(d, "Order")["properties"]["totals"]["additionalProperties"].update(type="string")),
     "GET /orders/{order_id} response 200 field 'totals.*': type changed from integer to string"),
])
def test_allof_nullable_and_maps_are_judged_like_plain_schemas(change, edit, message):
    old = composed(base_document())
    assert compare(old, old) == []
    breaking = [str(c) for c in compare(old, edit(old)) if c.breaking]
    assert message in breaking, breaking


def test_a_widened_response_enum_passes_but_warns_strict_clients():
    old = base_document()
    new = mutate(lambda d: schemas(d)["Order"]["properties"]["status"]["enum"].append("lost"))(old)

    assert sorted(str(c) for c in compare(old, new)) == [
        "GET /orders response 200 field '[].status': enum values \"lost\" added (clients that handle every value "
        "must learn them)",
        "GET /orders/{order_id} response 200 field 'status': enum values \"lost\" added (clients that handle every "
        "value must learn them)",
        "POST /orders response 200 field 'status': enum values \"lost\" added (clients that handle every value must "
        "learn them)",
    ]


def test_a_chain_of_refs_is_followed_to_the_schema_that_changed():
    old = base_document()
    schemas(old)["SizeAlias"] = {"$ref": "#/components/schemas/Size"}
    schemas(old)["NewOrder"]["properties"]["size"] = {"$ref": "#/components/schemas/SizeAlias"}
    new = mutate(lambda d: schemas(d)["Size"]["enum"].remove("L"))(old)

    assert [str(c) for c in compare(old, new) if c.breaking] == [
        "POST /orders request body field 'size': enum narrowed: values \"L\" removed"]


def test_a_dangling_ref_in_the_contract_is_bad_input_not_a_traceback(tmp_path):
    document = json.loads(CONTRACT.read_text())
    operation = next(iter(document["paths"]["/api/v1/quotes"].values()))
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Gone"}
    contract = tmp_path / "c.json"
    contract.write_text(json.dumps(document))

    result = run_contract("--contract", str(contract), "check")

    assert result.returncode == 2
    assert result.stderr == "error: $ref '#/components/schemas/Gone' points at nothing in the document\n"


# The blind spots: client-visible changes outside schemas' types and fields.

def _with(edit: Callable[[dict], object]) -> list[str]:
    old = base_with_blind_spot_fixtures()
    return [str(c) for c in compare(old, mutate(edit)(old)) if c.breaking]


SECURED = {"bearer": {"type": "http", "scheme": "bearer"}}


@pytest.mark.parametrize(("change", "edit", "message"), [
    ("a security requirement where there was none",
     lambda d: (d["components"].update(securitySchemes=SECURED), d.update(security=[{"bearer": []}])),
     "GET /orders: security requirement added or changed: a client with no authentication is refused"),
    ("an operation that now needs a second scheme",
     lambda d: d["paths"]["/orders"]["get"].update(security=[{"bearer": [], "apiKey": []}]),
     "GET /orders: security requirement added or changed: a client with no authentication is refused"),
    ("servers added to a document that had none (every URL moves off /)",
     lambda d: d.update(servers=[{"url": "https://api.example.com/v2"}]),
     "servers: server URL(s) / no longer listed: every call there moves"),
    ("multipleOf on a request field", lambda d: schemas(d)["NewOrder"]["properties"]["lines"]["items"]
     ["properties"]["qty"].update(multipleOf=5),
     "POST /orders request body field 'lines[].qty': multipleOf changed from none to 5"),
    ("uniqueItems on a request array", lambda d: schemas(d)["NewOrder"]["properties"]["lines"].update(
        uniqueItems=True), "POST /orders request body field 'lines': uniqueItems is now required"),
    ("format on a request field", lambda d: schemas(d)["NewOrder"]["properties"]["sku"].update(format="uuid"),
     "POST /orders request body field 'sku': format changed from none to uuid (servers may validate it)"),
    ("a response header removed", lambda d: d["paths"]["/orders"]["get"]["responses"]["200"].pop("headers"),
     "GET /orders response 200 header 'X-Total-Count': response header removed"),
    ("response array items no longer described", lambda d: d["paths"]["/orders"]["get"]["responses"]["200"]
     ["content"]["application/json"]["schema"].pop("items"),
     "GET /orders response 200 field '[]': items are no longer described: anything may come back"),
    ("response map values no longer described", lambda d: schemas(d)["Order"]["properties"].update(
        tags={"type": "object"}),
     "GET /orders/{order_id} response 200 field 'tags.*': map values are no longer described: anything may come "
     "back"),
    ("request array items that become constrained", lambda d: schemas(d)["NewOrder"]["properties"].update(
        extras={"type": "array", "items": {"type": "integer"}}),
     "POST /orders request body field 'extras[]': items are now constrained: values accepted before may be refused"),
])
def test_client_visible_changes_outside_fields_break(change, edit, message):
    assert message in _with(edit), change


def base_with_blind_spot_fixtures() -> dict:
    """base_document plus what the blind-spot cases change: a response header, a free-form response map, a
    free-form request array."""
    doc = base_document()
    doc["paths"]["/orders"]["get"]["responses"]["200"]["headers"] = {"X-Total-Count": {"schema": {"type": "integer"}}}
    schemas(doc)["Order"]["properties"]["tags"] = {"type": "object", "additionalProperties": {"type": "string"}}
    schemas(doc)["NewOrder"]["properties"]["extras"] = {"type": "array"}
    return doc


@pytest.mark.parametrize(("change", "edit"), [
    ("a security requirement relaxed to optional",
     lambda d: d.update(security=[{}, {"bearer": []}])),
    ("the same servers listed again, plus another", lambda d: d.update(servers=[{"url": "/"}, {"url": "/v1"}])),
])
def test_relaxations_outside_fields_pass(change, edit):
    assert _with(edit) == [], change


def _diff(tmp_path, old: dict, new: dict, *flags: str) -> subprocess.CompletedProcess:
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    return subprocess.run([sys.executable, "-m", "app.contract", "diff", str(tmp_path / "old.json"),
                           str(tmp_path / "new.json"), *flags], cwd=ROOT, capture_output=True, text=True)


def test_diff_of_two_files_exits_0_when_compatible(tmp_path):
    result = _diff(tmp_path, base_document(), base_document())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": compatible")


def test_diff_lists_each_breaking_difference_and_exits_1(tmp_path):
    old = base_document()
    new = mutate(lambda d: d["paths"]["/orders"].pop("post"))(old)
    result = _diff(tmp_path, old, new, "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["compatible"] is False
    assert {"where": "POST /orders", "what": "method removed"} in document["breaking"]


@pytest.mark.parametrize("content", ["not json", json.dumps({"openapi": "3.1.0"})])
def test_diff_of_a_bad_file_is_exit_2_with_one_line(tmp_path, content):
    (tmp_path / "old.json").write_text(content)
    (tmp_path / "new.json").write_text(json.dumps(base_document()))
    result = subprocess.run([sys.executable, "-m", "app.contract", "diff", str(tmp_path / "old.json"),
                             str(tmp_path / "new.json")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_a_multiple_of_relaxed_to_a_divisor_passes_and_any_other_change_breaks():
    old = base_document()
    qty = lambda d: schemas(d)["NewOrder"]["properties"]["lines"]["items"]["properties"]["qty"]  # noqa: E731
    qty(old)["multipleOf"] = 10
    relaxed, other = copy.deepcopy(old), copy.deepcopy(old)
    qty(relaxed)["multipleOf"] = 5
    qty(other)["multipleOf"] = 4
    assert [c for c in compare(old, relaxed) if c.breaking] == []
    assert [str(c) for c in compare(old, other) if c.breaking] == [
        "POST /orders request body field 'lines[].qty': multipleOf changed from 10 to 4"]


@pytest.mark.parametrize(("sunset", "returncode"), [("2000-01-01", 0), ("9999-12-31", 1)])
def test_diff_judges_sunsets_by_todays_date(tmp_path, sunset, returncode):
    old = retiring({("/orders", "post"): sunset})
    result = _diff(tmp_path, old, mutate(lambda d: d["paths"]["/orders"].pop("post"))(old))
    assert result.returncode == returncode, result.stdout
    passed = "and its x-sunset 2000-01-01 has passed" if returncode == 0 else \
        "but its x-sunset 9999-12-31 has not passed"
    assert f"  - POST /orders: method removed (deprecated, {passed})" in result.stdout
