"""Shared argument types: bad numbers are usage errors that say what is allowed."""

import argparse

import pytest

from ops.argtypes import positive_seconds, whole_number


def test_whole_number_accepts_its_range_only():
    parse = whole_number(1, 10)
    assert parse("1") == 1 and parse("10") == 10
    for text in ("0", "11", "2.5", "ten"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"expected a whole number from 1 to 10, got '{text}'"):
            parse(text)


def test_whole_number_without_a_ceiling():
    assert whole_number(1)("100000") == 100000
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        whole_number(1)("0")


@pytest.mark.parametrize("text", ["0", "-1", "nan", "soon"])
def test_positive_seconds_refuses_zero_negative_nan_and_words(text):
    with pytest.raises(argparse.ArgumentTypeError, match="positive number of seconds"):
        positive_seconds(text)


def test_positive_seconds_takes_fractions():
    assert positive_seconds("0.5") == 0.5
