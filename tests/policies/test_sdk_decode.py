"""guardrails.sdk.properties() makes, in one walk over the protobuf Struct, what pulumi-policy's servicer makes of a
resource's properties in three steps (json_format.MessageToDict, deserialize_properties, unknown_checking_proxy):
the same proxies with the same paths over the same values in the same order, and, for what it leaves to those
steps (secrets, assets, archives, numbers JSON cannot hold), the same result or the same error. Each case compares
the two on one Struct, the whole structure: the type of every value, every proxy's path, the order of keys."""

from __future__ import annotations

import math

import pulumi
import pytest
from google.protobuf import struct_pb2
from guardrails import sdk  # the pack's own import path, as the engine runs it
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy import deserialize as sdk_deserialize
from pulumi_policy import proxy as sdk_proxy

SIG = sdk_deserialize.SPECIAL_SIG_KEY
SECRET, ASSET, ARCHIVE = (sdk_deserialize.SPECIAL_SECRET_SIG, sdk_deserialize.SPECIAL_ASSET_SIG,
                          sdk_deserialize.SPECIAL_ARCHIVE_SIG)
UNKNOWNS = [sdk_proxy.UNKNOWN_STRING_VALUE, sdk_proxy.UNKNOWN_NUMBER_VALUE, sdk_proxy.UNKNOWN_BOOLEAN_VALUE,
            sdk_proxy.UNKNOWN_ARRAY_VALUE, sdk_proxy.UNKNOWN_OBJECT_VALUE, sdk_proxy.UNKNOWN_ASSET_VALUE,
            sdk_proxy.UNKNOWN_ARCHIVE_VALUE]


