"""Pulumi.yaml and Pulumi.<stack>.yaml, read the way the Pulumi CLI reads them, so the offline run hands the program
the strings `pulumi up` would.

What the CLI does (pulumi/pulumi: sdk/go/common/workspace/loaders.go LoadProjectStackBytes,
sdk/go/common/resource/config/value.go and object.go; gopkg.in/yaml.v3 v3.0.1 resolve.go, decode.go, encode.go): it
drops a UTF-8 byte order mark, parses the file with yaml.v3 into untyped values (a key set twice in one mapping, or a
key that is not text, is an error), prefixes keys that have no `:` with the project name, writes the document back
out as YAML and parses that into config values. The program receives (pulumi-language-python passes the map as JSON
in PULUMI_CONFIG) text as written; booleans and numbers as JSON (`True` is "true", `1e3` is "1000", `-0.0` is "0");
lists and maps as compact JSON with sorted keys; no value (`key:`, `~`, `null`) as "".

yaml.v3 is not a YAML 1.2 reader everywhere: a leading 0 still means octal (`070` is 56), `_` is dropped from numbers
(`1_000` is 1000), `0b101` is 5, `-0x1F` is -31, and an unquoted date becomes a timestamp that reaches the program as
Go's rendering of it (`2024-06-01` is "2024-06-01 00:00:00 +0000 UTC"), where YAML 1.2's core schema reads 70 and the
texts "1_000", "0b101", "-0x1F", "2024-06-01". A scalar that two readers read differently is refused here, with its
line, as are the numbers the CLI cannot pass at all (.inf, .nan): a stack file that the offline run accepts means the
same to `pulumi up` and to any YAML 1.2 tool. YAML 1.1's yes/no/on/off and base-60 numbers are text to both.
ruamel.yaml parses (YAML 1.2 syntax; only its event stream is used, so nothing is constructed), and the scalar rules
of both readers are written out below.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ops.errors import OpsError

MAX_YAML_VALUES = 10_000
"""Values in a stack file, counted after alias expansion: the committed ones hold about 30."""
MAX_YAML_DEPTH = 64

_TAG_STR = "tag:yaml.org,2002:str"
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")  # yaml.v3's and YAML 1.2's
_CLI_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("true", "True", "TRUE"), ("bool", True)),
    **dict.fromkeys(("false", "False", "FALSE"), ("bool", False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), ("null", None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), ("float", math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), ("float", math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), ("float", -math.inf)),
}
# The formats yaml.v3 tries for a timestamp (Go's time.Parse layouts "2006-1-2T15:4:5.999999999Z07:00", the same
# with a lower-case t, "2006-1-2 15:4:5.999999999" and "2006-1-2").
_NN = "([0-9]{1,2})"  # Go time.Parse reads 1 or 2 digits for a month, day, hour, minute, second
_TIMESTAMP = re.compile(rf"^([0-9]{{4}})-{_NN}-{_NN}(?:(?:[Tt]{_NN}:{_NN}:{_NN}(?:[.,]([0-9]+))?"
                        r"(Z|[+-][0-9]{2}:[0-9]{2}))|(?: +"
                        rf"{_NN}:{_NN}:{_NN}(?:[.,]([0-9]+))?))?$")


def project_name(project_dir: Path) -> str:
    return _project_file(project_dir)[0]


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The stack file's config as the engine hands it to the program: namespaced keys, string values (see above).
    Anything the CLI would refuse, read at random, or read differently from YAML 1.2 raises OpsError with the file
    and line; so do encrypted values, which an offline run cannot decrypt."""
    project, config_dir = _project_file(project_dir)
    folder = project_dir / config_dir if config_dir else project_dir
    path = folder / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise OpsError(f"no stack file {path.name} in {folder}")
    return _StackFile(path.name).config(_parse_yaml(path), project)


