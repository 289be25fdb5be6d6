"""Every `python -m ops ...` and `pulumi ...` command written in the workflows, README.md, RUNBOOK.md and docs/*.md
parses: the ops ones with the operator CLI's real argument parser (`ops.cli.build_parser()`), the pulumi ones
against the commands and flags of tests/workflows/pulumi_cli.py (copied from the Pulumi CLI reference). The
extraction and both checkers are specified first, including what they must reject, so a pass means something."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from ops.cli import build_parser
from tests.workflows import pulumi_cli
from tests.workflows.commands import Command, expand_synopsis, scan_markdown, scan_shell, scan_workflow

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
MARKDOWN = [ROOT / "README.md", ROOT / "RUNBOOK.md", *sorted((ROOT / "docs").glob("*.md"))]


def ops_problem(command: Command) -> str | None:
    """None if `python -m ops ARGV` parses; else argparse's message. In prose, a bare command path names it."""
    if not command.argv or (command.prose and _is_ops_command_path(command.argv)):
        return None
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(list(command.argv))
    except SystemExit as stop:
        if stop.code not in (0, None):  # 0: --help
            return stderr.getvalue().strip().splitlines()[-1]
    return None


def _is_ops_command_path(argv: tuple[str, ...]) -> bool:
    parser = build_parser()
    for word in argv:
        subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if subparsers is None or word not in subparsers.choices:
            return False
        parser = subparsers.choices[word]
    return True


def pulumi_problems(command: Command) -> list[str]:
    return pulumi_cli.check(command.argv, name_only_ok=command.prose)


def all_commands() -> list[Command]:
    found = []
    for path in WORKFLOWS:
        found += scan_workflow(path, ROOT)
    for path in MARKDOWN:
        if path.exists():
            found += scan_markdown(path.read_text(), str(path.relative_to(ROOT)))
    return found


COMMANDS = all_commands()


# --- the extraction, specified ---------------------------------------------------------------------------------------


def argvs(found: list[Command], tool: str) -> list[tuple[str, ...]]:
    return [c.argv for c in found if c.tool == tool]


def test_a_command_continued_over_lines_is_one_command_and_expressions_become_values():
    script = 'pulumi up --stack ${{ matrix.stack }} --yes \\\n  --message "deploy $GITHUB_SHA" \\\n  --diff\n'
    assert argvs(scan_shell(script, "t"), "pulumi") == [("up", "--stack", "1", "--yes", "--message",
                                                          "deploy $GITHUB_SHA", "--diff")]


def test_commands_after_operators_keywords_assignments_and_inside_substitutions_are_found():
    script = (
        'if ! pulumi preview -s dev 2>&1 | tee out.txt; then exit 1; fi\n'
        'out="$(python -m ops diagnose -s "$STACK" --markdown)" && X=1 python3 -m ops history -s dev\n'
        'region=$(pulumi stack output region)\n'
        '.venv/bin/python -m ops check -s prod || status=$?\n'
    )
    found = scan_shell(script, "t")
    assert argvs(found, "pulumi") == [("preview", "-s", "dev"), ("stack", "output", "region")]
    assert argvs(found, "ops") == [("diagnose", "-s", "1", "--markdown"), ("history", "-s", "dev"),
                                   ("check", "-s", "prod")]


def test_words_in_quotes_comments_heredocs_and_other_modules_are_not_commands():
    script = (
        'echo "run pulumi up --bogus to fix it"  # pulumi up --bogus\n'
        "cat <<'EOF'\npulumi bogus\nEOF\n"
        "python -m ops.mockrun -s prod\n"
        "grep pulumi file.txt\n"
    )
    assert scan_shell(script, "t") == []


def test_markdown_commands_come_from_shell_blocks_and_inline_code_but_not_other_blocks():
    text = (
        "Run `pulumi up -s dev`, or `python -m ops history -s prod --limit 3`; `Pulumi.yaml` is not a command.\n"
        "```bash\n$ pulumi stack export \\\n    --stack prod --file b.json   # the deployed stack\n```\n"
        "```yaml\nrun: pulumi bogus\n```\n"
    )
    found = scan_markdown(text, "doc.md")
    assert [(c.source, c.tool, c.argv, c.prose) for c in found] == [
        ("doc.md:1", "pulumi", ("up", "-s", "dev"), True),
        ("doc.md:1", "ops", ("history", "-s", "prod", "--limit", "3"), True),
        ("doc.md:3", "pulumi", ("stack", "export", "--stack", "prod", "--file", "b.json"), False),
    ]


