"""The offline run reads Pulumi.<stack>.yaml the way the Pulumi CLI does, and refuses what the CLI would read
differently from YAML 1.2 (so a stack file never means one thing offline and another under `pulumi up`).

What the CLI does, read in its source (pulumi/pulumi sdk/go/common/workspace/loaders.go LoadProjectStackBytes and
sdk/go/common/resource/config/{value,object}.go, with gopkg.in/yaml.v3 v3.0.1 resolve.go/decode.go/encode.go): it
parses the file with yaml.v3 into untyped values, writes them back out as YAML, parses that into config values, and
hands the program strings: text as is, numbers and booleans as JSON, lists and maps as compact JSON with sorted keys,
a missing value as "". The expected strings below were checked by running that same sequence with yaml.v3 v3.0.1
(a Go program that mirrors LoadProjectStackBytes and config.object), not by reasoning alone.
"""

from __future__ import annotations

import codecs
import subprocess
import sys
import time

import pytest

from ops.errors import OpsError
from ops.offline.stack_file import project_name, stack_config

PROJECT_FILE = "name: delivery\nruntime: python\n"


def write(tmp_path, body: str | bytes, stack: str = "t", project: str = PROJECT_FILE):
    (tmp_path / "Pulumi.yaml").write_text(project)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    return path


def config_of(tmp_path, body: str | bytes) -> dict[str, str]:
    write(tmp_path, body)
    return stack_config(tmp_path, "t")


def value_of(tmp_path, text: str) -> str:
    return config_of(tmp_path, f"config:\n  delivery:x: {text}\n")["delivery:x"]


def refusal(tmp_path, body: str | bytes) -> str:
    write(tmp_path, body)
    with pytest.raises(OpsError) as caught:
        stack_config(tmp_path, "t")
    message = str(caught.value)
    assert "\n" not in message, "one line"
    assert caught.value.exit_code == 2
    return message


# What the program receives for each scalar, as the CLI passes it (yaml.v3 v3.0.1 + Pulumi's config values).
CLI_READS = [
    ("70", "70"),
    ("off", "off"),  # YAML 1.1 booleans (yes/no/on/off/y/n) are text in YAML 1.2 and to the CLI
    ("yes", "yes"),
    ("True", "true"),
    ("false", "false"),
    ("1e3", "1000"),
    ("1e6", "1000000"),
    ("2.50", "2.5"),
    ("0.0000001", "1e-7"),
    ("-0.0", "0"),
    (".5", "0.5"),
    ("+12", "12"),
    ("08", "8"),  # the CLI tries octal, fails, reads the float 8: the same number YAML 1.2 reads
    ("0x1F", "31"),
    ("0o17", "15"),
    ("1:20", "1:20"),  # YAML 1.1's base 60 is gone in 1.2 and in the CLI
    ("~", ""),
    ("null", ""),
    ("", ""),  # `key:` with no value: the CLI warns and passes ""
    ('"070"', "070"),
    ("'2024-06-01'", "2024-06-01"),
    ("!!str 070", "070"),
    ("t3.small", "t3.small"),
    ('["subnet-a", 7, 1.0, ~, "x<y"]', '["subnet-a",7,1,null,"x\\u003cy"]'),
    ("{b: 1, a: two}", '{"a":"two","b":1}'),
]


@pytest.mark.parametrize(("text", "expected"), CLI_READS)
def test_each_scalar_reaches_the_program_as_the_cli_passes_it(tmp_path, text, expected):
    assert value_of(tmp_path, text) == expected


# Scalars the CLI reads differently from YAML 1.2: refused, with the line and both readings.
AMBIGUOUS = [
    ("070", ["56", "70"]),  # yaml.v3 keeps YAML 1.1 octal for a leading 0
    ("-070", ["-56", "-70"]),
    ("1_000", ["1000", '"1_000"']),
    ("0b101", ["5", '"0b101"']),
    ("-0x1F", ["-31", '"-0x1F"']),
    ("2024-06-01", ["2024-06-01 00:00:00 +0000 UTC", '"2024-06-01"']),
    ("2024-06-01T10:00:00Z", ["date", '"2024-06-01T10:00:00Z"']),
    ("99999999999999999999", ["100000000000000000000", "99999999999999999999"]),
]


@pytest.mark.parametrize(("text", "readings"), AMBIGUOUS)
def test_a_scalar_the_cli_reads_differently_from_yaml_1_2_is_refused_with_its_line(tmp_path, text, readings):
    message = refusal(tmp_path, f"config:\n  aws:region: us-east-1\n  delivery:fleetSize: {text}\n")
    assert message.startswith("Pulumi.t.yaml line 3: ")
    assert "delivery:fleetSize" in message
    for reading in readings:
        assert reading in message
    assert "quote" in message