def _project_file(project_dir: Path) -> tuple[str, str | None]:
    """Pulumi.yaml's project name and stackConfigDir (where the CLI looks for the stack files)."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise OpsError(f"no Pulumi.yaml in {project_dir}")
    reader = _StackFile(path.name)
    document = _parse_yaml(path)
    if not isinstance(document, _Yaml) or document.kind != "map":
        raise reader.fail(document.line if document else 1, "a project file must be a mapping with a `name`")
    values: dict[str, Any] = {}
    for key_node, value_node, key in reader.pairs(document):
        if key == "config":
            raise reader.fail(key_node.line, "project-level `config` is not applied by the offline run; set those "
                                             "keys in the stack files (Pulumi.<stack>.yaml) instead")
        values[key] = reader.value(value_node, key)
    name, config_dir = values.get("name"), values.get("stackConfigDir")
    if not isinstance(name, str) or not name:
        raise reader.fail(document.line, "a project file needs a `name` that is text")
    if config_dir is not None and not isinstance(config_dir, str):
        raise reader.fail(document.line, "`stackConfigDir` must be a folder name")
    return name, config_dir


@dataclass
class _Yaml:
    """A parsed YAML node: a scalar (`text`, `plain` when untagged and unquoted), a sequence (`items`) or a
    mapping (`items`, as key/value pairs). Aliases point at the node they name; nothing is copied."""

    kind: str
    line: int
    text: str = ""
    plain: bool = False
    items: list = field(default_factory=list)


@dataclass
class _Alias:
    target: _Yaml
    line: int


def _parse_yaml(path: Path) -> _Yaml | None:
    """The first document of PATH as nodes, or None when it is empty; every problem is one line naming the file
    and the line."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OpsError(f"cannot read {path.name}: {error.strerror}") from None
    return _compose(_decode(data, path.name), path.name)


