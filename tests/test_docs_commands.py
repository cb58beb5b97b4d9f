"""Every shell command README.md and docs/*.md quote works, or at least parses, so the docs cannot drift from the code.

Commands come from ```bash/```sh blocks, from untagged blocks whose lines start with a project command, and from inline
`code` that starts with one. Each is classified by its first words and checked offline in the cheapest form that
still fails when the docs and the code disagree:

- `./tasks.sh TASK ...`: TASK is one of tasks.sh's; synth runs `--dry-run` (the cdk flags it builds) and its spec is
  validated as the app validates it, deploy-local runs its own `--dry-run`, plan runs for real (offline),
  plan-migration runs offline (without --live/--deploy), every other task's `--help` must exist.
- `npx cdk COMMAND ...`: COMMAND and each option are the pinned CLI's (its own option table); for app.py the -c flags
  must make a valid spec and any stack name must be the stack those flags build; another --app must exist.
- `python -m planner|migration ...`, `.venv/bin/python scripts/X.py ...` (its argument parser), `.venv/bin/python -c`
  (compiles), `.venv/bin/pytest PATH` (exists).
- Commands for other tools (aws, git, jq, export, ...) only need to parse: every block passes `bash -n`.

A command of another form fails `test_every_documented_command_is_classified` with the place it is quoted: add its
form to CHECKS (or EXTERNAL) below.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llm_config import load_registry
from llm_config.deployment import deployment_from_context
from routing.cli import parser as route_parser
from routing.router_spec import ROUTER_CONTEXT_KEYS
from stacks.cli_selection import CLI_OPTION_REGISTRY, CliRequest, unmatched
from tests.conftest import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PROJECT_COMMAND = re.compile(r"^(\./tasks\.sh |npx cdk |python -m |\.venv/bin/)")
# Tools of the user's machine or AWS account: the docs may quote them; the test only checks that they parse.
EXTERNAL = {"aws", "git", "jq", "export", "source", "cd", "curl", "pip", "head"}


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.words)}"


def _blocks(text: str) -> list[tuple[int, str, str]]:
    """(first line number, language, body) of each fenced block."""
    found = []
    for match in re.finditer(r"^[ \t]*```(\w*)[ \t]*\n(.*?)^[ \t]*```", text, re.S | re.M):
        found.append((text[: match.start()].count("\n") + 2, match.group(1), match.group(2)))
    return found


def _logical_lines(body: str, first_line: int) -> list[tuple[int, str]]:
    """The block's lines with backslash continuations joined, each with the number of its first line."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(body.splitlines(), start=first_line):
        start, text = pending or (number, "")
        if raw.rstrip().endswith("\\"):
            pending = (start, text + raw.rstrip()[:-1] + " ")
            continue
        pending = None
        lines.append((start, text + raw))
    return lines


def _simple_commands(line: str) -> list[tuple[str, ...]]:
    """The commands of one shell line, split at ; && || and |, without comments."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[tuple[str, ...]] = [()]
    try:
        for token in lexer:
            if token in (";", "&&", "||", "|"):
                commands.append(())
            else:
                commands[-1] += (token,)
    except ValueError as error:  # unbalanced quotes: reported as a command no check knows
        return [("<unparsable>", line, str(error))]
    return [words for words in commands if words]


def documented_commands() -> list[Command]:
    commands = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(REPO_ROOT)
        for first_line, language, body in _blocks(text):
            if language not in ("bash", "sh", "shell", ""):
                continue
            for line_number, line in _logical_lines(body, first_line):
                if language == "" and not PROJECT_COMMAND.match(line.strip()):
                    continue  # an output or YAML block
                for words in _simple_commands(line):
                    commands.append(Command(f"{name}:{line_number}", words))
        stripped = re.sub(r"^[ \t]*```.*?^[ \t]*```", "", text, flags=re.S | re.M)
        for match in re.finditer(r"`([^`\n]+)`", stripped):
            code = match.group(1)
            if PROJECT_COMMAND.match(code) and not code.endswith(("/", ".py")) and " " in code:
                line_number = text[: text.find(match.group(0))].count("\n") + 1
                for words in _simple_commands(code):
                    commands.append(Command(f"{name}:{line_number} (inline)", words))
    return commands


COMMANDS = documented_commands()


def _id(command: Command) -> str:
    return str(command)[:120]


# --- the checks, by form -------------------------------------------------------------------------------------------


def tasks_in_tasks_sh() -> set[str]:
    """The task names of tasks.sh's dispatch `case`."""
    text = (REPO_ROOT / "tasks.sh").read_text()
    dispatch = text[text.rindex('case "$task" in') :]
    return {name.strip() for label in re.findall(r"^  ([a-z|\- ]+)\)", dispatch, re.M) for name in label.split("|")}


