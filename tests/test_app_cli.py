"""The app as the CDK CLI runs it: exit status, messages, one stack, byte-identical templates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from llm_config import ConfigError
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV
from llm_config.context_keys import check_context_keys
from llm_config.deployment import deployment_from_context
from llm_config.principals import trusted_principals_from_context
from routing.router_spec import router_from_context
from stacks.app_factory import APP_CONTEXT_KEYS, add_deployment
from tests.conftest import APP_RUN_CONTEXT, CDK_JSON_CONTEXT, REPO_ROOT, run_app_as_the_cli, synth_template

PROJECT_PARTS = ["app.py", "cdk.json", "llm_config", "llm_constructs", "planner", "routing", "stacks", "model_configs"]
OFFLINE_ENV = CDK_CLI_OFFLINE_ENV


run_app = run_app_as_the_cli


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / part)
    return project


def assert_clean_failure(result: subprocess.CompletedProcess[str], outdir: Path, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert not list(outdir.glob("*.template.json")), "no template may be written on bad input"


def test_unknown_model_exits_2_with_one_message(tmp_path):
    outdir = tmp_path / "out"
    result = run_app(REPO_ROOT, outdir, model="gpt-5")
    assert_clean_failure(result, outdir, "-c model: unknown model 'gpt-5'")


def test_bad_config_file_exits_2_naming_file_and_field(project_copy, tmp_path):
    config = project_copy / "model_configs" / "mixtral-8x7b.yaml"
    config.write_text(config.read_text().replace("max_total_tokens: 32768", "max_total_tokens: lots"))
    outdir = tmp_path / "out"
    result = run_app(project_copy, outdir, model="mixtral")
    assert_clean_failure(
        result, outdir, "model_configs/mixtral-8x7b.yaml: container.max_total_tokens: Input should be a valid integer"
    )


def test_model_that_does_not_fit_exits_2(project_copy, tmp_path):
    config = project_copy / "model_configs" / "mixtral-8x7b.yaml"
    config.write_text(config.read_text().replace("type: ml.g6e.xlarge ", "type: ml.g5.2xlarge "))
    outdir = tmp_path / "out"
    result = run_app(project_copy, outdir, model="mistral")
    assert_clean_failure(result, outdir, "on ml.g5.2xlarge fails GPU memory")


@pytest.mark.e2e
def test_synth_writes_exactly_one_stack_and_is_deterministic(tmp_path, app_run):
    assert app_run["returncode"] == 0, app_run["stderr"]
    assert list(app_run["templates"]) == ["llm-chat.template.json"]
    second = run_app(REPO_ROOT, tmp_path, **APP_RUN_CONTEXT)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "llm-chat.template.json").read_text() == app_run["templates"]["llm-chat.template.json"]


def test_tests_see_the_same_template_the_cli_synthesizes(tmp_path, app_run):
    """The snapshots and assertions are only worth something if they test what `cdk synth` deploys."""
    from_cli = json.loads(app_run["templates"]["llm-chat.template.json"])
    assert synth_template(APP_RUN_CONTEXT, tmp_path / "in-process") == from_cli


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("model=nope", "error: -c model: unknown model 'nope'"),
        # Every key the CLI adds sorts before "modle" ("@aws-cdk/...", "aws:cdk:...", "acknowledged-issue-numbers"),
        # so this also proves that the app accepts all of them.
        ("modle=mixtral", "error: -c modle: unknown context key: app.py reads no such key\n  fix: did you mean -c model?"),
    ],
)
def test_the_real_cdk_cli_reports_bad_input(tmp_path, flag, expected):
    cli = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "run ./tasks.sh setup: the pinned CDK CLI is part of the test toolchain"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **OFFLINE_ENV}
    result = subprocess.run(
        [str(cli), "synth", "-c", flag, "--output", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


# --- -c keys: a misspelt key is refused, naming the nearest known one; the CDK's own keys pass --------------------


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"modle": "mixtral"}, "-c modle: unknown context key: app.py reads no such key\n  fix: did you mean -c model?"),
        ({"model": "mixtral", "endpiont": "chat", "retire": "mistral"}, "-c endpiont: unknown context key"),
        (
            {"model": "mistral", "candidate": "mixtral", "candidate_wieght": "10"},
            "-c candidate_wieght: unknown context key: app.py reads no such key\n  fix: did you mean -c candidate_weight?",
        ),
        ({"budget": "100"}, "-c budget: unknown context key: app.py reads no such key\n  fix: did you mean -c budget_usd?"),
        ({"candidate-weight": "10"}, "-c candidate-weight: unknown context key: app.py reads no such key\n  fix: did you mean"),
    ],
)
def test_unknown_context_keys_are_refused_before_anything_is_built(context, expected):
    app = App(context={**CDK_JSON_CONTEXT, **context})
    with pytest.raises(ConfigError) as caught:
        add_deployment(app, {})
    assert str(caught.value).startswith(expected)
    assert app.node.children == []


def test_the_cdk_own_context_keys_pass():
    """What cdk.json and the CDK CLI (2.1148) put in CDK_CONTEXT_JSON, and what cdk.context.json may cache."""
    from_the_cli = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],
        "@aws-cdk/core:failSynthOnValidationErrors": False,
        "acknowledged-issue-numbers": [32775],
        "availability-zones:account=123456789012:region=us-east-1": ["us-east-1a"],
        "aws-cdk:enableDiffNoFail": True,
    }
    check_context_keys({**CDK_JSON_CONTEXT, **from_the_cli, "model": "mixtral"}, APP_CONTEXT_KEYS, "app.py", "README.md")


def test_every_key_the_app_reads_is_declared(registry):
    """A new flag is one line in its module's CONTEXT_KEYS; reading an undeclared key would refuse the flag."""
    asked: list[str] = []

    def get_context(name: str) -> Any:
        asked.append(name)
        return {"model": "mistral", "budget_usd": "500", "alarm_email": "ops@example.com"}.get(name)

    deployment_from_context(get_context, {}, registry)
    trusted_principals_from_context(get_context)
    assert router_from_context(get_context, {}) is None
    assert set(asked) == set(APP_CONTEXT_KEYS)


def test_a_misspelt_key_fails_the_app_as_the_cli_runs_it(tmp_path):
    outdir = tmp_path / "out"
    result = run_app(REPO_ROOT, outdir, model="mixtral", endpiont="chat", retire="mistral")
    assert_clean_failure(result, outdir, "error: -c endpiont: unknown context key: app.py reads no such key")
    assert "fix: did you mean -c endpoint?" in result.stderr


def test_a_synth_reads_the_model_configs_once(monkeypatch, tmp_path, registry):
    """Parsing every YAML file of model_configs/ is the app's own largest cost before cdk's synth (scripts/bench_synth.py)."""
    import app as entry_point
    import planner.deploy_cost
    import stacks.app_factory

    loads: list[int] = []

    def counted() -> Any:
        loads.append(1)
        return registry

    for module in (entry_point, planner.deploy_cost, stacks.app_factory):
        monkeypatch.setattr(module, "load_registry", counted)
    monkeypatch.setattr(App, "synth", lambda self, **_: None)  # the stack is built; writing it out is cdk's part
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({**CDK_JSON_CONTEXT, "model": "mistral"}))
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    assert entry_point.main() == 0
    assert len(loads) == 1
