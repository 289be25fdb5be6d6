"""Both stacks, exactly as the program plans them, pass every mandatory policy with their own policy config; dev,
which builds, would fail prod's (promoted) config exactly where dev's config relaxes it."""

from __future__ import annotations

import re

import pytest

from ops.offline import PACK_DIR

from .conftest import STACKS, of_policy, prod_config_for_dev, stack_config_file

PROMOTION = "promoted-stack-builds-nothing"


@pytest.mark.parametrize("stack", STACKS)
def test_the_planned_stack_has_no_violations(stack, policy_runs, analyze):
    report = analyze(policy_runs[stack], stack_config_file(stack))

    assert report.diagnostics == []


@pytest.mark.parametrize("stack", STACKS)
def test_without_a_baseline_the_change_guardrails_say_why_they_do_not_apply(stack, policy_runs, analyze):
    report = analyze(policy_runs[stack], stack_config_file(stack))

    assert set(report.not_applicable) == {"change-budget", "no-stateful-deletion", "outputs-kept",
                                          "public-contract-kept"}
    assert all("no baseline configured" in reason for reason in report.not_applicable.values())


def test_prod_makes_every_policy_mandatory_and_dev_relaxes_only_the_prod_only_and_change_policies(pack):
    prod = {name: level for name, (level, _) in pack.configure(stack_config_file("prod")).items()}
    dev = {name: level for name, (level, _) in pack.configure(stack_config_file("dev")).items()}

    assert set(prod.values()) == {"mandatory"}
    relaxed = {name: level for name, level in dev.items() if level != "mandatory"}
    assert relaxed == {
        "codedeploy-wave-size": "disabled",
        "codepipeline-approval-before-deploy": "disabled",
        "promoted-stack-builds-nothing": "disabled",
        "change-budget": "advisory",
        "no-stateful-deletion": "advisory",
        "outputs-kept": "advisory",
        "public-contract-kept": "advisory",
    }


def test_dev_judged_as_promoted_fails_builds_nothing_and_prod_passes_it(policy_runs, analyze):
    """prod's config on the real plans: prod (promoted) passes `promoted-stack-builds-nothing`; dev, which builds,
    fails it, as mandatory. Apart from it, dev fails only the other policies its own config disables (approval,
    wave size), so with those disabled too (`prod_config_for_dev`) it meets prod's thresholds everywhere else.
    (test_promotion.py checks each of the policy's rules on these plans, with the policy alone.)"""
    prod = analyze(policy_runs["prod"], stack_config_file("prod"))
    dev = analyze(policy_runs["dev"], stack_config_file("prod"))

    assert prod.levels[PROMOTION] == dev.levels[PROMOTION] == "mandatory"
    assert of_policy(prod, PROMOTION) == []
    assert of_policy(dev, PROMOTION)
    assert {d.level for d in dev.diagnostics if d.policy == PROMOTION} == {"mandatory"}
    disabled_in_dev = {name for name, level in stack_config_file("dev").items() if level == "disabled"}
    assert {d.policy for d in dev.diagnostics} == disabled_in_dev
    assert PROMOTION in disabled_in_dev
    assert analyze(policy_runs["dev"], prod_config_for_dev()).diagnostics == []


def test_the_readme_table_lists_every_policy_with_its_dev_and_prod_level(pack):
    readme = (PACK_DIR / "README.md").read_text()
    prod = {name: level for name, (level, _) in pack.configure(stack_config_file("prod")).items()}
    dev = {name: level for name, (level, _) in pack.configure(stack_config_file("dev")).items()}
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9-]+)` \|.*$", readme, re.MULTILINE)}

    assert set(rows) == set(prod)
    for name, row in rows.items():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3:5] == [dev[name], prod[name]], f"README row for {name} disagrees with config/*.json"