def context_of(words: tuple[str, ...] | list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for i, word in enumerate(words):
        value = words[i + 1] if word in ("-c", "--context") and i + 1 < len(words) else None
        if word.startswith("--context="):
            value = word.removeprefix("--context=")
        if value is not None:
            key, _, text = value.partition("=")
            flags[key] = text
    return flags


PLACEHOLDER = re.compile(r"\.\.\.|<[^>]*>|^[A-Z][A-Z_/]*$")  # `-c model=...`, `<model>`, `ARN`, `OWNER/NAME`


def check_spec(flags: dict[str, str], names: list[str] | None = None) -> None:
    """The flags make the spec the app would build, and any stack name given selects that stack. Prose may write a
    placeholder for a value: then only the command's form is checked."""
    if any(PLACEHOLDER.search(value) for value in [*flags.values(), *(names or [])]):
        return
    if "router" in flags:  # a router's flags (routing/router_spec.py); its policy file is the user's
        assert set(flags) <= {*ROUTER_CONTEXT_KEYS, "region"}, f"not a router's flags: {sorted(flags)}"
        return
    spec = deployment_from_context(flags.get, {}, load_registry())
    if names:
        request = CliRequest("deploy", tuple(names), all_stacks=False)
        assert not unmatched(request, spec.stack_name), f"these flags build {spec.stack_name}, not {' '.join(names)}"


def run(args: list[str], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def check_tasks_sh(words: tuple[str, ...], tmp_path: Path) -> None:
    task, args = (words[1] if len(words) > 1 else "help"), list(words[2:])
    if PLACEHOLDER.search(task):  # `./tasks.sh TASK --help`
        return
    assert task in tasks_in_tasks_sh(), f"tasks.sh has no task {task!r}"
    if any(PLACEHOLDER.search(arg) for arg in args):  # `./tasks.sh synth <model>`: the task exists, that is all
        return
    if "--help" in args or "-h" in args:
        result = run(["bash", "tasks.sh", task, "--help"])
        assert result.returncode == 0 and "usage" in result.stdout.lower(), result.stdout + result.stderr
        return
    if task == "synth":
        result = run(["bash", "tasks.sh", "synth", "--dry-run", *args])
        assert result.returncode == 0, result.stderr
        cdk_words = shlex.split(result.stdout)
        check_spec(context_of(cdk_words))
    elif task == "deploy-local":
        from local_aws.rehearsal import main as rehearsal

        if "router" in context_of(args):  # its policy file is the user's (route calibrate writes it): the form only
            check_spec(context_of(args))
            return
        assert rehearsal(["deploy", *args, "--dry-run"]) == 0
    elif task == "plan":
        check_planner(args, tmp_path)
    elif task == "plan-migration":
        check_migration(["plan", *args])
    elif task == "help":
        assert run(["bash", "tasks.sh", "help"]).returncode == 0
    elif task == "evaluate":
        check_evaluate(args)
    elif task == "simulate":
        check_simulate(args)
    elif task == "bench":  # minutes of synths: its arguments must parse
        from scripts.bench_synth import arguments

        arguments().parse_args(args)
    elif task == "run-local":  # a client app of the emulator: the app's own check (it needs the emulator to run)
        assert args, "run-local needs a command"
        check_venv_python(tuple(args), tmp_path)
    elif task == "route":  # the flags parse (the files are the user's); bare `./tasks.sh route` names the task
        if args:
            route_parser().parse_args(args)
    else:
        assert not args, f"check {task}'s arguments: only its --help is run"
        result = run(["bash", "tasks.sh", task, "--help"])
        assert result.returncode == 0 and "usage" in result.stdout.lower(), result.stdout + result.stderr


def check_simulate(args: list[str]) -> None:
    """The simulator's arguments parse and its -c flags make a valid spec (running it is tests/test_simulator.py's)."""
    from simulator.cli import build_parser
    from simulator.config import load_deployment

    if not args:  # the command named in prose
        return
    parsed = build_parser().parse_args(args)
    load_deployment(parsed.context)
    for path in (parsed.trace, parsed.invocations):
        assert path is None or (REPO_ROOT / path).is_file() or "FILE" in str(path), f"{path} does not exist"


def check_evaluate(args: list[str]) -> None:
    """The harness needs endpoints: its arguments must parse, a test set of the repository load, each gate parse."""
    from evaluation import gate
    from evaluation.cli import parser as evaluate_parser
    from evaluation.testset import load_tests

    if not args:  # the command named in prose
        return
    parsed = evaluate_parser().parse_args(args)
    if (REPO_ROOT / parsed.tests).parent.is_dir() and str(parsed.tests).startswith("evaluation/"):
        load_tests(REPO_ROOT / parsed.tests)
    for condition in parsed.fail_if:
        gate.parse(condition)


def check_planner(args: list[str], tmp_path: Path) -> None:
    """The planner for real, in a scratch directory (a --chart FILE is written there)."""
    from planner.cli import main as planner

    if not args or any(PLACEHOLDER.search(arg) for arg in args):  # prose naming the tool (`./tasks.sh plan ARGS`)
        with pytest.raises(SystemExit, match=r"^0$"):
            planner(["--help"])
        return
    if "--chart" in args:
        (tmp_path / args[args.index("--chart") + 1]).parent.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert planner(args) == 0


def check_migration(args: list[str]) -> None:
    """Offline: the spec (and --previous) must be valid; --live and --deploy need AWS and are dropped. `check` reads
    the live stage (AWS): its spec must be valid, and the command must exist."""
    from migration.plan import main as migration

    if args[:1] == ["check"]:
        with pytest.raises(SystemExit, match=r"^0$"):
            migration(["check", "--help"])
        if "--deployment" in args and not PLACEHOLDER.search(args[args.index("--deployment") + 1]):
            deployment_from_context({"deployment": args[args.index("--deployment") + 1]}.get, {}, load_registry())
        return

    offline = [arg for arg in args if arg not in ("--live", "--deploy")]
    if "--previous" in offline:  # `git show HEAD~1:FILE > /tmp/previous.yaml` wrote it: compare the file with itself
        offline[offline.index("--previous") + 1] = offline[offline.index("--deployment") + 1]
    assert migration(offline) in (0, 1)  # 1: the documented step is refused, still a valid command


CLI_OPTIONS = json.loads(CLI_OPTION_REGISTRY.read_text())


def check_npx_cdk(words: tuple[str, ...], tmp_path: Path) -> None:
    command, rest = words[2], list(words[3:])
    commands = CLI_OPTIONS["commands"]
    assert command in commands, f"the CDK CLI has no command {command!r}"
    options = {**CLI_OPTIONS["globalOptions"], **commands[command].get("options", {})}
    known = {f"--{n}" for n in options} | {f"-{a}" for o in options.values() for a in _aliases(o)}
    known |= {f"--no-{n}" for n, o in options.items() if o.get("type") == "boolean"}
    positional: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            assert name in known, f"cdk {command} has no option {name}"
            option = options.get(name.lstrip("-")) or next(o for o in options.values() if name.lstrip("-") in _aliases(o))
            i += 1 if option.get("type") == "boolean" or "=" in word else 2
        else:
            positional.append(word)
            i += 1
    flags = context_of(rest)
    if "--app" in rest:
        app = shlex.split(rest[rest.index("--app") + 1])
        assert (REPO_ROOT / app[-1]).is_file(), f"--app names {app[-1]}, which does not exist"
    elif command == "bootstrap":
        assert all(re.fullmatch(r"aws://([A-Z_]+|[0-9]{12})/([A-Z]+|[a-z]+-[a-z]+-[0-9])", p) for p in positional), positional
    else:
        check_spec(flags, positional)


def _aliases(option: dict[str, Any]) -> list[str]:
    alias = option.get("alias", [])
    return [alias] if isinstance(alias, str) else list(alias)


def check_venv_python(words: tuple[str, ...], tmp_path: Path) -> None:
    if words[1] == "-c":
        compile(words[2], "<docs>", "exec")
    elif words[1] == "-m" and words[2] == "planner":
        check_planner(list(words[3:]), tmp_path)
    elif words[1] == "-m" and words[2] == "migration":
        check_migration(list(words[3:]))
    elif words[1] == "-m" and words[2] in ("planner.model_table", "planner.calibration"):  # offline, about a second
        result = run([".venv/bin/python", *words[1:]])
        assert result.returncode == 0 and result.stdout.startswith("|"), result.stdout + result.stderr
    elif words[1] == "-m" and words[2] == "local_aws.server":
        assert run([".venv/bin/python", "-m", "local_aws.server", "--help"]).returncode == 0
    elif words[1] == "-m" and words[2] == "evaluation":
        check_evaluate(list(words[3:]))
    elif words[1] == "-m" and words[2] == "simulator":
        check_simulate(list(words[3:]))
    elif words[1] == "-m" and words[2] == "simulator.capacity_doc":
        # Its --check runs a day of simulations: tests/test_capacity_doc.py does that once; here the command exists.
        assert run([".venv/bin/python", "-m", "simulator.capacity_doc", "--help"]).returncode == 0
    elif words[1] == "-m" and words[2] == "llm_client":
        from llm_client.__main__ import parser as client_parser

        client_parser().parse_args(list(words[3:]))
    elif words[1].startswith("examples/") and words[1].endswith(".py"):  # needs an endpoint: its --help must work
        assert (REPO_ROOT / words[1]).is_file(), f"{words[1]} does not exist"
        result = run([".venv/bin/python", words[1], "--help"])
        assert result.returncode == 0 and "usage" in result.stdout, result.stdout + result.stderr
    elif words[1] == "scripts/smoke_test.py":
        from scripts.smoke_test import parse_args

        parse_args(list(words[2:]))
    elif words[1].startswith("scripts/") and words[1].endswith(".py"):  # may need AWS: its --help must work
        assert (REPO_ROOT / words[1]).is_file(), f"{words[1]} does not exist"
        result = run([".venv/bin/python", words[1], "--help"])
        assert result.returncode == 0 and "usage" in result.stdout, result.stdout + result.stderr
    else:
        raise AssertionError(f"no check for `{shlex.join(words[:3])}`: add one to check_venv_python")


def check_pytest(words: tuple[str, ...], tmp_path: Path) -> None:
    paths = [w.split("::")[0] for w in words[1:] if not w.startswith("-")]
    assert paths and all((REPO_ROOT / p).exists() for p in paths), paths


def check_external(words: tuple[str, ...], tmp_path: Path) -> None:
    """Another tool's command: the block it is in must parse (test_every_block_parses)."""


CHECKS: list[tuple[Callable[[tuple[str, ...]], bool], Callable[[tuple[str, ...], Path], None]]] = [
    (lambda w: w[0] == "./tasks.sh", check_tasks_sh),
    (lambda w: w[:2] == ("npx", "cdk") and len(w) > 2, check_npx_cdk),
    (lambda w: w[0] in ("python", ".venv/bin/python") and len(w) > 2, check_venv_python),
    (lambda w: w[0] == ".venv/bin/pytest", check_pytest),
    (lambda w: w[0] in EXTERNAL or bool(re.match(r"^[A-Z_]+=", w[0])), check_external),
]


def check_for(command: Command) -> Callable[[tuple[str, ...], Path], None] | None:
    return next((check for matches, check in CHECKS if matches(command.words)), None)


def test_the_docs_quote_commands():
    assert len(COMMANDS) > 40
    assert any(c.words[:2] == ("./tasks.sh", "deploy-local") for c in COMMANDS)


def test_every_documented_command_is_classified():
    unknown = [str(c) for c in COMMANDS if check_for(c) is None]
    assert not unknown, (
        "commands of a form tests/test_docs_commands.py cannot check (add the form to CHECKS, or its tool to EXTERNAL"
        " if it needs AWS or another machine):\n  " + "\n  ".join(unknown)
    )


@pytest.mark.parametrize("command", [c for c in COMMANDS if check_for(c) not in (None, check_external)], ids=_id)
def test_documented_command_works_offline(command, tmp_path):
    check = check_for(command)
    assert check is not None
    try:
        check(command.words, tmp_path)
    except AssertionError as error:
        raise AssertionError(f"{command}\n{error}") from None
    except Exception as error:
        raise AssertionError(f"{command}\n{type(error).__name__}: {error}") from None


def test_every_block_parses():
    for path in DOCS:
        for first_line, language, body in _blocks(path.read_text(encoding="utf-8")):
            if language in ("bash", "sh", "shell"):
                result = run(["bash", "-n", "-c", body])
                assert result.returncode == 0, f"{path.relative_to(REPO_ROOT)}:{first_line}: {result.stderr}"


def test_a_doc_command_that_names_a_stack_the_flags_do_not_build_fails():
    """The check that would have caught `npx cdk destroy llm-mixtral-8x7b` in docs/local-deploy.md."""
    with pytest.raises(AssertionError, match="these flags build llm-mistral-7b, not llm-mixtral-8x7b"):
        check_npx_cdk(("npx", "cdk", "destroy", "llm-mixtral-8x7b"), Path("."))
    check_npx_cdk(("npx", "cdk", "destroy", "-c", "model=mixtral", "llm-mixtral-8x7b"), Path("."))
    with pytest.raises(AssertionError, match="has no option --stack"):
        check_npx_cdk(("npx", "cdk", "deploy", "--stack", "x"), Path("."))


def test_the_docs_name_only_files_in_the_repository():
    """Prose that names a file must name one that exists (the design notes, for one, are not in the repository)."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "DESIGN.md" not in text, f"{path.relative_to(REPO_ROOT)} refers to DESIGN.md, which is not in the repository"
        for name in re.findall(r"`((?:tests|docs|scripts|local_aws|planner|migration|llm_config|stacks)/[\w./-]+\.\w+)`", text):
            assert (REPO_ROOT / name).exists(), f"{path.relative_to(REPO_ROOT)} names {name}, which does not exist"