def struct(values: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def secret(value) -> dict:
    return {SIG: SECRET, "value": value}


def shape(value):
    """Everything observable about a deserialized value: types, proxy paths, keys in order, asset contents."""
    if isinstance(value, sdk_proxy._DictProxy):
        return ("dict-proxy", list(value._DictProxy__props_acc),
                [(key, shape(item)) for key, item in value["__target"].items()])
    if isinstance(value, sdk_proxy._ListProxy):
        return ("list-proxy", list(value._ListProxy__props_acc), [shape(item) for item in value["__target"]])
    if isinstance(value, dict):
        return ("dict", [(key, shape(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [shape(item) for item in value])
    if isinstance(value, pulumi.AssetArchive):
        return (type(value).__name__, [(key, shape(item)) for key, item in value.assets.items()])
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return (type(value).__name__, {key: getattr(value, key, None) for key in ("path", "text", "uri")})
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def outcome(make, message):
    """The shape of what `make` returns for the Struct, or the type and text of what it raises."""
    try:
        return "value", shape(make(message))
    except Exception as error:  # the error is what is compared
        return "error", type(error).__name__, str(error)


def assert_same(message: struct_pb2.Struct, *, fast: bool) -> None:
    ours, theirs = outcome(sdk.properties, message), outcome(sdk.sdk_properties, message)
    assert ours == theirs
    if fast:  # made by the one walk, not handed to the SDK's steps
        assert sdk._struct(message, []) is not None


CORPUS = {
    "empty": ({}, True),
    "scalars": ({"s": "text", "e": "", "u": "ünï\u2028código 🚀", "n": 3, "neg": -2.5, "zero": 0, "negzero": -0.0,
                 "big": 1e300, "tiny": 5e-324, "t": True, "f": False, "null": None}, True),
    "nested": ({"a": {"b": {"c": [1, "x", None, {"d": [[], {}, [[True]]]}]}}, "l": [{"k": "v"}, [1, [2, [3]]]]},
               True),
    "unknowns everywhere": ({"top": UNKNOWNS[0], "list": list(UNKNOWNS), "deep": {"x": [{"y": u} for u in UNKNOWNS]}},
                            True),
    "the signature as a value, not a key": ({"k": SIG, "l": [SIG, SECRET], "d": {"value": SECRET}}, True),
    "many keys (map order)": ({f"key{i:03d}": i for i in range(200)}, True),
    "a secret string": ({"password": secret("hunter2")}, False),
    "nested secrets": ({"a": {"b": [secret({"c": secret([1, secret("x")])})]}, "s": secret(UNKNOWNS[0])}, False),
    "a secret holding an object with unknowns": ({"s": secret({"k": UNKNOWNS[0], "l": [UNKNOWNS[3]]})}, False),
    "a secret without its value": ({"s": {SIG: SECRET}}, False),
    "assets": ({"f": {SIG: ASSET, "path": "./a.txt"}, "t": {SIG: ASSET, "text": "hi"},
                "u": {SIG: ASSET, "uri": "https://x/y"}}, False),
    "archives": ({"a": {SIG: ARCHIVE, "assets": {"x": {SIG: ASSET, "text": "1"},
                                                  "y": {SIG: ARCHIVE, "path": "./dir"}}},
                  "p": {SIG: ARCHIVE, "path": "./z.zip"}, "u": {SIG: ARCHIVE, "uri": "https://x/z.zip"}}, False),
    "an asset in a list in a dict": ({"code": [{"k": {SIG: ASSET, "text": "print(1)"}}]}, False),
    "an invalid asset": ({"f": {SIG: ASSET}}, False),
    "an archive holding a string": ({"a": {SIG: ARCHIVE, "assets": {"x": "not an asset"}}}, False),
    "an unknown signature": ({"x": {SIG: "0" * 32, "value": 1}}, False),
    "infinity": ({"ok": 1, "n": [float("inf")]}, False),
    "minus infinity": ({"n": {"deep": float("-inf")}}, False),
    "not a number": ({"n": float("nan")}, False),
}


@pytest.mark.parametrize("case", CORPUS)
def test_properties_are_exactly_the_sdks(case):
    values, fast = CORPUS[case]
    message = struct(values)

    assert_same(message, fast=fast)
    if not fast:
        with pytest.raises(sdk._NotPlain):
            sdk._struct(message, [])


def test_a_value_without_a_kind_is_none_as_for_the_sdk():
    message = struct({"a": [1]})
    message.fields.get_or_create("unset")
    message.fields["a"].list_value.values.add()

    assert_same(message, fast=True)
    assert dict(shape(sdk.properties(message))[2]) == {
        "a": ("list-proxy", ["a"], [("float", 1.0), ("NoneType", None)]), "unset": ("NoneType", None)}


def test_unknowns_raise_the_sdks_error_with_the_same_path():
    values = {"a": {"b": [{"c": UNKNOWNS[1]}]}, "s": secret({"d": UNKNOWNS[0]})}
    messages = []
    for make in (sdk.properties, sdk.sdk_properties):
        props = make(struct(values))
        for read in (lambda p: p["a"]["b"][0]["c"], lambda p: p["s"]["d"]):
            with pytest.raises(sdk.UnknownValueError) as raised:
                read(props)
            messages.append(raised.value.message)

    assert messages[:2] == messages[2:] == ["number value at .a.b.0.c can't be known during preview",
                                            "string value at .s.d can't be known during preview"]


def test_nesting_deeper_than_the_stack_allows_is_left_to_the_sdk(monkeypatch):
    calls = []
    real = sdk.sdk_properties
    monkeypatch.setattr(sdk, "sdk_properties", lambda message: calls.append(1) or real(message))
    message = struct({"k": "v"})
    monkeypatch.setattr(sdk, "_struct", lambda *a: (_ for _ in ()).throw(RecursionError()))

    assert shape(sdk.properties(message)) == shape(real(message)) and calls == [1]


# Any JSON value, with the engine's unknown sentinels among the strings and secrets among the objects.
_scalars = (st.text(max_size=8) | st.sampled_from(UNKNOWNS) | st.booleans() | st.none()
            | st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**53), 2**53))
_values = st.recursive(
    _scalars,
    lambda inner: (st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
                   | inner.map(secret)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _values, max_size=6))
def test_any_properties_are_exactly_the_sdks(values):
    assert outcome(sdk.properties, struct(values)) == outcome(sdk.sdk_properties, struct(values))