def _decode(data: bytes, name: str) -> str:
    """Text as the CLI reads it: Pulumi drops a UTF-8 byte order mark and yaml.v3 reads UTF-16 with a byte order
    mark; anything else must be UTF-8."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise OpsError(f"{name} starts as UTF-16 text but is not; save the file as UTF-8") from None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise OpsError(f"{name} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8"
                       ) from None


def _compose(text: str, name: str) -> _Yaml | None:
    from ruamel.yaml import YAML, events
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    def fail(line: int, problem: str) -> OpsError:
        return OpsError(f"{name} line {line}: {problem}")

    anchors: dict[str, _Yaml] = {}
    open_anchors: set[str] = set()
    open_nodes: list[tuple[_Yaml, str | None]] = []
    root: _Yaml | None = None
    documents = values = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            line = event.start_mark.line + 1
            if isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise fail(line, "more than one YAML document (---); the Pulumi CLI reads only the first, so "
                                     "keep one")
                continue
            if isinstance(event, events.CollectionEndEvent):
                node, anchor = open_nodes.pop()
                open_anchors.discard(anchor)
                if node.kind == "map":
                    node.items = list(zip(node.items[0::2], node.items[1::2], strict=True))
                done: _Yaml | _Alias = node
            elif isinstance(event, events.AliasEvent):
                if event.anchor in open_anchors:
                    raise fail(line, f"the alias *{event.anchor} refers to &{event.anchor} from inside itself")
                if event.anchor not in anchors:
                    raise fail(line, f"the alias *{event.anchor} has no anchor &{event.anchor} before it")
                done = _Alias(anchors[event.anchor], line)
            elif isinstance(event, events.NodeEvent):
                values += 1
                if values > MAX_YAML_VALUES:
                    raise fail(line, f"more than {MAX_YAML_VALUES} values; a stack file needs far fewer")
                if isinstance(event, events.ScalarEvent):
                    if event.tag not in (None, "!", _TAG_STR):
                        raise fail(line, f"the tag {_short_tag(event.tag)} is not supported in stack files (only "
                                         "!!str); remove it, or quote the value for text")
                    done = _Yaml("scalar", line, text=event.value, plain=event.tag is None and event.style is None)
                else:
                    kind = "map" if isinstance(event, events.MappingStartEvent) else "seq"
                    if event.tag is not None and event.tag != f"tag:yaml.org,2002:{kind}":
                        raise fail(line, f"the tag {_short_tag(event.tag)} is not supported in stack files")
                    if len(open_nodes) >= MAX_YAML_DEPTH:
                        raise fail(line, f"values nest deeper than {MAX_YAML_DEPTH} levels")
                    node = _Yaml(kind, line)
                    open_nodes.append((node, event.anchor))
                    if event.anchor:
                        anchors[event.anchor] = node
                        open_anchors.add(event.anchor)
                    continue
                if event.anchor:
                    anchors[event.anchor] = done
            else:
                continue
            if open_nodes:
                open_nodes[-1][0].items.append(done)
            else:
                root = done if isinstance(done, _Yaml) else done.target
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(str(error.problem or error.context).split())
        context = error.context_mark
        if error.context and context is not None and mark is not None and context.line != mark.line:
            problem += f" ({' '.join(error.context.split())} that starts on line {context.line + 1})"
        raise fail(mark.line + 1 if mark else 1, problem) from None
    except YAMLError as error:
        position = getattr(error, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else 1
        problem = " ".join(str(getattr(error, "reason", "") or error).split()).split(" in \"<unicode string>\"")[0]
        raise fail(line, problem) from None
    return root


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


class _StackFile:
    """Turns parsed nodes into what the CLI hands the program, refusing what it would refuse or read differently
    from YAML 1.2. Aliases are followed, up to MAX_YAML_VALUES values in all, so a billion laughs stops early."""

    def __init__(self, name: str):
        self.name = name
        self.visits = 0

    def fail(self, line: int, problem: str) -> OpsError:
        return OpsError(f"{self.name} line {line}: {problem}")

    def config(self, document: _Yaml | None, project: str) -> dict[str, str]:
        if document is None or (document.kind == "scalar" and self.value(document, "") is None):
            return {}
        if document.kind != "map":
            raise self.fail(document.line, "a stack file must be a mapping (of `config`, `secretsprovider`, ...)")
        config_node = None
        for key_node, value_node, key in self.pairs(document):
            if key == "environment":
                raise self.fail(key_node.line, "`environment` imports Pulumi ESC environments, which the offline run "
                                               "cannot open; set the keys in `config` to check them offline")
            if key == "config":
                config_node = value_node.target if isinstance(value_node, _Alias) else value_node
            else:
                self.value(value_node, key)
        if config_node is None or (config_node.kind == "scalar" and self.value(config_node, "config") is None):
            return {}
        if config_node.kind != "map":
            raise self.fail(config_node.line, "`config` must be a mapping of keys to values")
        config: dict[str, str] = {}
        lines: dict[str, int] = {}
        for key_node, value_node, key in self.pairs(config_node, unique=False):
            full_key = self.config_key(key if ":" in key else f"{project}:{key}", key_node.line)
            if full_key in lines:
                raise self.fail(key_node.line, f"config key `{full_key}` is already set on line {lines[full_key]}")
            lines[full_key] = key_node.line
            config[full_key] = _program_text(self.value(value_node, full_key))
        return config

    def config_key(self, key: str, line: int) -> str:
        """Pulumi's config.ParseKey: `namespace:name`, or the old `namespace:config:name`."""
        parts = key.split(":")
        if len(parts) == 2:
            return key
        if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
            return f"{parts[0]}:{parts[2]}"
        raise self.fail(line, f"`{key}` is not a config key: the Pulumi CLI takes `namespace:name` (or the old "
                              "`namespace:config:name`)")

    def pairs(self, node: _Yaml, unique: bool = True):
        """(key node, value node, key) for each entry; keys must be text, once each (yaml.v3 compares them as
        written), and merge keys are refused: the CLI merges them, YAML 1.2 has none."""
        seen: dict[str, int] = {}
        for key_node, value_node in node.items:
            key = key_node.target if isinstance(key_node, _Alias) else key_node
            if key.kind != "scalar":
                raise self.fail(key_node.line, "keys must be text, not a list or a mapping")
            if key.plain and key.text == "<<":  # yaml.v3 isMerge: by the text, not by resolve
                raise self.fail(key_node.line, "merge keys (<<) are not supported: the Pulumi CLI merges them but "
                                               "YAML 1.2 does not; write the keys out")
            if key.plain:
                cli = _cli_scalar(key.text)
                if cli[0] != "str" or _core_scalar(key.text)[0] != "str":
                    raise self.fail(key_node.line, f"keys must be text: `{key.text}` is {_describe(cli)} to the "
                                                   "Pulumi CLI; quote it")
            if unique and key.text in seen:
                raise self.fail(key_node.line, f"key `{key.text}` is already set on line {seen[key.text]}")
            seen[key.text] = key_node.line
            yield key_node, value_node, key.text

    def value(self, node: _Yaml | _Alias, where: str, via: int | None = None, depth: int = 0) -> Any:
        """The plain Python value the CLI reads (None, bool, int, float, str, list, dict); WHERE names it."""
        if isinstance(node, _Alias):
            return self.value(node.target, where, via or node.line, depth)
        self.visits += 1
        if self.visits > MAX_YAML_VALUES:
            raise self.fail(via or node.line, f"aliases expand this file to more than {MAX_YAML_VALUES} values; a "
                                              "stack file needs far fewer, so write them out")
        if depth > MAX_YAML_DEPTH:
            raise self.fail(via or node.line, f"values nest deeper than {MAX_YAML_DEPTH} levels")
        if node.kind == "scalar":
            return self.scalar(node, where, via or node.line)
        if node.kind == "seq":
            return [self.value(item, f"{where}[{index}]", via, depth + 1) for index, item in enumerate(node.items)]
        mapping = {key: self.value(value_node, f"{where}.{key}", via, depth + 1)
                   for _, value_node, key in self.pairs(node)}
        if list(mapping) == ["secure"] and isinstance(mapping["secure"], str):
            raise OpsError(f"config `{where}` in {self.name} is encrypted; an offline run cannot decrypt it")
        return mapping

    def scalar(self, node: _Yaml, where: str, line: int) -> Any:
        if not node.plain:  # quoted, a block scalar, or tagged !!str: text to every reader
            return node.text
        kind, value = cli = _cli_scalar(node.text)
        if kind == "float" and not math.isfinite(value):
            raise self.fail(line, f"`{where}: {node.text}` is not a finite number, and the Pulumi CLI cannot pass "
                                  "one to the program (JSON has no infinity or NaN)")
        core = _core_scalar(node.text)
        if not _same_value(cli, core):
            raise self.fail(line, f"`{where}: {node.text}` is {_describe(cli)} to the Pulumi CLI but "
                                  f"{_describe(core)} in YAML 1.2; quote it if you mean text, or write a number in "
                                  "plain decimal")
        return value


