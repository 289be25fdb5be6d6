"""The Pulumi CLI commands and flags that the workflows and docs may use, and a checker for command lines.

There is no Pulumi CLI on these machines, so each command's synopsis and option lines below are copied (descriptions
dropped) from the CLI reference, which is generated from the CLI's own cobra definitions:
https://www.pulumi.com/docs/iac/cli/commands/pulumi_<command>/ (e.g. .../pulumi_stack_export/). Flag notation is the
reference's: no type = boolean; `string[="true"]` = a value that may be omitted (`--refresh` alone is allowed, a
value must then be attached with `=`); any other type takes a value. `pulumi stack export --show-secrets` is a
boolean (the reference prints its default, `false`, where the type goes). Add a command here, from its reference
page, before a workflow or doc uses it."""

from __future__ import annotations

import re
from dataclasses import dataclass

REFERENCE = "https://www.pulumi.com/docs/iac/cli/commands/pulumi_{}/"

# "Options inherited from parent commands" (the root command's persistent flags).
GLOBAL_OPTIONS = """
      --color string
  -C, --cwd string
      --disable-integrity-checking
  -e, --emoji
  -Q, --fully-qualify-stack-names
      --logflow
      --logtostderr
      --memprofilerate int
      --non-interactive
      --otel-traces string
      --profiling string
      --tracing file:
  -v, --verbose int
  -h, --help
"""

# command path: (synopsis from the reference, its options)
COMMANDS: dict[str, tuple[str, str]] = {
    "preview": ("pulumi preview [url] [flags]", """
      --attach-debugger
  -c, --config stringArray
      --config-file string
      --config-path
  -d, --debug
      --diff
      --expect-no-changes
      --import-file string
  -j, --json
  -m, --message string
  -p, --parallel int32
      --policy-pack strings
      --policy-pack-config strings
  -r, --refresh string[="true"]
      --replace stringArray
      --show-config
      --show-policy-remediations
      --show-reads
      --show-replacement-steps
      --show-sames
      --show-secrets
  -s, --stack string
      --suppress-outputs
      --suppress-permalink string[="false"]
      --suppress-progress
  -t, --target stringArray
      --target-dependents
      --target-replace stringArray
"""),
    "up": ("pulumi up [template|url] [flags]", """
      --attach-debugger
  -c, --config stringArray
      --config-file string
      --config-path
      --continue-on-error
  -d, --debug
      --diff
      --expect-no-changes
  -j, --json
  -m, --message string
  -p, --parallel int32
      --policy-pack strings
      --policy-pack-config strings
  -r, --refresh string[="true"]
      --replace stringArray
      --secrets-provider string
      --show-config
      --show-full-output
      --show-policy-remediations
      --show-reads
      --show-replacement-steps
      --show-sames
  -f, --skip-preview
  -s, --stack string
      --suppress-outputs
      --suppress-permalink string[="false"]
      --suppress-progress
  -t, --target stringArray
      --target-dependents
      --target-replace stringArray
  -y, --yes
"""),
    "refresh": ("pulumi refresh [url] [flags]", """
      --clear-pending-creates
  -c, --config stringArray
      --config-file string
      --config-path
  -d, --debug
      --diff
  -x, --exclude stringArray
      --exclude-dependents
      --expect-no-changes
  -j, --json
  -m, --message string
  -p, --parallel int32
      --preview-only
      --run-program
      --show-replacement-steps
      --show-sames
      --skip-pending-creates
  -f, --skip-preview
  -s, --stack string
      --suppress-outputs
      --suppress-permalink string[="false"]
      --suppress-progress
  -t, --target stringArray
      --target-dependents
  -y, --yes
"""),
    "install": ("pulumi install [flags]", """
      --no-dependencies
      --no-plugins
      --parallel int
      --reinstall
      --use-language-version-tools
"""),
    "login": ("pulumi login [url] [flags]", """
  -c, --cloud-url string
      --default-org string
      --insecure
      --interactive
  -l, --local
      --oidc-expiration string
      --oidc-org string
      --oidc-team string
      --oidc-token string
      --oidc-user string
"""),
    "whoami": ("pulumi whoami [flags]", """
  -j, --json
  -v, --verbose
"""),
    "state unprotect": ("pulumi state unprotect [resource-urn]... [flags]", """
      --all
  -s, --stack string
  -y, --yes
"""),
    "cancel": ("pulumi cancel [stack-name] [flags]", """
  -s, --stack string
  -y, --yes
"""),
    "stack export": ("pulumi stack export [flags]", """
      --file string
      --show-secrets
  -s, --stack string
      --version string
"""),
    "stack history": ("pulumi stack history [flags]", """
      --full-dates
  -j, --json
      --page int
      --page-size int
      --show-secrets
  -s, --stack string
"""),
    "stack output": ("pulumi stack output [property-name] [flags]", """
  -j, --json
      --shell
      --show-secrets
  -s, --stack string
"""),
    "stack init": ("pulumi stack init [<org-name>/]<stack-name> [flags]", """
      --copy-config-from string
      --no-select
      --secrets-provider string
  -s, --stack string
      --teams stringArray
"""),
    "stack select": ("pulumi stack select [<stack>] [flags]", """
  -c, --create
      --secrets-provider string
  -s, --stack string
"""),
    "config": ("pulumi config [flags]", """
      --config-file string
  -j, --json
      --open
      --show-secrets
  -s, --stack string
"""),
    "config set": ("pulumi config set <key> [value] [flags]", """
      --path
      --plaintext
      --secret
      --type string
      --config-file string
  -s, --stack string
"""),
    "config set-all": ("pulumi config set-all [flags]", """
      --json string
      --path
      --plaintext stringArray
      --secret stringArray
      --config-file string
  -s, --stack string
"""),
    "config rm": ("pulumi config rm <key> [flags]", """
      --path
      --config-file string
  -s, --stack string
"""),
}

