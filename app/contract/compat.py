"""Backward-compatibility rules for OpenAPI 3.x documents.

A change is breaking when a client written against the old document can fail against the new one:

- where to call and how to authenticate must not move: a server URL no longer listed (adding `servers` to a
  document that had none moves every URL off "/"), or a security requirement a client meeting the old one cannot
  meet (including one where there was none), break;
- requests (parameters and bodies) must accept everything they accepted before: a removed path or method, a new
  required parameter or field, an optional one becoming required, a narrower type, fewer enum values, tighter
  bounds, a new or changed multipleOf, uniqueItems or format, a changed pattern, a removed media type, a removed
  field where unknown fields are rejected, or array items or map values that become constrained, break;
- responses must not return anything the old document did not promise: a removed field, a field no longer
  always present, a wider type (e.g. now nullable), a removed success status, media type or header, or array
  items or map values that are no longer described, break.

Everything else is reported as non-breaking: additions (paths, methods, optional parameters and fields, response
fields, enum values, statuses) and relaxations, and changes to `deprecated` and `x-sunset` (noted, never breaking).

Retirement. Removing an operation is not breaking only when the old document both marks it `deprecated: true`
(OpenAPI: "Consumers SHOULD refrain from usage") and gives it a sunset date that has passed: `x-sunset:
"YYYY-MM-DD"`, an OpenAPI extension on the operation named after the Sunset HTTP header of RFC 8594 (the time a
resource is expected to become unresponsive), on or before today's UTC date (the sunset day itself counts). So an
old version is retired in two releases: the first marks it deprecated with a sunset date that gives clients notice
(compatible), the second removes it once that release is live everywhere and the date has come. Removing a
deprecated operation whose x-sunset is missing, not a YYYY-MM-DD date, or still in the future is breaking, and the
change says which; a path's removal is not breaking only when every operation on it qualifies. `compare` takes the
date to judge by (`today`, default today's UTC date) so that tests are deterministic. The x-sunset of the new
document is only reported: a malformed one there is data, noted, not an error.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REQUEST, RESPONSE = "request", "response"
# (keyword, True if a larger value is stricter) for the bounds a request may not tighten.
BOUNDS = (("minimum", True), ("exclusiveMinimum", True), ("minLength", True), ("minItems", True),
          ("maximum", False), ("exclusiveMaximum", False), ("maxLength", False), ("maxItems", False))

SUNSET = "x-sunset"  # RFC 8594's Sunset header as an OpenAPI extension on an operation: "YYYY-MM-DD"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fromisoformat alone also takes 20270301 and 2027-W09-1

Schema = dict[str, Any]


@dataclass(frozen=True)
class Change:
    breaking: bool
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def compare(old: dict[str, Any], new: dict[str, Any], today: datetime.date | None = None) -> list[Change]:
    """Every difference between two OpenAPI documents that matters to clients, breaking ones first. `today` is the
    date x-sunset dates are judged against (default: today's date in UTC)."""
    if today is None:
        today = utc_today()
    changes = _Comparison(old, new, today).run()
    return sorted(changes, key=lambda c: not c.breaking)


def utc_today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


class _Comparison:
    def __init__(self, old: dict[str, Any], new: dict[str, Any], today: datetime.date) -> None:
        self.old_doc, self.new_doc, self.today = old, new, today
        self.changes: list[Change] = []
        self._visiting: set[tuple[int, int, str]] = set()

    def note(self, breaking: bool, where: str, what: str) -> None:
        self.changes.append(Change(breaking, where, what))

    def run(self) -> list[Change]:
        self.servers("servers", _server_urls(self.old_doc), _server_urls(self.new_doc))
        old_paths, new_paths = self.old_doc.get("paths") or {}, self.new_doc.get("paths") or {}
        for path, old_item in old_paths.items():
            if path not in new_paths:
                self.path_removed(path, old_item)
                continue
            new_item = new_paths[path]
            for method in _methods(old_item):
                if method not in new_item:
                    retired, why = _retirement(old_item[method], self.today)
                    self.note(not retired, f"{method.upper()} {path}", "method removed" + (f" ({why})" if why else ""))
                else:
                    self.operation(f"{method.upper()} {path}", old_item, new_item, method)
            for method in _methods(new_item):
                if method not in old_item:
                    self.note(False, f"{method.upper()} {path}", "method added")
        for path in new_paths:
            if path not in old_paths:
                self.note(False, path, f"path added ({', '.join(_methods(new_paths[path])).upper()})")
        return self.changes

    # operations

    def path_removed(self, path: str, old_item: dict) -> None:
        """Not breaking only when every operation on the path is retired (deprecated, its x-sunset passed); otherwise
        the operations that keep it breaking are named when any of them says something about retiring."""
        methods = _methods(old_item)
        what = f"path removed (it had {', '.join(methods).upper() or 'no methods'})"
        verdicts = {method: _retirement(old_item[method], self.today) for method in methods}
        if methods and all(retired for retired, _ in verdicts.values()):
            self.note(False, path, f"{what}, every operation deprecated and past its {SUNSET}")
            return
        if any(why for _, why in verdicts.values()):
            what += ": " + "; ".join(f"{method.upper()} {why or 'not deprecated'}"
                                     for method, (retired, why) in verdicts.items() if not retired)
        self.note(True, path, what)

    def deprecation(self, where: str, old_op: dict, new_op: dict) -> None:
        """Deprecating, un-deprecating or moving a sunset is never breaking; it is noted with what it means for
        removing the operation later. The new document's x-sunset is only shown, however malformed."""
        old_deprecated, new_deprecated = _deprecated(old_op), _deprecated(new_op)
        old_sunset, new_sunset = old_op.get(SUNSET, _NONE), new_op.get(SUNSET, _NONE)
        if old_deprecated == new_deprecated and old_sunset == new_sunset:
            return
        if new_deprecated and not old_deprecated:
            what = "operation deprecated"
        elif old_deprecated and not new_deprecated:
            what = "operation no longer deprecated"
        else:
            what = f"{SUNSET} changed from {_shown_sunset(old_sunset)} to {_shown_sunset(new_sunset)}"
        if new_deprecated or new_sunset is not _NONE:
            what += f" ({_outlook(new_op, self.today)})"
        self.note(False, where, what)

    def operation(self, where: str, old_item: dict, new_item: dict, method: str) -> None:
        old_op, new_op = old_item[method], new_item[method]
        self.deprecation(where, old_op, new_op)
        self.servers(where, _server_urls(self.old_doc, old_item, old_op), _server_urls(self.new_doc, new_item, new_op))
        self.security(where, _security(self.old_doc, old_op), _security(self.new_doc, new_op))
        old_params = self.params_of(self.old_doc, old_item, old_op)
        self.parameters(where, old_params, self.params_of(self.new_doc, new_item, new_op))
        self.request_body(where, old_op.get("requestBody"), new_op.get("requestBody"))
        self.responses(where, old_op.get("responses") or {}, new_op.get("responses") or {})

    def servers(self, where: str, old: list[str], new: list[str]) -> None:
        gone = [url for url in old if url not in new]
        if gone:
            self.note(True, where, f"server URL(s) {', '.join(gone)} no longer listed: every call there moves")
        added = [url for url in new if url not in old]
        if added and not gone:
            self.note(False, where, f"server URL(s) {', '.join(added)} added")

    def security(self, where: str, old: list[frozenset[str]], new: list[frozenset[str]]) -> None:
        """A client that meets one of the old alternatives must meet one of the new ones."""
        unmet = [alt for alt in old if not any(need <= alt for need in new)]
        if unmet:
            shown = "; ".join(" + ".join(sorted(alt)) or "no authentication" for alt in unmet)
            self.note(True, where, f"security requirement added or changed: a client with {shown} is refused")
        elif old != new:
            self.note(False, where, "security requirements relaxed")

    @staticmethod
    def params_of(doc: dict, item: dict, op: dict) -> dict[tuple[str, str], dict]:
        params = {}
        for raw in [*item.get("parameters", []), *op.get("parameters", [])]:  # operation level wins
            param = _resolve(doc, raw)
            params[(param["in"], param["name"])] = param
        return params

    def parameters(self, where: str, old: dict, new: dict) -> None:
        for key, param in new.items():
            at = f"{where} {key[0]} parameter '{key[1]}'"
            required = bool(param.get("required")) or key[0] == "path"
            if key not in old:
                self.note(required, at, "new required parameter" if required else "optional parameter added")
                continue
            if required and not (old[key].get("required") or key[0] == "path"):
                self.note(True, at, "parameter is now required")
            self.schema(at, old[key].get("schema") or {}, param.get("schema") or {}, REQUEST, "")
        for key in old.keys() - new.keys():
            self.note(False, f"{where} {key[0]} parameter '{key[1]}'", "parameter removed (now ignored)")

    def request_body(self, where: str, old: dict | None, new: dict | None) -> None:
        at = f"{where} request body"
        if new is None:
            if old is not None:
                self.note(False, at, "request body removed (now ignored)")
            return
        new = _resolve(self.new_doc, new)
        if old is None:
            if new.get("required"):
                self.note(True, at, "request body is now required")
            return
        old = _resolve(self.old_doc, old)
        if new.get("required") and not old.get("required"):
            self.note(True, at, "request body is now required")
        self.content(at, old.get("content") or {}, new.get("content") or {}, REQUEST)

    def responses(self, where: str, old: dict, new: dict) -> None:
        for status, old_response in old.items():
            at = f"{where} response {status}"
            if status not in new:
                self.note(str(status).startswith("2"), at, "response status removed")
                continue
            old_r, new_r = _resolve(self.old_doc, old_response), _resolve(self.new_doc, new[status])
            self.content(at, old_r.get("content") or {}, new_r.get("content") or {}, RESPONSE)
            self.headers(at, old_r.get("headers") or {}, new_r.get("headers") or {})
        for status in new.keys() - old.keys():
            self.note(False, f"{where} response {status}", "response status added")

    def headers(self, at: str, old: dict, new: dict) -> None:
        for name in old.keys() - new.keys():
            self.note(True, f"{at} header '{name}'", "response header removed")
        for name in new.keys() - old.keys():
            self.note(False, f"{at} header '{name}'", "response header added")
        for name in old.keys() & new.keys():
            old_h, new_h = _resolve(self.old_doc, old[name]), _resolve(self.new_doc, new[name])
            self.schema(f"{at} header '{name}'", old_h.get("schema") or {}, new_h.get("schema") or {}, RESPONSE, "")

    def content(self, at: str, old: dict, new: dict, direction: str) -> None:
        for media_type, old_media in old.items():
            if media_type not in new:
                verb = "no longer accepted" if direction == REQUEST else "no longer returned"
                self.note(True, at, f"media type {media_type} {verb}")
                continue
            self.schema(at, old_media.get("schema") or {}, new[media_type].get("schema") or {}, direction, "")
        for media_type in new.keys() - old.keys():
            self.note(False, at, f"media type {media_type} added")

    # schemas

    def schema(self, at: str, old: Schema, new: Schema, direction: str, field: str) -> None:
        old, new = _resolve(self.old_doc, old), _resolve(self.new_doc, new)
        key = (id(old), id(new), direction)
        if key in self._visiting:  # a recursive schema: this pair is already being compared further up
            return
        self._visiting.add(key)
        try:
            self._compare_schema(at, old, new, direction, field)
        finally:
            self._visiting.discard(key)

    def _compare_schema(self, at: str, old: Schema, new: Schema, direction: str, field: str) -> None:
        where = f"{at} field '{field}'" if field else at
        old_types, new_types = self.types(self.old_doc, old), self.types(self.new_doc, new)
        if _type_breaks(old_types, new_types, direction):
            self.note(True, where, f"type changed from {_show(old_types)} to {_show(new_types)}")
            return
        if old_types != new_types:
            self.note(False, where, f"type changed from {_show(old_types)} to {_show(new_types)} (compatible)")
        self.enum(where, self.enum_of(self.old_doc, old), self.enum_of(self.new_doc, new), direction)
        if direction == REQUEST:
            self.bounds(where, self.branch_union(self.old_doc, old), self.branch_union(self.new_doc, new))
        self.properties(at, old, new, direction, field)
        self.nested(at, self.items_of(self.old_doc, old), self.items_of(self.new_doc, new), direction,
                    f"{field}[]", "items", "array" in old_types | new_types)
        self.nested(at, self.map_values_of(self.old_doc, old), self.map_values_of(self.new_doc, new), direction,
                    f"{field}.*" if field else "*", "map values", "object" in old_types | new_types)

    def nested(self, at: str, old: Schema | None, new: Schema | None, direction: str, field: str, what: str,
               applies: bool) -> None:
        """Array items or map values: compared when both are described; otherwise one side is unconstrained,
        which breaks a response that loses its description or a request that gains one."""
        if old is not None and new is not None:
            self.schema(at, old, new, direction, field)
        elif applies and (old is None) != (new is None):
            where = f"{at} field '{field}'"
            if direction == RESPONSE and new is None:
                self.note(True, where, f"{what} are no longer described: anything may come back")
            elif direction == REQUEST and old is None:
                self.note(True, where, f"{what} are now constrained: values accepted before may be refused")
            else:
                self.note(False, where, f"{what} {'described' if new is not None else 'no longer constrained'}")

    def enum(self, where: str, old: set | None, new: set | None, direction: str) -> None:
        if old == new or (old is None and new is None):
            return
        if new is None:
            self.note(False, where, "enum restriction removed")
        elif old is None:
            self.note(direction == REQUEST, where, f"now restricted to the values {_values(new)}")
        else:
            if old - new:
                self.note(direction == REQUEST, where, f"enum narrowed: values {_values(old - new)} removed")
            if new - old:
                caution = " (clients that handle every value must learn them)" if direction == RESPONSE else ""
                self.note(False, where, f"enum values {_values(new - old)} added{caution}")

    def bounds(self, where: str, old: Schema, new: Schema) -> None:
        for keyword, larger_is_stricter in BOUNDS:
            if keyword not in new or old.get(keyword) == new[keyword] or isinstance(new[keyword], bool):
                continue
            tighter = keyword not in old or (new[keyword] > old[keyword]) == larger_is_stricter
            self.note(tighter, where, f"{keyword} changed from {old.get(keyword, 'none')} to {new[keyword]}")
        if "multipleOf" in new and old.get("multipleOf") != new["multipleOf"]:
            divides = "multipleOf" in old and _multiple(old["multipleOf"], new["multipleOf"])
            self.note(not divides, where, f"multipleOf changed from {old.get('multipleOf', 'none')} to "
                                          f"{new['multipleOf']}")
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self.note(True, where, "uniqueItems is now required")
        if "format" in new and old.get("format") != new["format"]:
            self.note(True, where, f"format changed from {old.get('format', 'none')} to {new['format']} "
                                   "(servers may validate it)")
        if "pattern" in new and old.get("pattern") != new["pattern"]:
            self.note(True, where, f"pattern changed from {old.get('pattern', 'none')!r} to {new['pattern']!r}"
                                   " (the gate cannot prove it accepts everything the old one did)")

    def properties(self, at: str, old: Schema, new: Schema, direction: str, field: str) -> None:
        old_props, old_required, old_closed = self.object_of(self.old_doc, old)
        new_props, new_required, new_closed = self.object_of(self.new_doc, new)
        prefix = f"{field}." if field else ""
        for name, new_prop in new_props.items():
            path = prefix + name
            where = f"{at} field '{path}'"
            if name not in old_props:
                if direction == REQUEST and name in new_required:
                    self.note(True, where, "new required field")
                else:
                    self.note(False, where, "field added")
                continue
            if direction == REQUEST and name in new_required and name not in old_required:
                self.note(True, where, "field is now required")
            if direction == RESPONSE and name in old_required and name not in new_required:
                self.note(True, where, "field is no longer always present")
            self.schema(at, old_props[name], new_prop, direction, path)
        for name in old_props.keys() - new_props.keys():
            where = f"{at} field '{prefix}{name}'"
            if direction == RESPONSE:
                self.note(True, where, "field removed")
            else:
                self.note(new_closed, where, "field removed" + (" and unknown fields are rejected" if new_closed
                                                                 else " (now ignored)"))
        if direction == REQUEST and new_closed and not old_closed and old_props:
            self.note(True, at + (f" field '{field}'" if field else ""), "unknown fields are now rejected")

    # schema views that see through $ref, allOf and anyOf/oneOf (Optional[X] is anyOf [X, null])

    def branches(self, doc: dict, schema: Schema) -> list[Schema]:
        """The alternatives a value may match: anyOf/oneOf members, each with its allOf parts merged."""
        schema = _resolve(doc, schema)
        if schema.get("allOf"):
            schema = self.all_of_merged(doc, schema)
        combined = schema.get("anyOf") or schema.get("oneOf")
        if not combined:
            return [schema]
        return [b for member in combined for b in self.branches(doc, member)]

    def all_of_merged(self, doc: dict, schema: Schema) -> Schema:
        """allOf: a value matches every part, so the parts' properties and required fields add up."""
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(doc, part)
            part = self.all_of_merged(doc, part) if part.get("allOf") else part
            for key, value in part.items():
                if key == "properties":
                    merged["properties"] = {**value, **merged.get("properties", {})}
                elif key == "required":
                    merged["required"] = sorted({*merged.get("required", []), *value})
                else:
                    merged.setdefault(key, value)
        return merged

    def branch_union(self, doc: dict, schema: Schema) -> Schema:
        merged: Schema = {}
        for branch in self.branches(doc, schema):
            merged.update({k: v for k, v in branch.items() if k not in merged})
        return merged

    def types(self, doc: dict, schema: Schema) -> frozenset[str]:
        """The JSON types a schema allows; empty means any."""
        found: set[str] = set()
        for branch in self.branches(doc, schema):
            declared = branch.get("type")
            if declared is None:
                if "enum" in branch or "const" in branch:
                    declared = [_json_type(v) for v in branch.get("enum", [branch.get("const")])]
                elif "properties" in branch:
                    declared = "object"
                elif "items" in branch:
                    declared = "array"
                else:
                    return frozenset()  # one unconstrained branch: anything goes
            found.update([declared] if isinstance(declared, str) else declared)
            if branch.get("nullable") is True:  # OpenAPI 3.0's spelling of "or null"
                found.add("null")
        return frozenset(found)

    def enum_of(self, doc: dict, schema: Schema) -> set[str] | None:
        values: set[str] = set()
        for branch in self.branches(doc, schema):
            if "enum" in branch:
                values.update(json.dumps(v, sort_keys=True) for v in branch["enum"])
            elif "const" in branch:
                values.add(json.dumps(branch["const"], sort_keys=True))
            elif branch.get("type") == "null":
                values.add("null")
            else:
                return None
        return values

    def object_of(self, doc: dict, schema: Schema) -> tuple[dict[str, Schema], set[str], bool]:
        props: dict[str, Schema] = {}
        required: set[str] | None = None
        closed = False
        for branch in self.branches(doc, schema):
            if "properties" not in branch:
                continue
            props.update(branch["properties"])
            branch_required = set(branch.get("required", []))
            required = branch_required if required is None else required & branch_required
            closed = closed or branch.get("additionalProperties") is False
        return props, required or set(), closed

    def items_of(self, doc: dict, schema: Schema) -> Schema | None:
        return next((b["items"] for b in self.branches(doc, schema) if isinstance(b.get("items"), dict)), None)

    def map_values_of(self, doc: dict, schema: Schema) -> Schema | None:
        """The value schema of a map (dict[str, X] is additionalProperties X)."""
        branches = self.branches(doc, schema)
        return next((b["additionalProperties"] for b in branches if isinstance(b.get("additionalProperties"), dict)),
                    None)


def _resolve(doc: dict, schema: Any) -> Any:
    """Follow local $refs (#/components/...) until a concrete object."""
    hops = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/") or hops > 50:
            raise ValueError(f"cannot resolve $ref {ref!r}: only local references are supported")
        schema = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(schema, dict) or part not in schema:
                raise ValueError(f"$ref {ref!r} points at nothing in the document")
            schema = schema[part]
        hops += 1
    return schema


def _server_urls(doc: dict, *levels: dict) -> list[str]:
    """The server URLs in effect: the innermost `servers` (operation, then path, then document); "/" when none."""
    for level in (*reversed(levels), doc):
        servers = level.get("servers")
        if servers:
            return [str(server.get("url", "/")) for server in servers if isinstance(server, dict)]
    return ["/"]


def _security(doc: dict, op: dict) -> list[frozenset[str]]:
    """The alternatives a client may meet, each the set of schemes it needs; [{}] (none needed) when unset."""
    requirements = op["security"] if "security" in op else doc.get("security")
    if not requirements:
        return [frozenset()]
    return [frozenset(alternative) for alternative in requirements if isinstance(alternative, dict)]


def _multiple(old: float, new: float) -> bool:
    """True when the new step divides the old one, so every value accepted before is still a multiple (a
    relaxation); any other change refuses some old values."""
    ratio = old / new if new else 0
    return new != 0 and abs(ratio - round(ratio)) < 1e-9


def _methods(path_item: dict) -> list[str]:
    return [m for m in METHODS if m in path_item]


def _deprecated(operation: object) -> bool:
    return isinstance(operation, dict) and operation.get("deprecated") is True


_NONE = object()  # an operation without an x-sunset


def _sunset_date(value: object) -> datetime.date | None:
    """The day an x-sunset names; None unless it is a real calendar date written YYYY-MM-DD."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:  # 2027-02-30
        return None


def _shown_sunset(value: object) -> str:
    if value is _NONE:
        return "none"
    day = _sunset_date(value)
    if day is not None:
        return day.isoformat()
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _retirement(operation: object, today: datetime.date) -> tuple[bool, str | None]:
    """Whether removing this operation of the old document retires it (not breaking): only when it is deprecated
    and its x-sunset is a YYYY-MM-DD date on or before `today`. The second value says why, or is None when the
    operation says nothing about retiring (not deprecated, no x-sunset)."""
    if not isinstance(operation, dict):
        return False, None
    deprecated = _deprecated(operation)
    if SUNSET not in operation:
        return False, f"deprecated without an {SUNSET} date" if deprecated else None
    raw = operation[SUNSET]
    if not deprecated:
        return False, f"not deprecated, although it has an {SUNSET} {_shown_sunset(raw)}"
    day = _sunset_date(raw)
    if day is None:
        return False, f"deprecated, but its {SUNSET} {_shown_sunset(raw)} is not a YYYY-MM-DD date"
    if day > today:
        return False, f"deprecated, but its {SUNSET} {day} has not passed"
    return True, f"deprecated, and its {SUNSET} {day} " + ("is today" if day == today else "has passed")


def _outlook(operation: dict, today: datetime.date) -> str:
    """What an operation of the new document says about removing it in a later release."""
    raw = operation.get(SUNSET, _NONE)
    if not _deprecated(operation):
        return f"it has an {SUNSET} {_shown_sunset(raw)} but is not deprecated: removing it stays breaking"
    if raw is _NONE:
        return f"without an {SUNSET} date, removing it stays breaking"
    day = _sunset_date(raw)
    if day is None:
        return f"its {SUNSET} {_shown_sunset(raw)} is not a YYYY-MM-DD date: removing it stays breaking"
    if day <= today:
        return f"its {SUNSET} {day} is not in the future: clients get no notice before it may be removed"
    return f"it may be removed from {day} on"


def _type_breaks(old: frozenset[str], new: frozenset[str], direction: str) -> bool:
    """Requests must accept every old type; responses must return only old types. integer fits in number."""
    accepting, produced = (new, old) if direction == REQUEST else (old, new)
    if not accepting:
        return False
    if not produced:
        return True
    return any(t not in accepting and not (t == "integer" and "number" in accepting) for t in produced)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "string")


def _show(types: frozenset[str]) -> str:
    return " | ".join(sorted(types)) if types else "any"


def _values(values: set[str]) -> str:
    return ", ".join(sorted(values))