def _cli_scalar(text: str) -> tuple[str, Any]:
    """How yaml.v3 v3.0.1 (resolve.go `resolve`) reads an untagged plain scalar: ("null"|"bool"|"int"|"float"|
    "str"|"timestamp", value); a timestamp's value says how the program would receive it."""
    hint = "N" if not text else ("M" if text[0] in "yYnNtTfFoO~" else "D" if text[0].isdigit() and text[0].isascii()
                                 else "S" if text[0] in "+-" else "." if text[0] == "." else "")
    if not hint:
        return "str", text
    if text in _CLI_WORDS:
        return _CLI_WORDS[text]
    if hint == "M":
        return "str", text
    if hint == ".":
        number = _go_float(text) if re.match(r"^\.[0-9]+([eE][-+]?[0-9]+)?$", text) else None
        return ("float", number) if number is not None else ("str", text)
    stamp = _go_timestamp(text)
    if stamp is not None:
        return "timestamp", stamp
    plain = text.replace("_", "")
    for parse in (_go_parse_int, _go_parse_uint):
        number = parse(plain)
        if number is not None:
            return "int", number
    if _YAML_FLOAT.match(plain):
        number = _go_float(plain)
        if number is not None:
            return "float", number
    # yaml.v3 then tries 0b/0o prefixes again, which strconv.ParseInt's base-0 prefixes above already read.
    return "str", text


def _core_scalar(text: str) -> tuple[str, Any]:
    """How YAML 1.2's core schema (spec 1.2.2, section 10.3.2, tag resolution) reads an untagged plain scalar."""
    if text in ("", "~", "null", "Null", "NULL"):
        return "null", None
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return "bool", text.lower() == "true"
    if re.match(r"^[-+]?[0-9]+$", text):
        return "int", int(text)
    if re.match(r"^0o[0-7]+$", text):
        return "int", int(text[2:], 8)
    if re.match(r"^0x[0-9a-fA-F]+$", text):
        return "int", int(text[2:], 16)
    if _YAML_FLOAT.match(text):
        return "float", float(text)
    if re.match(r"^[-+]?(\.inf|\.Inf|\.INF)$", text):
        return "float", -math.inf if text.startswith("-") else math.inf
    if text in (".nan", ".NaN", ".NAN"):
        return "float", math.nan
    return "str", text


