"""Capacity fallback with instance pools (docs/instance-pools.md): the config's fallback_types become the variant's
InstancePools, each pool passes the fit check on its own, a pool with another GPU count runs its own model, and the
cost figures span the cheapest pool to the dearest."""

from __future__ import annotations

import importlib.resources
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cfnlint.data.schemas.extensions.aws_sagemaker_hosting as hosting_data
import pytest
import yaml
from aws_cdk.assertions import Template

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.deployment import deployment_from_context
from llm_config.sizing import assess
from tests.conftest import NEUTRAL_ENVIRON, REPO_ROOT, cfn_lint, only, synth_template
from tests.test_app_cli import assert_clean_failure, project_copy, run_app  # noqa: F401 (fixture)
from tests.test_instance_choice import edit, load_error, sagemaker_models


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", target)
    return target


def set_fallbacks(config_dir: Path, key: str, fallbacks: list[str]) -> None:
    edit(config_dir, key, lambda data: data["instance"].__setitem__("fallback_types", fallbacks))


def variant_of(template: Template) -> dict[str, Any]:
    [variant] = only(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    return dict(variant)


# The shipped configs


def test_every_shipped_pool_passes_the_fit_check_and_costs_more_than_the_one_before(registry):
    for model in sagemaker_models(registry):
        pools = registry.pools_for(model)
        assert len(pools) > 1, f"{model.key} lists no fallback"
        for name, instance in pools:
            assert assess(model, name, instance).passes, f"{model.key} on {name}"
        prices = [instance.sagemaker_hourly_usd for _, instance in pools]
        assert prices == sorted(prices) and len(set(prices)) == len(prices), model.key


def test_shipped_fallbacks_keep_the_gpu_count_and_the_regions_of_the_first_pool(registry):
    """Same GPU: one model and one alarm normalisation for every pool, and a fallback wherever instance.type is."""
    for model in sagemaker_models(registry):
        (first, instance), *fallbacks = registry.pools_for(model)
        for name, fallback in fallbacks:
            assert fallback.gpus == instance.gpus and fallback.gpu_model == instance.gpu_model, (model.key, name)
            assert registry.hosting_regions.instances[name] == registry.hosting_regions.instances[first], (model.key, name)


def test_hosting_regions_file_is_cfn_lints_data(registry):
    data = json.loads(importlib.resources.files(hosting_data).joinpath("instancetype_enum.json").read_text())
    offered = {region: set(entry["enum"]) for region, entry in data.items() if isinstance(entry, dict)}
    regions = registry.hosting_regions
    assert regions.regions == sorted(offered)
    assert set(regions.instances) == set(registry.instances.instances)
    for name, listed in regions.instances.items():
        assert listed == sorted(region for region, types in offered.items() if name in types), name


# The template


def test_a_pooled_variant_has_instance_pools_instead_of_an_instance_type(synth):
    variant = variant_of(synth(model="mistral"))
    assert "InstanceType" not in variant
    assert variant["InstancePools"] == [
        {"InstanceType": "ml.g5.xlarge", "Priority": 1},
        {"InstanceType": "ml.g5.2xlarge", "Priority": 2},
        {"InstanceType": "ml.g5.4xlarge", "Priority": 3},
    ]
    assert "ModelName" in variant  # one GPU on every pool: one model


def test_the_cost_output_spans_the_cheapest_pool_to_the_dearest(synth):
    template = synth(model="mistral").to_json()
    output = template["Outputs"]["EstimatedMonthlyHostingUsd"]
    assert output["Value"] == "1028-1482"  # 1.408 and 2.03 $/h x 730 h
    assert "from the cheapest instance pool to the dearest" in output["Description"]
    assert "(~$1,028-1,482/month always-on)" in template["Description"]


def test_the_synth_cost_line_spans_the_pools(registry):
    from planner.deploy_cost import cost_line

    spec = deployment_from_context({"model": "mistral"}.get, NEUTRAL_ENVIRON, registry)
    line = cost_line(spec, registry)
    assert "$1,028-1,482/month always-on (1 x ml.g5.xlarge or ml.g5.2xlarge or ml.g5.4xlarge at $1.408-2.03/h" in line
    assert "cheapest to dearest instance pool" in line


@pytest.fixture(scope="module")
def four_then_one_gpu(mixed_pools_synth: Callable[..., Template]) -> Template:
    """mixtral-8x7b on ml.g5.12xlarge (4 x A10G) falling back to ml.g6e.2xlarge and ml.g6e.4xlarge (1 x L40S each)."""
    return mixed_pools_synth(model="mixtral")


def test_a_pool_with_another_gpu_count_runs_its_own_model(four_then_one_gpu):
    models = four_then_one_gpu.find_resources("AWS::SageMaker::Model")
    degree = {
        logical_id: model["Properties"]["PrimaryContainer"]["Environment"]["OPTION_TENSOR_PARALLEL_DEGREE"]
        for logical_id, model in models.items()
    }
    [four] = [i for i, d in degree.items() if d == "4"]
    [one] = [i for i, d in degree.items() if d == "1"]
    assert "On1Gpus" in one
    variant = variant_of(four_then_one_gpu)
    assert variant["ModelName"] == {"Fn::GetAtt": [four, "ModelName"]}
    override = {"Fn::GetAtt": [one, "ModelName"]}
    assert variant["InstancePools"] == [
        {"InstanceType": "ml.g5.12xlarge", "Priority": 1},
        {"InstanceType": "ml.g6e.2xlarge", "Priority": 2, "ModelNameOverride": override},
        {"InstanceType": "ml.g6e.4xlarge", "Priority": 3, "ModelNameOverride": override},
    ]


def test_gpu_memory_is_normalised_by_the_gpu_count_the_summed_memory_shows(four_then_one_gpu):
    """No metric names the pool: 1 GPU holds at most 100%, so a larger sum comes from the 4-GPU pool."""
    alarms = four_then_one_gpu.find_resources("AWS::CloudWatch::Alarm")
    [memory] = [a["Properties"] for a in alarms.values() if "GPU memory" in json.dumps(a["Properties"])]
    [expression] = [m["Expression"] for m in memory["Metrics"] if "Expression" in m]
    assert expression.startswith("IF(memory_mixtral_8x7b <= 100, gpumemoryutilization_mixtral_8x7b / 1,")
    assert expression.endswith("gpumemoryutilization_mixtral_8x7b / 4)")


def test_pooled_templates_lint_clean(four_then_one_gpu, synth):
    for template in (four_then_one_gpu.to_json(), synth(model="mistral").to_json()):
        assert [str(m) for m in cfn_lint(template)] == []


def test_scale_to_zero_shares_the_pools_without_model_overrides(synth):
    variant = variant_of(synth(model="mistral", scale_to_zero="true"))
    assert "InstanceType" not in variant and "ModelName" not in variant
    assert [pool["InstanceType"] for pool in variant["InstancePools"]] == ["ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge"]
    assert all("ModelNameOverride" not in pool for pool in variant["InstancePools"])


# Bad input: one message naming the file, the field and the fix


def test_a_pool_that_fails_the_fit_check_is_refused(config_dir):
    set_fallbacks(config_dir, "mistral-7b", ["ml.g5.2xlarge", "ml.g6.xlarge"])
    message = load_error(config_dir)
    assert "model_configs/mistral-7b.yaml: instance.fallback_types: mistral-7b (fp16 weights)" in message
    assert "on fallback ml.g6.xlarge (pool 3) fails latency" in message
    assert "fix: remove ml.g6.xlarge from instance.fallback_types" in message


def test_a_pool_without_gpu_memory_for_the_model_is_refused(config_dir):
    set_fallbacks(config_dir, "mixtral-8x7b", ["ml.g5.2xlarge"])
    assert "on fallback ml.g5.2xlarge (pool 2) fails GPU memory" in load_error(config_dir)


def test_a_pool_listed_twice_is_refused(config_dir):
    set_fallbacks(config_dir, "mistral-7b", ["ml.g5.2xlarge", "ml.g5.2xlarge"])
    message = load_error(config_dir)
    assert "model_configs/mistral-7b.yaml: instance.fallback_types: entry 1 (ml.g5.2xlarge) is listed earlier" in message
    assert "fix: remove ml.g5.2xlarge from instance.fallback_types" in message
    set_fallbacks(config_dir, "mistral-7b", ["ml.g5.xlarge"])
    assert "entry 0 (ml.g5.xlarge) is instance.type" in load_error(config_dir)


def test_more_than_five_pools_are_refused(config_dir):
    set_fallbacks(
        config_dir, "mistral-7b", ["ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g5.8xlarge", "ml.g6e.xlarge", "ml.g5.16xlarge"]
    )
    message = load_error(config_dir)
    assert "instance.fallback_types: lists 5 types: with instance.type that makes 6 instance pools" in message
    assert "SageMaker takes at most 5" in message and "fix: keep at most 4 fallbacks" in message


def test_an_instance_without_a_confirmed_price_is_not_selectable(config_dir):
    set_fallbacks(config_dir, "llama2-70b", ["ml.g7e.2xlarge"])
    message = load_error(config_dir)
    assert "instance.fallback_types: ml.g7e.2xlarge is listed in model_configs/instances.yaml as not selectable" in message
    assert "no SageMaker hosting price confirmed" in message


def test_a_budget_the_dearest_pool_exceeds_is_refused(config_dir):
    set_fallbacks(config_dir, "mistral-7b", ["ml.g5.2xlarge", "ml.g6e.4xlarge"])
    edit(config_dir, "mistral-7b", lambda data: data["budget"].__setitem__("amount_usd", 80))
    message = load_error(config_dir)
    assert "budget.amount_usd: the minimum capacity alone costs $90.13 per day" in message
    assert "on ml.g6e.4xlarge, the dearest of its instance pools" in message


def test_a_pool_the_region_does_not_offer_exits_2(project_copy, tmp_path):  # noqa: F811
    config = project_copy / "model_configs" / "mistral-7b.yaml"
    data = yaml.safe_load(config.read_text())
    data["instance"]["fallback_types"] = ["ml.g5.2xlarge", "ml.g6e.xlarge"]
    config.write_text(yaml.safe_dump(data))
    outdir = tmp_path / "out"
    result = run_app(project_copy, outdir, model="mistral", region="eu-west-1")
    assert_clean_failure(
        result,
        outdir,
        "model_configs/mistral-7b.yaml: instance.fallback_types: ml.g6e.xlarge is not offered for SageMaker hosting in"
        " eu-west-1 (-c region)",
    )
    assert "fix: remove ml.g6e.xlarge from instance.fallback_types to deploy to eu-west-1" in result.stderr


def test_the_region_check_passes_where_the_pool_is_offered(config_dir):
    set_fallbacks(config_dir, "mistral-7b", ["ml.g5.2xlarge", "ml.g6e.xlarge"])
    registry = load_registry(config_dir)
    spec = deployment_from_context({"model": "mistral", "region": "us-east-1"}.get, NEUTRAL_ENVIRON, registry)
    assert isinstance(spec.model, SageMakerModelConfig) and spec.model.instance.pool_types[-1] == "ml.g6e.xlarge"
    with pytest.raises(ConfigError, match=r"ml\.g6e\.xlarge is not offered for SageMaker hosting in eu-west-1"):
        deployment_from_context({"model": "mistral", "region": "eu-west-1"}.get, NEUTRAL_ENVIRON, registry)


def test_scale_to_zero_refuses_a_pool_of_another_gpu_count(config_dir, tmp_path):
    """A component asks every instance for the same GPUs and memory per copy, whichever pool the instance came from."""
    path = config_dir / "mixtral-8x7b.yaml"
    path.write_text(
        path.read_text().replace("type: ml.g6e.xlarge ", "type: ml.g5.12xlarge ").replace("amount_usd: 150", "amount_usd: 400")
    )
    registry = load_registry(config_dir)
    with pytest.raises(ConfigError) as caught:
        synth_template({"model": "mixtral", "scale_to_zero": "true"}, tmp_path / "out", registry)
    message = str(caught.value)
    assert "model_configs/mixtral-8x7b.yaml: instance.fallback_types: ml.g6e.2xlarge cannot hold" in message
    assert "a component asks every instance of the endpoint for the same resources" in message


# Migrations


def test_a_scale_to_zero_candidate_must_share_the_pools(config_dir):
    """Both components run on the endpoint's one variant: its instance pools are the serving model's."""
    set_fallbacks(config_dir, "llama2-7b", ["ml.g5.2xlarge"])
    registry = load_registry(config_dir)
    flags = {"endpoint": "quiet", "model": "mistral", "candidate": "llama2-7b", "candidate_weight": "10", "scale_to_zero": "true"}
    with pytest.raises(ConfigError) as caught:
        deployment_from_context(flags.get, NEUTRAL_ENVIRON, registry)
    message = str(caught.value)
    assert message.startswith("-c candidate: llama2-7b's instance pools (ml.g5.xlarge, ml.g5.2xlarge) differ from mistral-7b's")
    assert "fix: give model_configs/llama2-7b.yaml the same instance.fallback_types as mistral-7b" in message


def test_the_live_state_reads_a_pooled_variants_first_pool_as_its_instance_type():
    from migration.live import instance_pools

    pooled = {
        "InstancePools": [{"InstanceType": "ml.g5.2xlarge", "Priority": 2}, {"InstanceType": "ml.g5.xlarge", "Priority": 1}]
    }
    assert instance_pools(pooled) == ("ml.g5.xlarge", "ml.g5.2xlarge")
    assert instance_pools({"InstanceType": "ml.g6e.xlarge"}) == ("ml.g6e.xlarge",)
