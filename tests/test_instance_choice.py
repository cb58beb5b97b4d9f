"""Instance choice: every shipped config runs on the cheapest catalogued instance that passes the fit check
(GPU memory, host memory for loading, latency of its reference request at its autoscaling target), and a
config that fails names that instance."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.sizing import assess, cheapest_passing, predict_at_target
from tests.conftest import REPO_ROOT


def sagemaker_models(registry: Any) -> list[SageMakerModelConfig]:
    return [m for m in registry.models.values() if isinstance(m, SageMakerModelConfig)]


def test_every_shipped_config_is_on_the_cheapest_passing_instance(registry):
    """No catalogued instance is both cheaper than a config's and passing: the cost-optimality test."""
    for model in sagemaker_models(registry):
        configured = registry.instances.instances[model.instance.type]
        assert assess(model, model.instance.type, configured).passes, model.key
        for name, candidate in registry.instances.instances.items():
            if candidate.sagemaker_hourly_usd < configured.sagemaker_hourly_usd:
                report = assess(model, name, candidate)
                assert not report.passes, f"{model.key}: {name} (${candidate.sagemaker_hourly_usd}/h) is cheaper and passes"


def test_the_chosen_instances(registry):
    chosen = {m.key: m.instance.type for m in sagemaker_models(registry)}
    assert chosen == {
        "mistral-7b": "ml.g5.xlarge",
        "mistral-7b-v0-3": "ml.g5.xlarge",
        "llama2-7b": "ml.g5.xlarge",
        "mixtral-8x7b": "ml.g6e.xlarge",  # 4-bit weights + KV cache in one 48 GB L40S: $2.61/h, not $7.09/h
        "llama2-13b": "ml.g6e.xlarge",
        "llama2-70b": "ml.g6e.2xlarge",  # ml.g6e.xlarge's 32 GiB host memory cannot stage 39 GB of weights
    }
    for model in sagemaker_models(registry):
        best = cheapest_passing(model, registry.instances)
        assert best is not None
        assert best.instance_type == model.instance.type


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", target)
    return target


