"""The committed stack files, read as the Pulumi CLI reads them, give settings the program accepts; and the
offline run gives the program exactly what `pulumi up` would, so it refuses what `pulumi up` would refuse."""

from __future__ import annotations

import shutil

import pytest

from components.settings import KNOWN_KEYS, PROJECT, parse_settings
from ops.errors import OpsError
from ops.offline.run import run_program
from ops.offline.stack_file import stack_config

STACKS = ("dev", "prod")


def settings_of(config: dict[str, str], stack: str):
    project = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(f"{PROJECT}:")}
    aws = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("aws:")}
    return parse_settings(project.get, aws.get, stack, list(config))


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_file_reads_cleanly_and_every_key_is_known(project_root, stack):
    config = stack_config(project_root, stack)
    ours = {key.split(":", 1)[1] for key in config if key.startswith(f"{PROJECT}:")}
    assert ours <= set(KNOWN_KEYS)
    assert all(isinstance(value, str) for value in config.values())


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_files_settings_are_valid(project_root, stack):
    settings = settings_of(stack_config(project_root, stack), stack)
    assert settings.environment == stack
    assert settings.drill_failure_rate == 0


def test_numbers_reach_the_program_as_the_text_the_cli_passes(project_root):
    config = stack_config(project_root, "prod")
    assert config["delivery:fleetSize"] == "3"
    assert config["delivery:approvalRequired"] == "true"
    assert config["delivery:alarmFaultRatePercent"] == "1"


@pytest.fixture
def project_with(tmp_path, project_root):
    """A copy of the program with a copy of the prod stack file, edited: `replace` swaps text, `lines` are added
    to its config."""

    def make(*lines: str, replace: tuple[str, str] | None = None):
        for name in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(project_root / name, tmp_path / name)
        shutil.copytree(project_root / "components", tmp_path / "components", dirs_exist_ok=True)
        text = (project_root / "Pulumi.prod.yaml").read_text()
        if replace:
            assert replace[0] in text
            text = text.replace(*replace)
        (tmp_path / "Pulumi.edited.yaml").write_text(text + "".join(f"  {line}\n" for line in lines))
        return tmp_path

    return make


def run_error(project_dir) -> str:
    with pytest.raises(OpsError) as caught:
        run_program("edited", project_dir)
    return str(caught.value)


def test_a_misspelt_key_fails_the_offline_run_with_the_closest_key(project_with):
    assert run_error(project_with("delivery:fleetSzie: 4")) == (
        "config `delivery:fleetSzie` is not a setting of this program; did you mean `delivery:fleetSize`?")


def test_off_is_text_as_under_pulumi_up_so_the_offline_run_refuses_it_too(project_with):
    # PyYAML (YAML 1.1) read `off` as false, so the offline run accepted what `pulumi up` refuses.
    project = project_with(replace=("delivery:approvalRequired: true", "delivery:approvalRequired: off"))
    assert run_error(project) == "config `delivery:approvalRequired` must be true or false (got 'off')"


def test_a_key_without_a_value_is_unset_as_under_pulumi_up(project_with):
    # The CLI passes "" (and warns); PyYAML's None became the text "null", refused as an email address.
    project = project_with(replace=("delivery:notificationEmail: oncall@example.com", "delivery:notificationEmail:"))
    run = run_program("edited", project)
    assert run.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_an_octal_looking_number_fails_the_offline_run_with_its_line(project_with):
    message = run_error(project_with(replace=("delivery:fleetSize: 3", "delivery:fleetSize: 010")))
    assert message.startswith("Pulumi.edited.yaml line 10: ")
    assert message.endswith("`delivery:fleetSize: 010` is 8 to the Pulumi CLI but 10 in YAML 1.2; quote it if "
                            "you mean text, or write a number in plain decimal")
