"""Bedrock model configs and Bedrock context: bad input stops synth with one message naming file, field and fix."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App

from llm_config import BedrockModelConfig, ConfigError, load_registry
from llm_config.principals import trusted_principals_from_context
from stacks.app_factory import add_deployment
from tests.conftest import BEDROCK_MODELS, REPO_ROOT, RETIRED_BEDROCK_MODELS, SYNTH_TODAY

CONFIG_DIR = REPO_ROOT / "model_configs"


def write_registry(tmp_path: Path, key: str, edit: dict[str, Any]) -> Path:
    """A config dir with the catalogues and one Bedrock config, ``key``, with ``edit`` applied (None deletes)."""
    for name in ("instances.yaml", "containers.yaml"):
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    data = yaml.safe_load((CONFIG_DIR / f"{key}.yaml").read_text())
    for dotted, value in edit.items():
        *parents, leaf = dotted.split(".")
        target = data
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target.setdefault(parent, {})
        if value is None:
            del target[leaf]
        else:
            target[leaf] = value
    (tmp_path / f"{key}.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.parametrize("key", BEDROCK_MODELS + RETIRED_BEDROCK_MODELS)
def test_shipped_configs_load_with_prices_lifecycle_and_sources(registry, key):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    assert model.model_id.startswith("anthropic.claude-")
    assert 0 < model.prices.input_per_1k_usd < model.prices.output_per_1k_usd
    assert model.prices.source and model.prices.retrieved
    assert model.lifecycle.source and model.lifecycle.retrieved in ("2026-12-01", "2026-12-07")
    assert model.context_length >= 200_000
    assert model.planner is not None, "every shipped config keeps its planner figures"


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_current_models_are_called_through_profiles_with_global_prices_ten_percent_lower(registry, key):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    profiles = model.inference_profiles
    assert profiles is not None and profiles.scope == "geography"  # the documented default
    assert profiles.source and profiles.retrieved
    prices = model.prices
    assert prices.global_input_per_1k_usd and prices.global_output_per_1k_usd
    assert prices.input_per_1k_usd == pytest.approx(1.1 * prices.global_input_per_1k_usd)
    assert prices.output_per_1k_usd == pytest.approx(1.1 * prices.global_output_per_1k_usd)


def test_prices_per_1k_tokens(registry):
    per_1k = {key: registry.resolve(key).price_per_1k for key in BEDROCK_MODELS + RETIRED_BEDROCK_MODELS}
    assert per_1k == {
        "claude-haiku-5-5": (0.00011, 0.00055),
        "claude-sonnet-5-5": (0.0022, 0.011),
        "claude-opus-5-5": (0.0044, 0.022),
        "claude-haiku-4-5": (0.0011, 0.0055),
        "claude-sonnet-4-6": (0.0033, 0.0165),
        "claude-opus-4-6": (0.0055, 0.0275),
        "claude-3-haiku": (0.00025, 0.00125),
        "claude-3-sonnet": (0.003, 0.015),
        "claude-3-opus": (0.015, 0.075),
        "claude-3-5-sonnet": (0.003, 0.015),
    }


@pytest.mark.parametrize("key", RETIRED_BEDROCK_MODELS)
def test_seed_models_name_a_current_successor(registry, key):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    successor = registry.resolve(model.lifecycle.successor or "")
    assert isinstance(successor, BedrockModelConfig)
    # today's generation: active and not itself replaced, so the refusal's command deploys a current model
    assert successor.key in BEDROCK_MODELS and successor.lifecycle.successor is None


def test_defaults_apply_when_alarms_and_budget_are_left_out(tmp_path):
    registry = load_registry(write_registry(tmp_path, "claude-haiku-5-5", {"budget": None}))
    model = registry.resolve("claude-haiku-5-5")
    assert isinstance(model, BedrockModelConfig)
    assert (model.alarms.period_seconds, model.alarms.evaluation_periods, model.alarms.datapoints_to_alarm) == (300, 3, 2)
    assert model.alarms.latency_statistic == "p90"
    assert (model.alarms.throttles_per_period, model.alarms.server_errors_per_period) == (5, 1)
    assert (model.budget.amount_usd, model.budget.time_unit) == (100.0, "MONTHLY")
    assert model.budget.alert_thresholds_percent == [80.0, 100.0]
    assert model.budget.cost_filter_services == ["Amazon Bedrock"]


@pytest.mark.parametrize(
    ("key", "edit", "field", "message"),
    [
        ("claude-3-haiku", {"modle_id": "x"}, "modle_id", "unknown key"),
        ("claude-3-haiku", {"alarms.latency_budget": 3}, "alarms.latency_budget", "unknown key"),
        ("claude-3-haiku", {"model_id": None}, "model_id", "required key is missing"),
        ("claude-3-haiku", {"model_id": "Claude 3 Haiku"}, "model_id", "should match pattern"),
        ("claude-3-haiku", {"prices.input_per_1k_usd": -0.1}, "prices.input_per_1k_usd", "greater than 0"),
        ("claude-3-haiku", {"prices.output_per_1k_usd": "0.00125"}, "prices.output_per_1k_usd", "valid number"),
        ("claude-3-haiku", {"prices.retrieved": "last week"}, "prices.retrieved", "should match pattern"),
        ("claude-3-haiku", {"prices.source": None}, "prices.source", "required key is missing"),
        ("claude-3-haiku", {"latency_budget_seconds": 0}, "latency_budget_seconds", "greater than 0"),
        ("claude-3-haiku", {"hosting": "bedrok"}, "hosting", "got 'bedrok'"),
        ("claude-3-haiku", {"alarms.latency_statistic": "p42"}, "alarms.latency_statistic", "got 'p42'"),
        ("claude-3-haiku", {"alarms.period_seconds": 120}, "alarms.period_seconds", "got 120"),
        ("claude-3-haiku", {"alarms.datapoints_to_alarm": 4}, "alarms", "exceeds evaluation_periods"),
        ("claude-3-haiku", {"budget.amount_usd": 0}, "budget.amount_usd", "greater than 0"),
        ("claude-3-haiku", {"budget.time_unit": "WEEKLY"}, "budget.time_unit", "got 'WEEKLY'"),
        ("claude-3-haiku", {"budget.cost_filter_services": []}, "budget.cost_filter_services", "at least 1 item"),
        ("claude-3-haiku", {"budget.alert_thresholds_percent": list(range(10, 70, 10))}, "alert_thresholds_percent", "at most 5"),
        ("claude-3-haiku", {"lifecycle.status": "retired"}, "lifecycle.status", "got 'retired'"),
        ("claude-3-haiku", {"lifecycle.successor": None}, "lifecycle", "needs a successor"),
        ("claude-3-haiku", {"lifecycle.source": None}, "lifecycle.source", "required key is missing"),
        ("claude-3-haiku", {"lifecycle": None}, "lifecycle", "required key is missing"),
        ("claude-haiku-4-5", {"inference_profiles.scope": "planet"}, "inference_profiles.scope", "got 'planet'"),
        (
            "claude-haiku-4-5",
            {"inference_profiles.global": None, "inference_profiles.scope": "global"},
            "inference_profiles",
            "no global profile",
        ),
        (
            "claude-haiku-4-5",
            {"prices.global_input_per_1k_usd": None, "inference_profiles.scope": "global"},
            "",
            "no global_input",
        ),
        ("claude-haiku-4-5", {"inference_profiles.geographies": []}, "inference_profiles", "no geography is listed"),
        ("claude-haiku-4-5", {"inference_profiles.geographies.0.prefix": "U.S."}, "prefix", "should match pattern"),
        ("claude-haiku-4-5", {"planner.quality": "great"}, "planner.quality", "got 'great'"),
        ("claude-opus-5-5", {"capabilities.thinking_types": ["budget"]}, "capabilities.thinking_types.0", "got 'budget'"),
        ("claude-opus-5-5", {"capabilities.thinking_types": ["adaptive", "adaptive"]}, "capabilities", "listed twice"),
        ("claude-opus-5-5", {"capabilities.forced_tool_use": "no"}, "capabilities.forced_tool_use", "valid boolean"),
        ("claude-opus-5-5", {"capabilities.source": None}, "capabilities.source", "required key is missing"),
        ("claude-haiku-4-5", {"capabilities.refused_anthropic_versions": ["latest"]}, "refused_anthropic_versions", "pattern"),
    ],
)
def test_bad_bedrock_config_names_file_field_and_fix(tmp_path, key, edit, field, message):
    config_dir = write_registry(tmp_path, key, edit)
    with pytest.raises(ConfigError, match=message) as caught:
        load_registry(config_dir)
    assert caught.value.source.endswith(f"{key}.yaml")
    assert field in (caught.value.field or "")
    assert caught.value.fix


def synth_error(**context: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        add_deployment(App(context=context), {}, today=SYNTH_TODAY)
    return caught.value


def test_profile_outside_its_source_regions_stops_synth():
    error = synth_error(model="claude-opus-4-6", region="ap-south-1")
    assert error.source.endswith("claude-opus-4-6.yaml")
    assert error.field == "inference_profiles"
    assert "no geography inference profile of anthropic.claude-opus-4-6-v1 can be called from ap-south-1" in error.problem
    assert error.fix and "us-east-1" in error.fix


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("arn:aws:iam::111122223333:group/devs", "neither a 12-digit account id"),
        ("12345", "neither a 12-digit account id"),
        ("arn:aws:iam::111122223333:role/app,,", "expected comma-separated"),
        (42, "expected comma-separated"),
    ],
)
def test_bad_trusted_principals_stop_synth(value, message):
    error = synth_error(model="claude-sonnet-4-6", trusted_principals=value)
    assert error.source == "-c trusted_principals"
    assert message in error.problem


def test_trusted_principals_only_apply_to_bedrock_models():
    error = synth_error(model="mistral", trusted_principals="111122223333")
    assert "not a Bedrock model" in error.problem


def test_trusted_principals_accept_lists_from_cdk_json_and_drop_duplicates():
    context: dict[str, Any] = {"trusted_principals": ["111122223333", "arn:aws:iam::111122223333:user/ci", "111122223333"]}
    assert trusted_principals_from_context(context.get) == ("111122223333", "arn:aws:iam::111122223333:user/ci")
    assert trusted_principals_from_context(lambda name: None) == ()


def test_app_exits_2_with_one_message_for_a_bad_bedrock_region(tmp_path):
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env={"CDK_CONTEXT_JSON": '{"model": "claude-sonnet-4-6", "region": "ap-south-1"}', "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: model_configs/claude-sonnet-4-6.yaml: inference_profiles: no geography")
    assert not list(tmp_path.glob("*.template.json"))
