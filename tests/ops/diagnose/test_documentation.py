"""The user doc and the JSON schema name exactly the cause classes the code can return."""

from __future__ import annotations

import json
import re

from ops.diagnose.advice import CAUSES
from ops.diagnose.render import SCHEMA_PATH


def test_the_schema_enumerates_every_cause_class():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["properties"]["cause"]["properties"]["class"]["enum"] == list(CAUSES)


def test_the_user_doc_has_one_row_per_cause_class(project_root):
    doc = (project_root / "docs" / "diagnose.md").read_text()
    table = doc.split("## Cause classes", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)`", table, flags=re.M)
    assert documented == list(CAUSES)