def _same_value(cli: tuple[str, Any], core: tuple[str, Any]) -> bool:
    numbers = ("int", "float")
    if cli[0] in numbers and core[0] in numbers:
        return cli[1] == core[1]
    return cli == core


def _describe(reading: tuple[str, Any]) -> str:
    kind, value = reading
    if kind == "null":
        return "no value"
    if kind == "str":
        return f'the text "{value}"'
    if kind == "timestamp":
        return value
    return _go_json(value)


def _go_parse_uint(text: str) -> int | None:
    """Go's strconv.ParseUint(text, 0, 64): 0x, 0o, 0b prefixes, a leading 0 for octal, no sign."""
    base, digits = 10, text
    if text.startswith("0"):
        prefixes = {"b": 2, "o": 8, "x": 16}
        if len(text) >= 3 and text[1].lower() in prefixes:
            base, digits = prefixes[text[1].lower()], text[2:]
        else:
            base, digits = 8, text[1:]
    if not text or not all(c.isascii() and c.isalnum() and int(c, 36) < base for c in digits):
        return None
    number = int(digits, base) if digits else 0
    return number if number < 2**64 else None


def _go_parse_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64)."""
    sign = -1 if text.startswith("-") else 1
    number = _go_parse_uint(text[1:] if text[:1] in ("+", "-") else text)
    if number is None or not -(2**63) <= sign * number < 2**63:
        return None
    return sign * number


def _go_float(text: str) -> float | None:
    """Go's strconv.ParseFloat on a decimal float: out of range is an error (yaml.v3 then reads text)."""
    number = float(text)
    return number if math.isfinite(number) else None


def _go_timestamp(text: str) -> str | None:
    """A timestamp to yaml.v3 (parseTimestamp): how the program receives it (Pulumi passes Go's time.String())."""
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.group(1, 2, 3))
    if match.group(4) is not None:
        clock, fraction, zone = match.group(4, 5, 6), match.group(7), match.group(8)
    elif match.group(9) is not None:
        clock, fraction, zone = match.group(9, 10, 11), match.group(12), "Z"
    else:
        clock, fraction, zone = ("0", "0", "0"), None, "Z"
    hour, minute, second = (int(g) for g in clock)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1] and hour < 24 and minute < 60 and second < 60):
        return None
    nanos = (fraction or "").ljust(9, "0")[:9].rstrip("0")
    rendered = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}{'.' + nanos if nanos else ''}"
    if zone == "Z":
        return f'the date "{rendered} +0000 UTC"'
    return f'a date-time (which Go renders like "{rendered} {zone.replace(":", "")} ...")'


def _go_json(value: Any) -> str:
    """Go's encoding/json.Marshal of the value, as Pulumi passes non-text config: compact, map keys sorted, <, >
    and & escaped, floats in Go's shortest form."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                              ("\u2029", "\\u2029")):
            text = text.replace(char, escaped)
        return text
    if isinstance(value, list):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    return "{" + ",".join(f"{_go_json(key)}:{_go_json(value[key])}" for key in sorted(value)) + "}"


def _go_json_float(number: float) -> str:
    """Go's JSON float: shortest digits, plain between 1e-6 and 1e21, else exponent form (1e+21, 1e-7). Zero is "0"
    (the CLI's YAML round trip turns -0.0 into the integer 0)."""
    if number == 0:
        return "0"
    digits = Decimal(repr(number)).normalize()
    if 1e-6 <= abs(number) < 1e21:
        return format(digits, "f")
    sign, figures, exponent = digits.as_tuple()
    mantissa = str(figures[0]) + ("." + "".join(map(str, figures[1:])) if len(figures) > 1 else "")
    power = exponent + len(figures) - 1
    return f"{'-' if sign else ''}{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}".replace("e-0", "e-")


def _program_text(value: Any) -> str:
    """A config value as the program receives it: text as is, no value as "", anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _go_json(value)
