"""The Bedrock lifecycle check at synth: each branch with an injected date, and every config in the four regions."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Stage
from aws_cdk.assertions import Template

from llm_config import BedrockModelConfig, ConfigError, ModelRegistry, load_registry
from llm_config.bedrock_model import ModelLifecycle
from llm_config.deployment import deployment_from_context
from llm_config.lifecycle import check_lifecycle
from llm_constructs.nag import add_synth_checks
from stacks.app_factory import add_deployment, build_stack
from tests.conftest import (
    BEDROCK_MODELS,
    CDK_JSON_CONTEXT,
    NEUTRAL_ENVIRON,
    REPO_ROOT,
    RETIRED_BEDROCK_MODELS,
    SYNTH_TODAY,
    _once,
    _shared_dir,
    cfn_lint,
)

REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2"]
LEGACY_DAY = date(2027, 3, 1)
EOL_DAY = date(2027, 6, 1)


def lifecycle(**fields: Any) -> ModelLifecycle:
    return ModelLifecycle.model_validate({"source": "test", "retrieved": "2026-12-01", **fields})


def haiku_with(config_dir: Path, **lifecycle_fields: Any) -> Path:
    """A copy of model_configs/ whose claude-haiku-4-5 has ``lifecycle_fields`` (dates as YAML dates)."""
    import shutil

    target = config_dir / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", target)
    path = target / "claude-haiku-4-5.yaml"
    data = yaml.safe_load(path.read_text())
    data["lifecycle"] = {**data["lifecycle"], **lifecycle_fields}
    path.write_text(yaml.safe_dump(data))
    return target


def synth(config_dir: Path, today: date, **context: Any) -> dict[str, Any]:
    app = App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(config_dir / f"out-{today}"))
    stack = add_deployment(app, {}, load_registry(config_dir), today=today)
    return dict(Template.from_stack(stack).to_json())


# -- the state on a given day --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "status"),
    [(date(2027, 2, 28), "active"), (LEGACY_DAY, "legacy"), (date(2027, 5, 31), "legacy"), (EOL_DAY, "end-of-life")],
)
def test_dates_move_an_active_model_through_legacy_to_end_of_life(today, status):
    record = lifecycle(status="active", legacy_date=LEGACY_DAY, end_of_life_date=EOL_DAY, successor="claude-opus-4-6")
    assert record.state("us-east-1", today).status == status


def test_a_region_listed_apart_keeps_its_own_state():
    record = lifecycle(
        status="end-of-life",
        end_of_life_date=date(2026, 9, 10),
        regions={"ca-central-1": {"status": "legacy"}},
        successor="claude-haiku-4-5",
    )
    assert record.state("us-east-1", SYNTH_TODAY).status == "end-of-life"
    assert record.state("ca-central-1", SYNTH_TODAY).status == "legacy"


def test_a_retiring_model_must_name_its_successor():
    with pytest.raises(ValueError, match="needs a successor"):
        lifecycle(status="legacy", end_of_life_date=EOL_DAY)


def test_successor_must_be_another_bedrock_config(tmp_path):
    config_dir = haiku_with(tmp_path, status="legacy", successor="mistral-7b")
    with pytest.raises(ConfigError, match=r"lifecycle\.successor: 'mistral-7b' is not another Bedrock model config"):
        load_registry(config_dir)


# -- what synth does in each branch --------------------------------------------------------------


def test_end_of_life_is_refused_naming_date_successor_and_command():
    app = App(context={"model": "claude-3-5-sonnet", "endpoint": "chat", "region": "us-west-2"})
    with pytest.raises(ConfigError) as caught:
        add_deployment(app, {}, today=SYNTH_TODAY)
    message = str(caught.value)
    assert message.startswith("model_configs/claude-3-5-sonnet.yaml: lifecycle: Claude 3.5 Sonnet")
    assert "reached end of life on Amazon Bedrock in us-west-2 on 2026-03-01" in message
    assert "npx cdk deploy -c model=claude-sonnet-5-5 -c endpoint=chat -c region=us-west-2" in message
    assert not app.node.children, "no stack exists after a refusal"


def test_the_day_before_end_of_life_still_synthesizes_with_a_warning(capsys):
    app = App(context={"model": "claude-3-5-sonnet"})
    add_deployment(app, {}, today=date(2026, 2, 28))
    err = capsys.readouterr().err
    assert "is legacy on Amazon Bedrock in us-east-1" in err
    assert "until its end of life on 2026-03-01" in err


@pytest.mark.parametrize("key", RETIRED_BEDROCK_MODELS)
def test_the_guides_keys_explain_themselves(key, registry):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    with pytest.raises(ConfigError, match=rf"reached end of life .* Its successor is {model.lifecycle.successor}"):
        add_deployment(App(context={"model": key}), {}, today=SYNTH_TODAY)


def test_a_region_still_serving_the_model_warns_instead(capsys):
    add_deployment(App(context={"model": "claude-3-haiku", "region": "ca-central-1"}), {}, today=SYNTH_TODAY)
    err = capsys.readouterr().err
    assert "claude-3-haiku.yaml: Claude 3 Haiku (anthropic.claude-3-haiku-20240307-v1:0) is legacy" in err
    assert "an end-of-life date Bedrock has not set yet" in err
    assert "npx cdk deploy -c model=claude-haiku-5-5 -c endpoint=claude-3-haiku -c region=ca-central-1" in err


def test_an_active_model_synthesizes_silently(capsys):
    add_deployment(App(context={"model": "claude-haiku-4-5"}), {}, today=SYNTH_TODAY)
    assert capsys.readouterr().err == ""


def test_legacy_window_warns_and_the_template_carries_no_date(tmp_path, capsys):
    config_dir = haiku_with(tmp_path, legacy_date=LEGACY_DAY, end_of_life_date=EOL_DAY, successor="claude-sonnet-4-6")
    before = synth(config_dir, SYNTH_TODAY, model="claude-haiku-4-5")
    assert capsys.readouterr().err == ""
    during = synth(config_dir, date(2027, 4, 1), model="claude-haiku-4-5")
    assert "until its end of life on 2027-06-01" in capsys.readouterr().err
    assert during == before, "the day of the synth never changes the template"
    assert "2027" not in json.dumps(during)
    with pytest.raises(ConfigError, match="reached end of life on Amazon Bedrock in us-east-1 on 2027-06-01"):
        synth(config_dir, EOL_DAY, model="claude-haiku-4-5")


def test_a_deployment_file_gets_the_fix_for_the_file(registry):
    model = registry.resolve("claude-3-opus")
    assert isinstance(model, BedrockModelConfig)
    with pytest.raises(ConfigError, match=r"set `model: claude-opus-5-5` in deployments/chat.yaml") as caught:
        check_lifecycle(
            model,
            region="us-east-1",
            endpoint_name="chat",
            today=SYNTH_TODAY,
            config_source="model_configs/claude-3-opus.yaml",
            spec_source="deployments/chat.yaml",
        )
    assert "(date not recorded)" in str(caught.value)


def test_cdk_synth_refuses_the_contract_key_with_exit_status_2_and_no_template():
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={"CDK_CONTEXT_JSON": json.dumps({"model": "claude-3-sonnet"}), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: model_configs/claude-3-sonnet.yaml: lifecycle: Claude 3 Sonnet")
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- every config, in the four regions ------------------------------------------------------------


@pytest.fixture(scope="module")
def bedrock_matrix(registry: ModelRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every Bedrock config in every REGIONS region, keyed "key region": ``{"template": ...}``, or ``{"refused":
    [field, problem]}`` when the lifecycle check refused it. One App with a Stage per region and the synth checks of
    `cdk synth` (cdk-nag findings fail it), built once per test run across pytest-xdist workers."""

    def build() -> dict[str, Any]:
        app = App(context=CDK_JSON_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
        add_synth_checks(app)
        stacks, results = {}, {}
        for region in REGIONS:
            stage = Stage(app, f"Region{region.replace('-', '')}")
            for key in BEDROCK_MODELS + RETIRED_BEDROCK_MODELS:
                try:
                    spec = deployment_from_context({"model": key, "region": region}.get, NEUTRAL_ENVIRON, registry)
                    stacks[f"{key} {region}"] = build_stack(stage, spec, registry, SYNTH_TODAY)
                except ConfigError as error:  # raised before any construct exists
                    results[f"{key} {region}"] = {"refused": [error.field, error.problem]}
        app.synth()
        return results | {pair: {"template": dict(Template.from_stack(stack).to_json())} for pair, stack in stacks.items()}

    return _once(_shared_dir(tmp_path_factory, "bedrock-matrix") / "results.json", build)


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("key", BEDROCK_MODELS + RETIRED_BEDROCK_MODELS)
def test_every_bedrock_config_synthesizes_clean_or_is_refused_by_lifecycle(bedrock_matrix, key, region):
    result = bedrock_matrix[f"{key} {region}"]
    if "refused" in result:
        field, problem = result["refused"]
        assert key in RETIRED_BEDROCK_MODELS, f"{key} in {region}: {problem}"
        assert field == "lifecycle" and "reached end of life" in problem
        return
    assert key in BEDROCK_MODELS
    assert [str(m) for m in cfn_lint(result["template"], region)] == []
