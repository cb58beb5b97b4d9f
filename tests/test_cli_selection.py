"""`npx cdk destroy NAME` of a stack the app does not build fails loudly (the CLI alone says "No stacks match" and
exits 0): the app reads the CLI's stack names from the CLI's command line."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from llm_config.cli_env import CDK_CLI_OFFLINE_ENV
from stacks.cli_selection import CLI_OPTION_REGISTRY, CliRequest, parse_cli_argv, requested_stacks, unmatched
from tests.conftest import REPO_ROOT

OPTIONS = json.loads(CLI_OPTION_REGISTRY.read_text())
NODE_CDK = ["node", "/repo/node_modules/.bin/cdk"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([*NODE_CDK, "destroy", "llm-mixtral-8x7b"], CliRequest("destroy", ("llm-mixtral-8x7b",), False)),
        # -c, --app, --profile and --concurrency take a value; --force and -e do not
        (
            [*NODE_CDK, "-c", "model=x", "--app", "python app.py", "destroy", "--force", "-e", "--concurrency", "2", "a", "b"],
            CliRequest("destroy", ("a", "b"), False),
        ),
        ([*NODE_CDK, "deploy", "--context=model=x", "--profile", "p", "llm-chat"], CliRequest("deploy", ("llm-chat",), False)),
        ([*NODE_CDK, "synth", "--quiet", "-c", "model=mixtral"], CliRequest("synth", (), False)),
        ([*NODE_CDK, "deploy", "--all"], CliRequest("deploy", (), True)),
        (["/usr/bin/cdk", "destroy", "x"], CliRequest("destroy", ("x",), False)),
        (["/bin/sh", "-c", ".venv/bin/python app.py"], None),  # the shell between the CLI and the app
    ],
)
def test_the_cli_command_line_is_parsed_with_the_clis_own_option_table(argv, expected):
    assert parse_cli_argv(argv, OPTIONS) == expected


def test_only_a_name_that_selects_nothing_is_unmatched():
    destroy = CliRequest("destroy", ("llm-mixtral-8x7b",), False)
    assert unmatched(destroy, "llm-mistral-7b") == ["llm-mixtral-8x7b"]
    assert unmatched(destroy, "llm-mixtral-8x7b") == []
    assert unmatched(CliRequest("destroy", ("llm-*",), False), "llm-chat") == []  # the CLI's globs
    assert unmatched(CliRequest("destroy", ("x",), True), "llm-chat") == []  # --all
    assert unmatched(CliRequest("ls", ("x",), False), "llm-chat") == []
    assert unmatched(None, "llm-chat") == []


def test_the_cli_is_found_among_the_apps_ancestors():
    tree = {
        10: (9, ["/bin/sh", "-c", ".venv/bin/python app.py"]),
        9: (8, [*NODE_CDK, "destroy", "-f", "llm-x"]),
    }
    request = requested_stacks({"CDK_CLI_VERSION": "2"}, read_argv=lambda pid: tree.get(pid if pid in tree else 10))
    assert request == CliRequest("destroy", ("llm-x",), False)
    assert requested_stacks({}, read_argv=lambda pid: tree[9]) is None, "outside the CLI nothing is checked"
    assert requested_stacks({"CDK_CLI_VERSION": "2"}, read_argv=lambda pid: None) is None, "unreadable: skipped"


@pytest.mark.e2e
def test_destroy_of_a_stack_the_flags_do_not_build_fails_with_the_flags_that_would(tmp_path):
    """The real CLI, offline: the app stops before any AWS call (dummy credentials, an endpoint nobody serves)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))},
        **CDK_CLI_OFFLINE_ENV,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    cdk = str(REPO_ROOT / "node_modules" / ".bin" / "cdk")
    result = subprocess.run(
        [cdk, "destroy", "llm-mixtral-8x7b", "--force", "--output", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0, "a destroy that destroys nothing must not exit 0"
    assert (
        "error: cdk destroy llm-mixtral-8x7b: this app builds one stack per run, from its -c flags, and these flags"
        " build llm-mistral-7b, not llm-mixtral-8x7b; nothing was destroyed\n"
        "  fix: give the flags the stack was deployed with, e.g. npx cdk destroy -c model=mixtral-8x7b"
    ) in result.stderr