def test_an_ambiguous_scalar_inside_a_list_is_refused_too(tmp_path):
    message = refusal(tmp_path, "config:\n  delivery:subnetIds:\n    - subnet-a\n    - 0123\n")
    assert message.startswith("Pulumi.t.yaml line 4: ") and "delivery:subnetIds[1]" in message


@pytest.mark.parametrize("text", [".inf", "-.Inf", ".nan"])
def test_a_number_the_cli_cannot_pass_is_refused(tmp_path, text):
    message = refusal(tmp_path, f"config:\n  delivery:alarmCpuPercent: {text}\n")
    assert message.startswith("Pulumi.t.yaml line 2: ") and "delivery:alarmCpuPercent" in message


def test_keys_are_namespaced_with_the_project_and_the_old_config_form_is_normalized(tmp_path):
    config = config_of(tmp_path, "config:\n  fleetSize: 2\n  aws:region: us-east-1\n  delivery:config:appName: web\n")
    assert config == {"delivery:fleetSize": "2", "aws:region": "us-east-1", "delivery:appName": "web"}


@pytest.mark.parametrize(("body", "expected"), [
    # yaml.v3 refuses a key twice in one mapping ("mapping key ... already defined at line N").
    ("config:\n  delivery:fleetSize: 2\n  delivery:fleetSize: 4\n",
     "Pulumi.t.yaml line 3: config key `delivery:fleetSize` is already set on line 2"),
    # Two spellings of one key: the CLI would keep one of them at random (a Go map).
    ("config:\n  fleetSize: 2\n  delivery:fleetSize: 4\n",
     "Pulumi.t.yaml line 3: config key `delivery:fleetSize` is already set on line 2"),
    ("config:\n  delivery:a:b:c: 1\n", "Pulumi.t.yaml line 2: `delivery:a:b:c` is not a config key"),
    ("config:\n  delivery:vpc:\n    1: x\n", "Pulumi.t.yaml line 3: keys must be text"),
    ("config:\n  true: 1\n", "Pulumi.t.yaml line 2: keys must be text"),
    ("config:\n  base: &b {delivery:fleetSize: 2}\n  <<: *b\n", "Pulumi.t.yaml line 3: merge keys (<<)"),
    ("config:\n  delivery:x: !!int 7\n", "Pulumi.t.yaml line 2: the tag !!int"),
    ("config:\n  delivery:token:\n    secure: AAABAD\n", "config `delivery:token` in Pulumi.t.yaml is encrypted"),
    ("environment:\n  - shared\nconfig:\n  delivery:x: 1\n", "Pulumi.t.yaml line 1: `environment`"),
    ("config:\n  delivery:x: 1\n---\nconfig:\n  delivery:x: 2\n", "Pulumi.t.yaml line 3: more than one YAML document"),
    ("- config\n", "Pulumi.t.yaml line 1: a stack file must be a mapping"),
    ("config: [1, 2]\n", "Pulumi.t.yaml line 1: `config` must be a mapping"),
])
def test_what_the_cli_refuses_or_reads_at_random_is_refused_with_its_line(tmp_path, body, expected):
    assert expected in refusal(tmp_path, body)


def test_an_empty_stack_file_has_no_config(tmp_path):
    assert config_of(tmp_path, "") == {}
    assert config_of(tmp_path, "# nothing yet\nconfig:\n") == {}
    assert config_of(tmp_path, "encryptionsalt: v1:abc\nconfig:\n  aws:region: us-east-1\n") == {
        "aws:region": "us-east-1"}


