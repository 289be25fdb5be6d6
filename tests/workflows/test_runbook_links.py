"""The runbook, the README and every page under docs/ link only to files and headings that exist inside the
repository, so an operator following them in an incident never lands on a dead link, and no page points at a file
the repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower().replace("`", "")).replace(" ", "-") for h in headings}


def operating_section(readme: str) -> str:
    return readme.split("\n## Operating it\n", 1)[1].split("\n## ", 1)[0]


PAGES = ["README.md", "RUNBOOK.md", "app/README.md", "policies/README.md",
         *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def links() -> list[tuple[str, str]]:
    return [(page, target) for page in PAGES for target in LINK.findall((ROOT / page).read_text())]


def test_the_operating_section_links_the_runbook_the_docs_and_every_workflow():
    linked = set(LINK.findall(operating_section((ROOT / "README.md").read_text())))
    assert {"RUNBOOK.md", "docs/diagnose.md", "docs/rollback.md"} <= linked
    assert {f".github/workflows/{p.name}" for p in (ROOT / ".github" / "workflows").glob("*.yml")} <= linked


def test_no_page_names_a_design_file_the_repository_does_not_have():
    for page in PAGES:
        text = (ROOT / page).read_text()
        assert "`DESIGN.md`" not in text and "(DESIGN.md)" not in text, page


def test_the_pages_have_links_to_check():
    assert len([1 for page, _ in links() if page == "RUNBOOK.md"]) >= 10
    assert {"docs/design.md", "docs/aws-behaviour.md"} <= {target for page, target in links() if page == "README.md"}


@pytest.mark.parametrize(("page", "target"), [link for link in links() if not link[1].startswith("http")],
                         ids=lambda value: str(value))
def test_every_relative_link_points_to_an_existing_file_and_heading(page, target):
    path, _, anchor = target.partition("#")
    file = (ROOT / page).parent / path if path else ROOT / page
    assert file.exists(), f"{page}: {target}: no such file"
    if anchor:
        assert anchor in anchors(file.read_text()), f"{page}: {target}: no such heading"