def edit(config_dir: Path, name: str, change: Callable[[dict[str, Any]], object]) -> None:
    path = config_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def load_error(config_dir: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_registry(config_dir)
    return str(caught.value)


def test_host_memory_too_small_to_load_the_weights(config_dir):
    edit(config_dir, "llama2-70b", lambda d: d["instance"].update(type="ml.g6e.xlarge"))
    message = load_error(config_dir)
    assert "llama2-70b (gptq weights) on ml.g6e.xlarge fails host memory: loading needs ~40.8 GB" in message
    assert "the instance has 34.4 GB (32 GiB)" in message
    assert "GPU memory" not in message.split("fix:")[0]  # 46.2 of 48 GB: only the host is short
    assert "fix: set instance.type to ml.g6e.2xlarge, the cheapest catalogued instance that passes all three checks" in message


def test_latency_over_budget_names_a_faster_instance(config_dir):
    # An L4 has half an A10G's bandwidth: Mistral 7B fits it but answers the reference request too slowly.
    edit(config_dir, "mistral-7b", lambda d: d["instance"].update(type="ml.g6.xlarge"))
    message = load_error(config_dir)
    assert "mistral-7b (fp16 weights) on ml.g6.xlarge fails latency: 8.2 s predicted (ceiling 6.5 s)" in message
    assert "at 8 concurrent requests > latency_budget_seconds 5 s (reference_request 500 + 120 tokens)" in message
    assert "fix: set instance.type to ml.g5.xlarge" in message
    assert "or lower scaling.target_value" in message


def test_a_lower_scaling_target_is_faster(registry):
    """Fewer requests in flight per instance: each one reads less KV cache and waits for fewer prompts."""
    model = registry.models["mistral-7b"]
    instance = registry.instances.instances["ml.g5.xlarge"]
    at_target, concurrency = predict_at_target(model, instance, 500, 120)
    fewer = model.model_copy(update={"scaling": model.scaling.model_copy(update={"target_value": 2})})
    at_two, two = predict_at_target(fewer, instance, 500, 120)
    assert (concurrency, two) == (8, 2)
    assert at_two.estimate.latency_seconds < at_target.estimate.latency_seconds


def test_an_invocations_target_gives_the_concurrency_by_littles_law(registry):
    model = registry.models["mistral-7b"]
    instance = registry.instances.instances["ml.g5.xlarge"]
    scaling = model.scaling.model_copy(update={"target_metric": "SageMakerVariantInvocationsPerInstance", "target_value": 60})
    prediction, concurrency = predict_at_target(model.model_copy(update={"scaling": scaling}), instance, 500, 120)
    # 60 invocations a minute = 1 a second; each takes ~4 s, so about 4-5 are in flight.
    assert concurrency == pytest.approx(prediction.estimate.latency_seconds, abs=1)


def test_the_reference_request_must_fit_the_container(config_dir):
    edit(config_dir, "llama2-7b", lambda d: d.update(reference_request={"input_tokens": 3500, "output_tokens": 100}))
    assert "reference_request (3500 + 100 tokens) is longer than the container accepts" in load_error(config_dir)


def test_a_mixture_of_experts_needs_its_active_parameters(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d.pop("active_parameters_billion"))
    assert "a mixture of experts needs active_parameters_billion" in load_error(config_dir)


def test_an_unknown_gpu_model_in_the_catalogue(config_dir):
    edit(config_dir, "instances", lambda d: d["instances"]["ml.g5.xlarge"].update(gpu="A10"))
    message = load_error(config_dir)
    assert "instances.ml.g5.xlarge.gpu: 'A10' is not in gpu_models" in message
    assert "fix: use one of A100-40GB, A100-80GB, A10G, H100, L4, L40S" in message


def test_an_instance_price_needs_a_known_source(config_dir):
    edit(config_dir, "instances", lambda d: d["instances"]["ml.g6e.xlarge"].update(price_source="a blog"))
    assert "instances.ml.g6e.xlarge.price_source: 'a blog' is not in price_sources" in load_error(config_dir)


def test_the_catalogue_covers_the_real_time_gpu_lineup(registry):
    instances = registry.instances.instances
    for family, sizes in {
        "g5": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "12xlarge", "24xlarge", "48xlarge"),
        "g6": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "12xlarge", "24xlarge", "48xlarge"),
        "g6e": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge"),
    }.items():
        for size in sizes:
            assert f"ml.{family}.{size}" in instances
    assert {"ml.p4d.24xlarge", "ml.p5.48xlarge"} <= set(instances)
    g6e = instances["ml.g6e.xlarge"]
    assert (g6e.gpu_model, g6e.gpus, g6e.gpu_memory_gb, g6e.memory_bandwidth_gb_per_second) == ("L40S", 1, 48, 864)
    assert (g6e.host_memory_gib, g6e.vcpus, g6e.nvme_gb, g6e.sagemaker_hourly_usd) == (32, 4, 250, 2.61)
    assert instances["ml.p5.48xlarge"].interconnect.name == "nvlink4"
    assert instances["ml.g6e.12xlarge"].interconnect.name == "pcie-gen4"
    for name, instance in instances.items():
        assert instance.price_source in registry.instances.price_sources, name
        assert instance.local_nvme, name  # every catalogued GPU instance has instance storage


def test_gpu_memory_counts_only_the_engines_share(registry):
    """vLLM and TGI allocate at most container.gpu_memory_utilization of each GPU: a model that fits the whole
    GPU but not that share is refused (mistral-7b needs ~20.8 GB of the A10G's 24 GB; 85% is 20.4 GB)."""
    mistral = registry.models["mistral-7b"]
    instance = registry.instances.instances[mistral.instance.type]
    assert assess(mistral, mistral.instance.type, instance).gpu_memory.available_gb == pytest.approx(24 * 0.9)
    squeezed = mistral.model_copy(update={"container": mistral.container.model_copy(update={"gpu_memory_utilization": 0.85})})
    report = assess(squeezed, squeezed.instance.type, instance)
    assert not report.gpu_memory.fits
    assert report.gpu_memory.available_gb == pytest.approx(24 * 0.85)
