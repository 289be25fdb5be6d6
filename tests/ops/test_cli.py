"""The CLI loads a command's module only when that command runs or its own --help is asked: `python -m ops --help`
lists every command with its one line from the table in ops/cli.py, and loads neither boto3 nor the Pulumi SDK."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

import pytest

from ops import cli
from ops.rollback import LAYERS
from tests.conftest import ROOT

HEAVY = ("boto3", "botocore", "pulumi", "grpc", "jsonschema")
# Runs `python -m ops ARGV` in this interpreter, then prints the modules it loaded (the help goes nowhere).
PROBE = """
import contextlib, io, json, runpy, sys
sys.argv = ["python -m ops", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()) as shown:
    try:
        runpy.run_module("ops", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code
print(json.dumps({"code": code, "help": shown.getvalue(), "modules": sorted(sys.modules)}))
"""


def probe(*argv: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout)


def heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if name.split(".")[0] in HEAVY]


def test_the_top_level_help_lists_every_command_and_loads_none_of_them():
    shown = probe("--help")
    assert shown["code"] == 0
    assert heavy(shown["modules"]) == []
    assert not {command.module for command in cli.COMMANDS.values()} & set(shown["modules"])
    listed = " ".join(shown["help"].split())  # argparse wraps the lines
    for name, command in cli.COMMANDS.items():
        assert f"{name} {command.help}" in listed


def test_rollback_help_lists_its_layers_without_loading_them():
    shown = probe("rollback", "--help")
    assert shown["code"] == 0 and heavy(shown["modules"]) == []
    assert "ops.rollback.app" not in shown["modules"] and "ops.rollback.stack" not in shown["modules"]
    listed = " ".join(shown["help"].split())
    for name, layer in LAYERS.items():
        assert f"{name} {layer.help}" in listed


@pytest.mark.parametrize("argv", [("history", "--help"), ("rollback", "stack", "--help")])
def test_a_command_that_needs_no_aws_loads_no_boto3(argv):
    shown = probe(*argv)
    assert shown["code"] == 0 and heavy(shown["modules"]) == []
    assert "--cwd" in shown["help"]  # its own arguments, from its module


def test_a_command_s_own_help_shows_its_module_s_arguments():
    shown = probe("rollback", "app", "--help")
    assert shown["code"] == 0 and "--to-deployment" in shown["help"] and "ops.rollback.app" in shown["modules"]


class Recorder:
    """Stands in for argparse's subparsers: records what a module's `register` asks for."""

    def __init__(self):
        self.given: dict = {}

    def add_parser(self, name: str, **settings) -> argparse.ArgumentParser:
        self.given = {"name": name, **settings}
        return argparse.ArgumentParser(prog=f"python -m ops {name}")


@pytest.mark.parametrize("table", [cli.COMMANDS, LAYERS], ids=["commands", "rollback layers"])
def test_each_table_line_is_the_module_s_own_help_where_it_gives_one(table):
    """A module may name its help too (`subparsers.add_parser(name, help=...)`): then it must be the table's."""
    for name, command in table.items():
        recorder = Recorder()
        importlib.import_module(command.module).register(recorder)
        assert recorder.given["name"] == name
        assert recorder.given.get("help", command.help) == command.help


def test_the_full_parser_holds_every_command_s_arguments():
    """`build_parser()` (for tools such as tests/workflows/test_commands.py) loads every command at once."""
    parser = cli.build_parser()
    parser.parse_args(["rollback", "stack", "-s", "prod", "--to", "3", "--dry-run"])
    with pytest.raises(SystemExit):
        parser.parse_args(["rollback", "stack", "-s", "prod", "--bogus"])


def test_a_usage_mistake_in_a_command_loaded_on_use_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["history", "-s", "dev", "--limit", "0"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("python -m ops history: error: argument --limit: expected a whole number of at "
                                       "least 1, got '0' (see python -m ops history --help)\n")
