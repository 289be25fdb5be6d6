"""Shared argument types: bad numbers are usage errors that say what is allowed."""

import argparse

import pytest

from ops.argtypes import existing_directory, positive_seconds, stack_name, whole_number
from ops.errors import OpsError


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


@pytest.mark.parametrize("name", ["prod", "dev-2", "a_b.c", "acme/prod", "acme/delivery/prod", "x" * 100])
def test_stack_name_accepts_pulumis_names(name):
    assert stack_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "may not be empty"),
        ("   ", "may not be empty"),
        ("x" * 101, "cannot exceed 100 characters"),
        ("a/b/c/d", "expected NAME, ORG/NAME or ORG/PROJECT/NAME"),
        ("acme//prod", "expected NAME"),
        ("../prod", "may only contain"),
        ("..", "may only contain"),
        ("-rf", "may only contain"),
        ("pro d", "may only contain"),
        ("prød", "may only contain"),
        ("prod\x1b[2J", r"got 'prod\\x1b\[2J'"),
    ],
)
def test_stack_name_refuses_what_pulumi_refuses_and_what_would_be_a_path(name, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        stack_name(name)


def test_existing_directory_is_resolved_or_refused_in_one_line(tmp_path):
    assert existing_directory(str(tmp_path), "--cwd") == tmp_path.resolve()
    with pytest.raises(OpsError, match="--cwd is empty"):
        existing_directory("", "--cwd")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OpsError, match="no such directory"):
        existing_directory(str(tmp_path / "file"), "--cwd")