OPTION_LINE = re.compile(
    r"^\s*(?:-(?P<short>\w), )?--(?P<long>[\w-]+)(?: (?P<type>[^\s\[]+)(?P<optional>\[=\S+\])?)?\s*$"
)


@dataclass(frozen=True)
class Flag:
    name: str
    takes_value: bool  # the next word is its value
    optional_value: bool = False  # a value may follow only after `=`


def parse_options(block: str) -> dict[str, Flag]:
    """Option lines as in the reference -> {"--long": Flag, "-s": Flag}."""
    flags: dict[str, Flag] = {}
    for line in filter(str.strip, block.splitlines()):
        match = OPTION_LINE.match(line)
        if not match:
            raise ValueError(f"not an option line: {line!r}")
        optional = bool(match["optional"])
        flag = Flag(f"--{match['long']}", takes_value=bool(match["type"]) and not optional, optional_value=optional)
        flags[flag.name] = flag
        if match["short"]:
            flags[f"-{match['short']}"] = flag
    return flags


def positional_limits(synopsis: str) -> tuple[int, int]:
    """(required, at most) positional arguments from a synopsis such as `pulumi config set <key> [value] [flags]`."""
    words = [w for w in synopsis.split()[1:] if w != "[flags]" and not w.startswith("--")]
    words = [w for w in words if not re.fullmatch(r"[a-z-]+", w)]  # the command path itself
    optional = sum(1 for w in words if w.startswith("["))
    return len(words) - optional, len(words)


@dataclass(frozen=True)
class CommandSpec:
    path: tuple[str, ...]
    flags: dict[str, Flag]
    min_args: int
    max_args: int

    @property
    def reference(self) -> str:
        return REFERENCE.format("_".join(self.path))


GLOBAL_FLAGS = parse_options(GLOBAL_OPTIONS)
SPECS = {
    tuple(path.split()): CommandSpec(tuple(path.split()), {**GLOBAL_FLAGS, **parse_options(options)},
                                     *positional_limits(synopsis))
    for path, (synopsis, options) in COMMANDS.items()
}
PREFIXES = {spec.path[:n] for spec in SPECS.values() for n in range(1, len(spec.path) + 1)}


def _flag(token: str, flags: dict[str, Flag]) -> tuple[Flag | None, str | None]:
    """The flag a word names (None if unknown) and its attached value, if any (`--x=v`, `-sdev`)."""
    if token.startswith("--"):
        name, _, value = token.partition("=")
        return flags.get(name), (value if "=" in token else None)
    flag = flags.get(token[:2])
    attached = token[2:] or None
    if attached and attached.startswith("="):
        attached = attached[1:]
    return flag, attached


def check(argv: tuple[str, ...] | list[str], name_only_ok: bool = True) -> list[str]:
    """Problems with `pulumi ARGV` (empty when it parses). A bare command path (no flags, no arguments) is accepted
    as the command's name when `name_only_ok`, as prose writes `pulumi config rm`."""
    if not argv:
        return []
    words, i, path = list(argv), 0, ()
    while i < len(words) and words[i].startswith("-"):  # global flags may come before the command path
        flag, attached = _flag(words[i], GLOBAL_FLAGS)
        if flag is None:
            return [f"unknown flag {words[i]} before the command (only global flags go there)"]
        i += 2 if flag.takes_value and attached is None else 1
    while i < len(words) and (*path, words[i]) in PREFIXES:
        path, i = (*path, words[i]), i + 1
    rest = words[i:]
    spec = SPECS.get(path)
    if spec is None:
        return [f"`pulumi {' '.join(words[: i + 1])}` is not a command in tests/workflows/pulumi_cli.py"]
    return _check_rest(spec, rest, name_only_ok and not rest)


def _check_rest(spec: CommandSpec, rest: list[str], name_only: bool) -> list[str]:
    problems, positionals, i, flags_done = [], 0, 0, False
    while i < len(rest):
        word = rest[i]
        if word == "--" and not flags_done:
            flags_done = True
        elif word.startswith("-") and word != "-" and not flags_done:
            flag, attached = _flag(word, spec.flags)
            if flag is None:
                problems.append(f"unknown flag {word} for `pulumi {' '.join(spec.path)}` (see {spec.reference})")
            elif flag.takes_value and attached is None:
                if i + 1 >= len(rest):
                    problems.append(f"flag {word} needs a value")
                i += 1
            elif not flag.takes_value and not flag.optional_value and attached not in (None, "true", "false"):
                problems.append(f"flag {word} takes no value")
        else:
            positionals += 1
        i += 1
    if positionals > spec.max_args:
        problems.append(f"`pulumi {' '.join(spec.path)}` takes at most {spec.max_args} argument(s), got {positionals}")
    if positionals < spec.min_args and not name_only:
        problems.append(f"`pulumi {' '.join(spec.path)}` needs {spec.min_args} argument(s), got {positionals}")
    return problems
