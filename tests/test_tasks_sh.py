"""./tasks.sh: every task has a --help, synth takes the same -c flags as cdk deploy (a deployment file too)."""

from __future__ import annotations

import re
import subprocess

import pytest

from llm_config.deployment import DEFAULT_MODEL
from local_aws import rehearsal
from tests.conftest import REPO_ROOT


def tasks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "tasks.sh", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_task_and_says_which_take_c_flags():
    out = tasks("help").stdout
    for task in (
        "deploy-local",
        "status-local",
        "destroy-local",
        "run-local",
        "synth",
        "test",
        "plan",
        "plan-migration",
        "bench",
        "setup",
    ):
        assert f"./tasks.sh {task}" in out
    assert "./tasks.sh synth [MODEL] [-c KEY=VALUE ...]" in out
    assert "./tasks.sh deploy-local [MODEL] [-c KEY=VALUE ...]" in out
    assert "`./tasks.sh TASK --help`" in " ".join(out.split())


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("synth", f"MODEL            a model key or alias (default: {DEFAULT_MODEL}, as for npx cdk synth, unless"),
        ("test", "PYTEST ARGS go to pytest"),
        ("setup", "usage: ./tasks.sh setup"),
    ],
)
def test_shell_tasks_have_a_help_that_installs_nothing(task, expected):
    result = tasks(task, "--help")
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "==> installing" not in result.stdout


@pytest.mark.parametrize(
    ("args", "command"),
    [
        ([], "cdk synth --quiet"),  # the app's default model, as for npx cdk synth
        (["claude-3-sonnet"], "cdk synth --quiet -c model=claude-3-sonnet"),
        (["-c", "deployment=deployments/chat.yaml"], "cdk synth --quiet -c deployment=deployments/chat.yaml"),
        (["-c", "model=mistral", "-c", "endpoint=chat"], "cdk synth --quiet -c model=mistral -c endpoint=chat"),
        (["mistral", "-c", "region=eu-west-1"], "cdk synth --quiet -c model=mistral -c region=eu-west-1"),
    ],
)
def test_synth_passes_the_model_it_is_given_and_no_other(args, command):
    result = tasks("synth", "--dry-run", *args)
    assert (result.returncode, result.stdout.strip()) == (0, command)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mixtral", "-c", "model=mistral"], "error: -c model: conflicts with MODEL 'mixtral': a synth names its model once\n"),
        (["mixtral", "--context=deployment=deployments/chat.yaml"], "error: -c deployment: conflicts with MODEL 'mixtral'"),
        (["-c", "endpoint=a", "-c", "region=eu-west-1", "-c", "endpoint=b"], "error: -c endpoint: is given twice\n"),
    ],
)
def test_synth_refuses_two_values_for_one_flag(args, message):
    """The CDK CLI keeps the last value without a word: `./tasks.sh synth mixtral -c model=mistral` built Mistral."""
    result = tasks("synth", "--dry-run", *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(message)


def test_the_default_model_of_the_tasks_is_the_apps():
    """One default: `./tasks.sh synth`, `deploy-local` and `npx cdk synth` build the same stack with no model named."""
    in_tasks_sh = re.search(r"^DEFAULT_MODEL=(\S+)$", (REPO_ROOT / "tasks.sh").read_text(), re.M)
    assert in_tasks_sh is not None and in_tasks_sh[1] == DEFAULT_MODEL
    assert rehearsal.context_flags(None, []) == ["-c", f"model={DEFAULT_MODEL}"]


def test_an_unknown_task_exits_2():
    result = tasks("deploy")
    assert result.returncode == 2
    assert result.stderr == "error: unknown task 'deploy' (try: ./tasks.sh help)\n"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("deploy", f"a model key or alias (default: {DEFAULT_MODEL})"),
        ("status", "stacks, endpoints with their variants and weights"),
        ("destroy", "Destroy every stack deploy-local deployed"),
        ("run", "runtimes at its protocol stand-in (not a model)"),
    ],
)
def test_the_rehearsal_tasks_have_a_help_with_defaults(command, expected, capsys):
    with pytest.raises(SystemExit, match=r"^0$"):
        rehearsal.main([command, "--help"])
    assert expected in " ".join(capsys.readouterr().out.split())


def test_the_readme_states_the_set_up_time_tasks_sh_prints():
    """One measured figure (2 cores, 2026-12), said the same way in both places."""
    printed = re.search(r"first run: (\d+-\d+) min on 2 cores", (REPO_ROOT / "tasks.sh").read_text())
    assert printed is not None
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert f"printing its progress; {printed.group(1)} minutes on a 2-core machine" in readme