class TestSyntaxAndEncoding:
    @pytest.mark.parametrize(("body", "line"), [
        ("config:\n  delivery:fleetSize: 2\n  delivery:appName: [web\n", 4),
        ("config:\n  delivery:fleetSize: 2\n delivery:appName: web\n", 3),
        ("config:\n\tdelivery:fleetSize: 2\n", 2),
        ('config:\n  delivery:appName: "web\n', 3),
    ])
    def test_a_syntax_error_names_the_file_and_line(self, tmp_path, body, line):
        assert refusal(tmp_path, body).startswith(f"Pulumi.t.yaml line {line}: ")

    def test_a_file_that_is_not_utf8_names_the_line_of_the_first_bad_byte(self, tmp_path):
        message = refusal(tmp_path, b"config:\n  aws:region: us-east-1\n  delivery:appName: caf\xe9\n")
        assert message.startswith("Pulumi.t.yaml line 3: not UTF-8 text")

    def test_byte_order_marks_are_read_as_the_cli_reads_them(self, tmp_path):
        body = "config:\n  delivery:appName: web\n"
        assert config_of(tmp_path, codecs.BOM_UTF8 + body.encode()) == {"delivery:appName": "web"}
        assert config_of(tmp_path, body.encode("utf-16")) == {"delivery:appName": "web"}

    def test_a_missing_stack_file_is_one_line(self, tmp_path):
        (tmp_path / "Pulumi.yaml").write_text(PROJECT_FILE)
        with pytest.raises(OpsError, match=r"^no stack file Pulumi\.nope\.yaml in "):
            stack_config(tmp_path, "nope")

    def test_the_project_file_is_read_the_same_way(self, tmp_path):
        (tmp_path / "Pulumi.yaml").write_text("name: delivery\nname: other\n")
        with pytest.raises(OpsError, match=r"^Pulumi\.yaml line 2: "):
            project_name(tmp_path)

    def test_project_level_config_is_refused_because_the_offline_run_cannot_apply_it(self, tmp_path):
        write(tmp_path, "config:\n  delivery:x: 1\n", project=PROJECT_FILE + "config:\n  delivery:x: 2\n")
        with pytest.raises(OpsError, match=r"^Pulumi\.yaml line 3: project-level `config`"):
            stack_config(tmp_path, "t")

    def test_stack_config_dir_is_honoured(self, tmp_path):
        (tmp_path / "Pulumi.yaml").write_text(PROJECT_FILE + "stackConfigDir: stacks\n")
        (tmp_path / "stacks").mkdir()
        (tmp_path / "stacks" / "Pulumi.t.yaml").write_text("config:\n  delivery:appName: web\n")
        assert stack_config(tmp_path, "t") == {"delivery:appName": "web"}


class TestAliases:
    def test_a_few_aliases_expand_as_the_cli_expands_them(self, tmp_path):
        body = "config:\n  delivery:subnetIds: &s [subnet-a, subnet-b]\n  other:subnets: *s\n"
        assert config_of(tmp_path, body)["other:subnets"] == '["subnet-a","subnet-b"]'

    def test_a_billion_laughs_is_refused_at_once_without_expanding_it(self, tmp_path):
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
        body = "\n".join(lines) + "\nconfig:\n  delivery:x: *a9\n"
        started = time.perf_counter()
        message = refusal(tmp_path, body)
        assert time.perf_counter() - started < 2
        assert "aliases" in message and "10000" in message

    def test_an_alias_inside_its_own_anchor_is_refused(self, tmp_path):
        assert "inside itself" in refusal(tmp_path, "config:\n  delivery:x: &a [1, *a]\n")

    def test_an_alias_to_an_unknown_anchor_is_refused(self, tmp_path):
        assert refusal(tmp_path, "config:\n  delivery:x: *nope\n").startswith("Pulumi.t.yaml line 2: ")

    def test_deep_nesting_is_refused_not_a_crash(self, tmp_path):
        message = refusal(tmp_path, "config:\n  delivery:x: " + "[" * 5000 + "]" * 5000 + "\n")
        assert message.startswith("Pulumi.t.yaml line 2: ")


class TestCommandLine:
    """`python -m ops.mockrun` and `ops check` say what is wrong with a stack file in one line and exit 2."""

    @pytest.fixture
    def project(self, tmp_path, project_root):
        for name in ("Pulumi.yaml", "__main__.py"):
            (tmp_path / name).write_text((project_root / name).read_text())
        return tmp_path

    def run(self, project_root, *args):
        return subprocess.run([sys.executable, "-m", "ops.mockrun", *args], cwd=project_root, capture_output=True,
                              text=True, check=False, timeout=120)

    def test_a_stack_file_that_is_not_utf8_is_one_line_and_exit_2(self, project, project_root):
        (project / "Pulumi.latin1.yaml").write_bytes(b"config:\n  delivery:appName: caf\xe9\n")
        result = self.run(project_root, "-s", "latin1", "--project-dir", str(project))
        assert result.returncode == 2
        assert result.stderr.strip() == "error: Pulumi.latin1.yaml line 2: not UTF-8 text (byte 0xe9); " \
                                        "save the file as UTF-8"
        assert result.stdout == ""

    def test_a_missing_stack_file_is_one_line_and_exit_2(self, project, project_root):
        result = self.run(project_root, "-s", "absent", "--project-dir", str(project))
        assert result.returncode == 2
        assert result.stderr.strip().startswith("error: no stack file Pulumi.absent.yaml in ")
        assert "Traceback" not in result.stderr

    def test_ops_check_reports_a_bad_stack_file_in_one_line_and_exits_2(self, capsys, project, monkeypatch):
        from ops import check
        from ops.cli import main

        (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n  delivery:fleetSize: 070\n")
        monkeypatch.setattr(check, "PROJECT_ROOT", project)
        code = main(["check", "-s", "dev"])
        err = capsys.readouterr().err
        assert code == 2
        assert err.strip().splitlines()[-1].startswith("error: Pulumi.dev.yaml line 3: ")
        assert "Traceback" not in err
