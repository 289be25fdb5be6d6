"""Finds every `python -m ops ...` and `pulumi ...` command written in the workflows' `run:` blocks and in markdown
(fenced code blocks and inline code), as the argument lists the tools would receive.

Shell text is tokenized with `shlex` in POSIX mode with shell punctuation, so quoted strings stay one word (an
`echo "pulumi up"` is not a command), operators (`;`, `&&`, `|`, `(`, ...) start a new command, comments end a line,
and `$(...)` inside a double-quoted word is scanned too. Backslash-newline continuations are joined first, GitHub's
`${{ ... }}` expressions become a placeholder word, and heredoc bodies are skipped.

Markdown may hold usage synopses (`python -m ops history -s STACK [--json] [--limit N]`, `--wait/--no-wait`,
`--plaintext|--secret`): each optional group and each alternative is expanded into its own variant, so every flag
written is checked in context without combining flags that exclude each other.

Placeholders (a `${{ }}` expression, a shell variable, an UPPERCASE or <angle> word) stand for a value; they are
replaced by "1", which every argument of both CLIs accepts as a value (string, path, int or float)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PLACEHOLDER_VALUE = "1"
GHA_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)
FD_REDIRECT = re.compile(r"(?<![\w$])\d+(?=[<>])")  # the 2 of 2>&1
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
OPERATOR_CHARS = set("();<>|&")
COMMAND_PREFIX_WORDS = {"if", "then", "elif", "else", "do", "while", "until", "time", "exec", "!", "{"}
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
PLACEHOLDER = re.compile(r"^(GHA_EXPR|\$\w+|\$\{[^}]*\}|[A-Z][A-Z0-9_]*|<[^<>]+>)$")
SYNOPSIS_GROUP = re.compile(r"\s*\[(-[^\[\]]*)\]")
SYNOPSIS_ALTERNATIVES = re.compile(r"(?<!\S)(--?[\w-]+)((?:[|/]--?[\w-]+)+)(?!\S)")
ANGLE_PLACEHOLDER = re.compile(r"<[\w.-]+>")
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
SHELL_FENCES = {"", "sh", "bash", "shell", "console", "zsh", "text"}


@dataclass(frozen=True)
class Command:
    """One command found: which tool, the arguments after `pulumi` / `python -m ops`, where, and how written."""

    tool: str  # "pulumi" or "ops"
    argv: tuple[str, ...]
    source: str
    text: str
    prose: bool = False  # inline code in running text: a bare command path there names the command

    def __str__(self) -> str:
        name = "python -m ops" if self.tool == "ops" else "pulumi"
        return f"{self.source}: {name} {' '.join(self.argv)}".rstrip()


@dataclass
class _Scan:
    source: str
    prose: bool
    found: list[Command] = field(default_factory=list)


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""  # `#` starts a comment only at the start of a word, handled in _walk
    return list(lexer)


def _is_operator(token: str) -> bool:
    return bool(token) and set(token) <= OPERATOR_CHARS


def _tool_at(tokens: list[str], i: int) -> tuple[str, int] | None:
    """(tool, index of its first argument) if the command starting at tokens[i] runs pulumi or python -m ops."""
    word = tokens[i]
    if word == "pulumi" or word.endswith("/pulumi"):
        return "pulumi", i + 1
    if word.rsplit("/", 1)[-1] in ("python", "python3") and tokens[i + 1 : i + 3] == ["-m", "ops"]:
        return "ops", i + 3
    return None


def _substitutions(token: str) -> list[str]:
    """The bodies of the `$(...)` in a word, to be scanned as commands of their own."""
    bodies, start = [], token.find("$(")
    while start != -1:
        depth, end = 0, start + 1
        for end in range(start + 1, len(token)):
            depth += {"(": 1, ")": -1}.get(token[end], 0)
            if depth == 0:
                break
        bodies.append(token[start + 2 : end])
        start = token.find("$(", end)
    return bodies


def _walk(tokens: list[str], scan: _Scan, text: str) -> None:
    at_start = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("#"):
            return
        if "$(" in token and not _is_operator(token):
            for body in _substitutions(token):
                _walk(_tokens(body), scan, text)
        if _is_operator(token):
            at_start = True
        elif at_start and (token in COMMAND_PREFIX_WORDS or ASSIGNMENT.match(token)):
            pass
        elif at_start and (hit := _tool_at(tokens, i)):
            tool, first = hit
            end = first
            while end < len(tokens) and not _is_operator(tokens[end]) and not tokens[end].startswith("#"):
                end += 1
            argv = tuple(PLACEHOLDER_VALUE if PLACEHOLDER.match(t) else t for t in tokens[first:end] if t != "...")
            scan.found.append(Command(tool, argv, scan.source, text.strip(), scan.prose))
            i, at_start = end, False
            continue
        else:
            at_start = False
        i += 1


def _logical_lines(script: str) -> list[tuple[int, str]]:
    """(first line number, text) per logical line: continuations joined, multi-line quotes kept together,
    heredoc bodies dropped."""
    lines = script.replace("\\\r\n", " ").split("\n")
    result: list[tuple[int, str]] = []
    number, pending, start, heredoc_end = 0, "", 0, None
    for number, line in enumerate(lines, start=1):
        if heredoc_end is not None:
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        if not pending:
            start = number
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        try:
            _tokens(pending)
        except ValueError:  # an open quote: the word goes on on the next line
            pending += "\n"
            continue
        if match := HEREDOC.search(pending):
            heredoc_end = match.group(2)
        result.append((start, pending))
        pending = ""
    if pending:
        result.append((start, pending))
    return result


def scan_shell(script: str, source: str, prose: bool = False, synopsis: bool = False, first_line: int = 1
               ) -> list[Command]:
    """Commands in a shell script. `synopsis`: expand usage notation first (markdown only; in a real script `[`
    and `|` mean test and pipe)."""
    scan = _Scan(source, prose)
    script = GHA_EXPRESSION.sub("GHA_EXPR", script)
    for number, line in _logical_lines(script):
        scan.source = source if prose else f"{source}:{first_line + number - 1}"
        if synopsis:  # markdown: `s3://<bucket>` is a placeholder, not a redirection
            line = ANGLE_PLACEHOLDER.sub(PLACEHOLDER_VALUE, line)
        for variant in expand_synopsis(line) if synopsis else [line]:
            variant = FD_REDIRECT.sub("", variant)
            try:
                tokens = _tokens(variant)
            except ValueError:  # prose in a text block with an apostrophe: plain words are good enough there
                tokens = variant.split()
            _walk(tokens, scan, variant)
    return _unique(scan.found)


def expand_synopsis(text: str) -> list[str]:
    """A usage line as runnable variants: without the optional groups, then with each group's each alternative,
    then with each inline alternative (`--a|--b`, `--a/--b`) in turn."""
    groups = [(m.start(), m.end(), [a.strip() for a in m.group(1).split("|")]) for m in SYNOPSIS_GROUP.finditer(text)]

    def without_groups(insert_at: int | None = None, insertion: str = "") -> str:
        out, last = [], 0
        for start, end, _ in groups:
            out.append(text[last:start])
            if start == insert_at:
                out.append(" " + insertion)
            last = end
        out.append(text[last:])
        return "".join(out)

    base = without_groups()
    variants = [base]
    for start, _, alternatives in groups:
        variants += [without_groups(start, alternative) for alternative in alternatives]
    expanded = []
    for variant in variants:
        match = SYNOPSIS_ALTERNATIVES.search(variant)
        if not match:
            expanded.append(variant)
            continue
        options = [match.group(1), *re.findall(r"--?[\w-]+", match.group(2))]
        expanded += [variant[: match.start()] + option + variant[match.end() :] for option in options]
    return list(dict.fromkeys(expanded))


def scan_markdown(text: str, source: str) -> list[Command]:
    """Commands in fenced shell/console/untagged code blocks and in inline code that starts with a command."""
    found: list[Command] = []
    in_fence, fence, language, block, block_start = False, "", "", [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        match = FENCE.match(line)
        if match and not in_fence:
            in_fence, fence, language, block, block_start = True, match.group(1), match.group(2).lower(), [], number
            continue
        if in_fence and line.strip().startswith(fence):
            in_fence = False
            if language in SHELL_FENCES:
                found += scan_shell("\n".join(block), source, synopsis=True, first_line=block_start + 1)
            continue
        if in_fence:
            block.append(re.sub(r"^\s*\$ ", "", line))
            continue
        for code in INLINE_CODE.findall(line):
            code = re.sub(r"^\$ ", "", code.strip())
            if code.split(" ", 1)[0] in ("pulumi", "python", "python3"):
                found += scan_shell(code, f"{source}:{number}", prose=True, synopsis=True)
    return _unique(found)


def _unique(found: list[Command]) -> list[Command]:
    seen, result = set(), []
    for command in found:
        key = (command.source, command.tool, command.argv)
        if key not in seen:
            seen.add(key)
            result.append(command)
    return result


def scan_workflow(path: Path, root: Path) -> list[Command]:
    """Commands in every `run:` of every job of a workflow file."""
    document = yaml.safe_load(path.read_text())
    found = []
    for job_id, job in (document.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" in step:
                where = f"{path.relative_to(root)} (job {job_id}, step {step.get('name', index + 1)})"
                found += scan_shell(str(step["run"]), where)
    return _unique(found)
