"""Container families: each derives its engine's environment from the typed config and enforces the engine's rules.

LMI (vLLM) is the default family; TGI stays selectable with `container.family: tgi`. Quantized checkpoints are
detected by both engines from the checkpoint's config.json, so LMI must not be told the method again; the
methods an engine applies while loading an fp16 checkpoint must be named.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App
from aws_cdk.assertions import Template

from llm_config import ConfigError, InstanceType, SageMakerModelConfig, load_registry
from llm_config.serving import check_engine_rules, container_environment
from llm_config.yaml_files import parse_as
from stacks.app_factory import add_deployment
from tests.conftest import CDK_JSON_CONTEXT, REPO_ROOT, client_parameter, only

Change = Callable[[dict[str, Any]], object]


def config(key: str, change: Change | None = None) -> SageMakerModelConfig:
    data = yaml.safe_load((REPO_ROOT / "model_configs" / f"{key}.yaml").read_text())
    if change:
        change(data)
    return parse_as(SageMakerModelConfig, data, f"model_configs/{key}.yaml")


def environment(key: str, change: Change | None = None, gpus: int = 1) -> dict[str, str]:
    return container_environment(config(key, change), instance(gpus))


def instance(gpus: int) -> InstanceType:
    """A catalogued A10G instance with ``gpus`` GPUs (the environment depends only on the count)."""
    return load_registry().instances.instances["ml.g5.xlarge"].model_copy(update={"gpus": gpus})


def container(**fields: Any) -> Change:
    return lambda data: data["container"].update(fields)


def tgi(**fields: Any) -> Change:
    return container(family="tgi", max_batch_size=None, **fields)


def test_lmi_is_the_default_family():
    data = yaml.safe_load((REPO_ROOT / "model_configs" / "mistral-7b.yaml").read_text())
    del data["container"]["family"]
    assert parse_as(SageMakerModelConfig, data, "x").container.family == "lmi"


def test_lmi_environment_from_the_typed_fields():
    assert environment("mistral-7b", gpus=1) == {
        "HF_MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.2",
        "OPTION_ASYNC_MODE": "true",
        "OPTION_ENTRYPOINT": "djl_python.lmi_vllm.vllm_async_service",
        "OPTION_GPU_MEMORY_UTILIZATION": "0.9",
        "OPTION_MAX_MODEL_LEN": "8192",
        "OPTION_MAX_ROLLING_BATCH_SIZE": "16",
        "OPTION_MODEL_LOADING_TIMEOUT": "600",
        "OPTION_REVISION": "63a8b081895390a26e140280378bc85ec8bce07a",
        "OPTION_ROLLING_BATCH": "disable",
        "OPTION_TENSOR_PARALLEL_DEGREE": "1",
        "SERVING_FAIL_FAST": "true",
    }


def test_tgi_environment_from_the_same_fields():
    assert environment("mistral-7b", tgi(gpu_memory_utilization=0.85), gpus=4) == {
        "CUDA_MEMORY_FRACTION": "0.85",
        "HF_MODEL_ID": "mistralai/Mistral-7B-Instruct-v0.2",
        "HF_MODEL_REVISION": "63a8b081895390a26e140280378bc85ec8bce07a",
        "MAX_BATCH_TOTAL_TOKENS": "32768",
        "MAX_INPUT_TOKENS": "6144",
        "MAX_TOTAL_TOKENS": "8192",
        "SM_NUM_GPUS": "4",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (container(quantization="fp8"), "fp8"),  # an fp16 checkpoint, quantized while loading
        (container(quantization="bitsandbytes-nf4"), "bitsandbytes"),  # vLLM's in-flight bitsandbytes is 4-bit NF4
        (container(quantization="fp8", quantized_checkpoint=True), None),  # an FP8 checkpoint: detected
        (container(quantization="awq"), None),  # AWQ and GPTQ exist only as checkpoints: detected
        (container(quantization="gptq", quantized_checkpoint=True), None),
    ],
)
def test_lmi_names_only_load_time_quantization(change, expected):
    assert environment("mistral-7b", change).get("OPTION_QUANTIZE") == expected


def test_tgi_names_the_method_in_either_case():
    assert environment("mixtral-8x7b", tgi(), gpus=4)["HF_MODEL_QUANTIZE"] == "gptq"
    assert environment("mistral-7b", tgi(quantization="eetq"))["HF_MODEL_QUANTIZE"] == "eetq"


def test_extra_engine_arguments_pass_through():
    env = environment("mistral-7b", container(environment={"OPTION_ENABLE_PREFIX_CACHING": "true"}))
    assert env["OPTION_ENABLE_PREFIX_CACHING"] == "true"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            container(quantization="gptq", quantized_checkpoint=False),
            r"container: gptq weights cannot be made while loading: the checkpoint must be quantized beforehand\n"
            r"  fix: leave quantized_checkpoint out \(or true\) and point hugging_face.model_id at a gptq checkpoint",
        ),
        (
            container(quantization="eetq"),
            r"the lmi family cannot quantize to eetq while loading\n  fix: use one of fp8, bitsandbytes-nf4",
        ),
        (
            container(quantization="bitsandbytes"),
            r"the lmi family cannot quantize to bitsandbytes while loading\n  fix: use one of fp8, bitsandbytes-nf4$",
        ),
        (container(quantization="bitsandbytes-fp4", quantized_checkpoint=True), r"the lmi family does not load bitsandbytes-fp4"),
        (tgi(quantization="eetq", quantized_checkpoint=True), r"the tgi family does not load eetq checkpoints"),
        (container(quantized_checkpoint=True), r"quantized_checkpoint is true but quantization is none"),
        (
            container(max_batch_size=None),
            r"the lmi family needs max_batch_size \(OPTION_MAX_ROLLING_BATCH_SIZE, vLLM's max_num_seqs\)",
        ),
        (container(family="tgi"), r"TGI bounds its batch by max_batch_total_tokens.*\n  fix: remove container.max_batch_size"),
        (container(max_batch_size=40000), r"max_batch_size \(40000\) exceeds max_batch_total_tokens \(32768\)"),
        (container(gpu_memory_utilization=1.2), r"container.gpu_memory_utilization: Input should be less than or equal to 1"),
        (container(family="vllm"), r"container.family: got 'vllm'\n  fix: use 'lmi' or 'tgi'"),
        (
            container(gpu_memory_utilization=0.96),
            r"alarms.gpu_memory_utilization_percent \(95\) is not above container.gpu_memory_utilization \(96%\)",
        ),
    ],
)
def test_engine_rules_stop_the_loader(change, expected):
    with pytest.raises(ConfigError, match=expected):
        config("mistral-7b", change)


def test_vllm_must_shard_the_kv_heads_evenly():
    mistral = config("mistral-7b")  # 8 KV heads
    for gpus in (1, 2, 4, 8):
        check_engine_rules(mistral, instance(gpus), "model_configs/mistral-7b.yaml")
    with pytest.raises(ConfigError, match=r"instance.type: vLLM cannot shard 8 KV heads over 3 GPUs"):
        check_engine_rules(mistral, instance(3), "model_configs/mistral-7b.yaml")


@pytest.fixture(scope="module")
def tgi_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """mistral-7b switched to TGI with one line (and the LMI-only batch size removed), synthesized like `cdk synth`."""
    config_dir = tmp_path_factory.mktemp("configs") / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / "mistral-7b.yaml"
    data = yaml.safe_load(path.read_text())
    data["container"]["family"] = "tgi"
    del data["container"]["max_batch_size"]
    path.write_text(yaml.safe_dump(data))
    app = App(context={**CDK_JSON_CONTEXT, "model": "mistral"}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = add_deployment(app, {}, load_registry(config_dir))
    return Template.from_stack(stack)


def test_tgi_stays_selectable_per_config(tgi_template):
    container = only(tgi_template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:"
        "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )
    assert container["Environment"]["SM_NUM_GPUS"] == "1"
    assert container["Environment"]["HUGGING_FACE_HUB_TOKEN"].startswith("{{resolve:secretsmanager:")
    assert "HF_TOKEN" not in container["Environment"]
    # A CUDA 12.4 image on the driver-550 AMI, not the CUDA 13 one LMI needs.
    variant = only(tgi_template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]
    assert variant["InferenceAmiVersion"] == "al2-ami-sagemaker-inference-gpu-3-1"
    metadata = json.loads(client_parameter(tgi_template, "mistral-7b")["Value"])
    assert metadata["variants"][0]["container_family"] == "tgi"


def test_clients_learn_the_family(synth):
    metadata = json.loads(client_parameter(synth(model="mistral"), "mistral-7b")["Value"])
    assert metadata["variants"][0]["container_family"] == "lmi"


def test_an_image_of_another_family_stops_the_loader(tmp_path: Path):
    config_dir = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / "mistral-7b.yaml"
    data = yaml.safe_load(path.read_text())
    data["container"]["image"] = "huggingface-llm-3.3.6"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"mistral-7b.yaml: container.image: huggingface-llm-3.3.6 is a tgi image"):
        load_registry(config_dir)


def test_the_schema_doc_states_each_familys_image_and_host(registry):
    doc = " ".join((REPO_ROOT / "model_configs" / "README.md").read_text().split())
    for family in ("lmi", "tgi"):
        image = registry.containers.image_for(family, None, "test")
        ami = registry.containers.ami_for(image)
        assert f"`{image.repository}:{image.tag}`" in doc
        assert f"`{image.inference_ami_version}` (driver {ami.nvidia_driver}, CUDA {ami.cuda})" in doc


def test_a_scaling_target_above_the_engines_batch_is_refused():
    """A concurrency target above the batch is reached only by requests queued behind a full batch: the endpoint
    would scale out only after latency has already doubled."""
    source = "model_configs/mistral-7b.yaml"
    mistral = config("mistral-7b", lambda data: data["scaling"].update(target_value=16))  # max_batch_size 16: allowed
    check_engine_rules(mistral, instance(1), source)
    above = config("mistral-7b", lambda data: data["scaling"].update(target_value=17))
    with pytest.raises(
        ConfigError,
        match=r"^model_configs/mistral-7b.yaml: scaling.target_value: 17 requests in flight per instance is above the 16 the"
        r" engine decodes at once \(container.max_batch_size \(16\)\).*\n  fix: set scaling.target_value to at most 16",
    ):
        check_engine_rules(above, instance(1), source)
    # An invocations-per-minute target is a rate: not compared with the batch.
    rate = config(
        "mistral-7b", lambda d: d["scaling"].update(target_metric="SageMakerVariantInvocationsPerInstance", target_value=300)
    )
    check_engine_rules(rate, instance(1), source)


def test_tgis_batch_for_the_scaling_target_is_its_token_budget_over_the_reference_request():
    def tgi(target: float) -> Change:
        def change(data: dict[str, Any]) -> None:
            data["container"].update(family="tgi", max_batch_total_tokens=8192)
            data["container"].pop("max_batch_size")
            data["scaling"]["target_value"] = target

        return change

    source = "model_configs/mistral-7b.yaml"
    check_engine_rules(config("mistral-7b", tgi(13)), instance(1), source)  # 8192 // (500 + 120) = 13
    with pytest.raises(ConfigError, match=r"above the 13 the engine decodes at once \(container.max_batch_total_tokens 8192 /"):
        check_engine_rules(config("mistral-7b", tgi(14)), instance(1), source)
