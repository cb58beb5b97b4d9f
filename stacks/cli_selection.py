"""Which stacks the CDK CLI that runs this app was asked for, so a stack name the app does not build fails loudly.

The app builds one stack per run, from its -c flags. `npx cdk destroy llm-mixtral-8x7b` without `-c model=mixtral`
builds llm-mistral-7b (the default), and the CLI then prints "No stacks match" and exits 0: a destroy that destroyed
nothing looks like success. The CLI passes the app no stack names (only context and an output folder in its
environment), so this module reads them from the command line of the CLI process that started the app: an ancestor
process (the CLI runs the app through a shell). Which CLI options take a value comes from the pinned CLI's own option
registry (node_modules/aws-cdk/lib/cli/cli-type-registry.json), so a positional stack name is told from an option's
value exactly as the CLI tells them.

Best effort by design: when the CLI's command line cannot be read (no /proc and no `ps`, another CLI layout), the
check is skipped and the CLI behaves as before.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLI_OPTION_REGISTRY = Path(__file__).resolve().parent.parent / "node_modules/aws-cdk/lib/cli/cli-type-registry.json"
# The commands whose stack names select from what the app builds (`cdk ls` lists what it builds, so is left out).
SELECTING_COMMANDS = frozenset({"deploy", "destroy", "diff", "synth", "synthesize", "watch", "drift"})
MAX_ANCESTORS = 6  # app <- shell <- node cdk (<- npx <- npm exec ...): the CLI is within the first few


@dataclass(frozen=True)
class CliRequest:
    """What the user asked the CDK CLI: the command and the stack name patterns (empty: the app's one stack)."""

    command: str
    patterns: tuple[str, ...]
    all_stacks: bool


def requested_stacks(
    environ: Mapping[str, str] | None = None,
    read_argv: Callable[[int], tuple[int, list[str]] | None] | None = None,
    registry_path: Path = CLI_OPTION_REGISTRY,
) -> CliRequest | None:
    """The request of the CDK CLI this process runs under; None outside the CLI or when it cannot be read."""
    environ = os.environ if environ is None else environ
    if "CDK_CLI_VERSION" not in environ:  # set by the CLI for the app it runs: not under the CLI, nothing to check
        return None
    try:
        options = json.loads(registry_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    read_argv = read_argv or _read_process
    pid = os.getppid()
    for _ in range(MAX_ANCESTORS):
        found = read_argv(pid)
        if found is None:
            return None
        parent, argv = found
        request = parse_cli_argv(argv, options)
        if request is not None:
            return request
        if parent <= 1:
            return None
        pid = parent
    return None


def parse_cli_argv(argv: Sequence[str], options: Mapping[str, Any]) -> CliRequest | None:
    """The request in ``argv`` if it is the CDK CLI's command line (``node .../cdk COMMAND ...`` or ``cdk COMMAND``)."""
    start = next((i + 1 for i, arg in enumerate(argv[:3]) if Path(arg).name == "cdk"), None)
    if start is None:
        return None
    global_options = options.get("globalOptions", {})
    args = list(argv[start:])
    command, rest = _first_positional(args, _valued(global_options))
    if command is None:
        return None
    spec = options.get("commands", {}).get(command, {})
    command = next((name for name, c in options.get("commands", {}).items() if command in c.get("aliases", [])), command)
    valued = _valued({**global_options, **spec.get("options", {})})
    patterns: list[str] = []
    all_stacks = False
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            patterns += rest[i + 1 :]
            break
        if arg.startswith("-"):
            name = arg.lstrip("-").split("=", 1)[0]
            all_stacks = all_stacks or name == "all"
            if name in valued and "=" not in arg:
                i += 1  # its value
        else:
            patterns.append(arg)
        i += 1
    return CliRequest(command=command, patterns=tuple(patterns), all_stacks=all_stacks)


def _valued(options: Mapping[str, Any]) -> set[str]:
    """The names and aliases of options that take a value (every option but a boolean one)."""
    names: set[str] = set()
    for name, option in options.items():
        if option.get("type") != "boolean":
            aliases = option.get("alias", [])
            names |= {name, *([aliases] if isinstance(aliases, str) else aliases)}
    return names


def _first_positional(args: list[str], valued: set[str]) -> tuple[str | None, list[str]]:
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            return arg, args[i + 1 :]
        if arg.lstrip("-").split("=", 1)[0] in valued and "=" not in arg:
            i += 1
        i += 1
    return None, []


def unmatched(request: CliRequest | None, stack_name: str) -> list[str]:
    """The patterns of ``request`` that select nothing when the app builds only ``stack_name``, if none selects it."""
    if request is None or request.command not in SELECTING_COMMANDS or request.all_stacks or not request.patterns:
        return []
    if any(fnmatch.fnmatchcase(stack_name, pattern) for pattern in request.patterns):
        return []
    return list(request.patterns)


def _read_process(pid: int) -> tuple[int, list[str]] | None:
    """(parent pid, argv) of ``pid``: /proc on Linux, `ps` elsewhere (macOS); None if neither answers."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            stat = (proc / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return parent, [arg for arg in argv if arg]
    if sys.platform == "win32":
        return None
    try:
        out = subprocess.run(
            ["ps", "-o", "ppid=", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, check=True, timeout=5
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), out[1:]) if out and out[0].isdigit() else None


def selection_error(request: CliRequest, stack_name: str, model_names: Sequence[str]) -> str:
    """One message for a stack name the app does not build: what it builds instead and the flags that build the other."""
    pattern = unmatched(request, stack_name)[0]
    endpoint = pattern.removeprefix("llm-")
    flags = f"-c model={endpoint}" if endpoint in model_names else f"-c endpoint={endpoint} -c model=MODEL"
    return (
        f"error: cdk {request.command} {' '.join(request.patterns)}: this app builds one stack per run, from its -c flags,"
        f" and these flags build {stack_name}, not {pattern}; nothing was {_done(request.command)}\n"
        f"  fix: give the flags the stack was deployed with, e.g. npx cdk {request.command} {flags}"
        " (or -c deployment=FILE); the stack name is then optional"
    )


def _done(command: str) -> str:
    return {"destroy": "destroyed", "deploy": "deployed", "diff": "compared", "watch": "watched"}.get(command, "synthesized")
