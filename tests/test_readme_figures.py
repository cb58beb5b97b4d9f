"""Every number the README prints about models, instances and costs comes from the code: these tests recompute them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.catalogue import HOURS_PER_MONTH
from planner.assumptions import load_planner_data
from planner.guide import guide_findings
from planner.model_table import models_table
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def monthly(registry, key: str) -> str:
    model = registry.models[key]
    assert isinstance(model, SageMakerModelConfig)
    return f"${registry.instance_for(model).sagemaker_hourly_usd * HOURS_PER_MONTH:,.0f}/month"


def test_the_model_table_is_the_code_s(registry):
    assert models_table(registry) in README


def test_the_guide_errors_table_quotes_the_shipped_instances_and_costs(registry):
    guide_rows = README.split("### Where the guide is wrong, and what we ship instead")[1].split("\n\n")[1]
    assert f"ml.g5.xlarge, {monthly(registry, 'mistral-7b')}" in guide_rows
    assert f"ml.g6e.xlarge, {monthly(registry, 'mixtral-8x7b')}" in guide_rows
    assert f"fp16 on ml.g6e.xlarge, {monthly(registry, 'llama2-13b')}" in guide_rows
    assert f"on ml.g6e.2xlarge, {monthly(registry, 'llama2-70b')}" in guide_rows
    for key in ("mixtral-8x7b", "llama2-13b", "llama2-70b", "mistral-7b"):
        assert registry.models[key].instance.type in guide_rows


def test_the_migration_cost_is_the_planner_s(registry):
    [scenario] = [f.planner for f in guide_findings(load_planner_data(registry), 500, 300) if f.topic.startswith("Scenario 1")]
    assert scenario == "$1,027.84 -> $1,905.30/month: +$877.46 (+85%)"
    assert "| $1,028 -> $1,905 | +$877/month (+85%);" in README


def test_the_fit_check_example_is_what_synth_prints(tmp_path: Path):
    config_dir = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / "mistral-7b.yaml"
    data = yaml.safe_load(path.read_text())
    data["instance"]["type"] = "ml.g6.xlarge"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_registry(config_dir)
    message = str(caught.value).replace(str(config_dir), "model_configs")
    assert message in README