def test_a_usage_synopsis_is_expanded_into_one_variant_per_option_and_alternative():
    assert expand_synopsis("python -m ops diagnose -s STACK [--json | --markdown] [--log-lines N]") == [
        "python -m ops diagnose -s STACK",
        "python -m ops diagnose -s STACK --json",
        "python -m ops diagnose -s STACK --markdown",
        "python -m ops diagnose -s STACK --log-lines N",
    ]
    assert expand_synopsis("pulumi config set KEY --plaintext|--secret") == [
        "pulumi config set KEY --plaintext", "pulumi config set KEY --secret"]
    found = scan_markdown("`python -m ops rollback app -s STACK [--wait/--no-wait]`\n", "d.md")
    assert [c.argv for c in found] == [("rollback", "app", "-s", "1"), ("rollback", "app", "-s", "1", "--wait"),
                                       ("rollback", "app", "-s", "1", "--no-wait")]


# --- the checkers can fail ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ("rollback", "stack", "--dry-run"),               # -s is required
    ("rollback", "stack", "-s", "prod", "--to", "x"),  # --to is a version number
    ("rollback", "database", "-s", "prod"),           # no such layer
    ("diagnose", "--json", "--markdown"),             # mutually exclusive
    ("check", "-s", "prod", "--bogus"),
])
def test_the_ops_checker_rejects_what_the_real_parser_rejects(argv):
    assert ops_problem(Command("ops", argv, "t", "")) is not None


def test_in_prose_a_bare_ops_command_path_is_a_name_but_not_a_wrong_one():
    assert ops_problem(Command("ops", ("rollback", "stack"), "t", "", prose=True)) is None
    assert ops_problem(Command("ops", ("rollback", "stack"), "t", "", prose=False)) is not None
    assert ops_problem(Command("ops", ("rollback", "stak"), "t", "", prose=True)) is not None


@pytest.mark.parametrize(("argv", "problem"), [
    (("up", "--bogus"), "unknown flag --bogus"),
    (("stack", "exprt"), "is not a command"),
    (("preview", "--policy-pack-config"), "needs a value"),
    (("up", "--yes=1"), "takes no value"),
    (("config", "rm", "a", "b"), "at most 1"),
    (("--stack", "dev", "up"), "only global flags"),
])
def test_the_pulumi_checker_rejects_unknown_commands_flags_and_arity(argv, problem):
    assert any(problem in p for p in pulumi_cli.check(argv, name_only_ok=False))


@pytest.mark.parametrize("argv", [
    ("preview", "--refresh", "--expect-no-changes", "--stack", "prod"),  # --refresh takes no next word
    ("preview", "-r=true", "-s", "dev"),
    ("-C", "infra", "up", "-y", "--skip-preview"),                     # global flags before the command
    ("stack", "history", "--json", "--page-size", "100", "--page", "2"),
    ("config", "set", "delivery:bakeMinutes", "45", "--stack", "prod"),
])
def test_the_pulumi_checker_accepts_the_reference_forms(argv):
    assert pulumi_cli.check(argv, name_only_ok=False) == []


def test_every_option_line_in_the_pulumi_table_is_well_formed():
    for path, (synopsis, options) in pulumi_cli.COMMANDS.items():
        assert synopsis.startswith(f"pulumi {path} ") or synopsis == f"pulumi {path}"
        assert pulumi_cli.parse_options(options)  # raises on a malformed line


# --- the commands actually written ---------------------------------------------------------------------------------


def test_the_files_hold_the_commands_the_runbook_and_workflows_are_about():
    """Guards the extraction itself: if it silently found nothing, every check below would pass vacuously."""
    have = {(c.source.split(" ")[0].split(":")[0], c.tool, c.argv[:2]) for c in COMMANDS}
    expected = {
        (".github/workflows/pr.yml", "ops", ("check", "-s")),
        (".github/workflows/pr.yml", "pulumi", ("stack", "export")),
        (".github/workflows/deploy.yml", "pulumi", ("up", "--stack")),
        (".github/workflows/deploy.yml", "pulumi", ("install",)),
        (".github/workflows/rollback.yml", "ops", ("diagnose", "-s")),
        (".github/workflows/rollback.yml", "ops", ("rollback", "app")),
        (".github/workflows/rollback.yml", "ops", ("rollback", "stack")),
        (".github/workflows/drift.yml", "pulumi", ("preview", "--stack")),
        ("RUNBOOK.md", "ops", ("diagnose", "-s")),
        ("RUNBOOK.md", "ops", ("rollback", "app")),
        ("RUNBOOK.md", "ops", ("rollback", "stack")),
        ("RUNBOOK.md", "ops", ("history", "-s")),
        ("RUNBOOK.md", "pulumi", ("refresh", "--stack")),
        ("README.md", "pulumi", ("login", "s3://1")),
    }
    assert expected <= have, sorted(expected - have)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.tool == "ops"], ids=str)
def test_every_ops_command_written_parses(command):
    assert ops_problem(command) is None, f"{command}: {ops_problem(command)}"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.tool == "pulumi"], ids=str)
def test_every_pulumi_command_written_is_a_real_command_with_real_flags(command):
    assert pulumi_problems(command) == [], str(command)
