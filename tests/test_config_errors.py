"""Bad config files and bad `-c` values stop synth with one message naming the file, the field and the fix."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.deployment import deployment_from_context
from tests.conftest import REPO_ROOT

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", target)
    return target


def edit(config_dir: Path, name: str, change: Edit) -> None:
    path = config_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def load_error(config_dir: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_registry(config_dir)
    return str(caught.value)


def test_shipped_configs_load(config_dir):
    registry = load_registry(config_dir)
    assert set(registry.models) >= {"mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b"}
    assert registry.resolve("mixtral").key == "mixtral-8x7b"
    assert registry.resolve("mistral").key == "mistral-7b"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(instance_typ="ml.g5.xlarge"), r"mistral-7b.yaml: instance_typ: unknown key\n  fix: remove it"),
        (
            lambda d: d["container"].update(max_total_tokens="8192"),
            r"container.max_total_tokens: Input should be a valid integer",
        ),
        (lambda d: d["instance"].update(initial_count=0), r"instance.initial_count: Input should be greater than or equal to 1"),
        (
            lambda d: d["instance"].update(type="ml.g5.huge"),
            r"instance.type: unknown instance type 'ml.g5.huge'\n  fix: use one of",
        ),
        (lambda d: d["container"].update(image="tgi-9"), r"container.image: unknown container image 'tgi-9'"),
        (lambda d: d.pop("latency_budget_seconds"), r"latency_budget_seconds: required key is missing"),
        (
            lambda d: d["container"].update(max_input_tokens=8192),
            r"container: max_input_tokens \(8192\) must be below max_total_tokens \(8192\)",
        ),
        (lambda d: d["container"].update(max_batch_total_tokens=4096), r"exceeds max_batch_total_tokens"),
        (lambda d: d["container"]["environment"].update(SM_NUM_GPUS="2"), r"SM_NUM_GPUS is set by the project"),
        (lambda d: d["container"]["environment"].update(MAX_INPUT_LENGTH="1"), r"MAX_INPUT_LENGTH is the deprecated name"),
        (lambda d: d["container"].update(quantization="int3"), r"container.quantization: got 'int3'\n  fix: use 'none', 'gptq'"),
        (lambda d: d["instance"].update(model_data_download_timeout_seconds=7200), r"less than or equal to 3600"),
        (
            lambda d: d["hugging_face"].pop("token_secret_name"),
            r"hugging_face: .* is gated .*\n  fix: set hugging_face.token_secret_name",
        ),
        (lambda d: d.update(prompt_format="[INST] [/INST]"), r"prompt_format: .*no \{prompt\} placeholder"),
        (lambda d: d.update(key="mistral-8b"), r"key: key 'mistral-8b' differs from the file name"),
        (lambda d: d.update(hosting="ec2"), r"hosting: got 'ec2'\n  fix: use one of"),
    ],
)
def test_bad_field_names_file_field_and_fix(config_dir, change, expected):
    edit(config_dir, "mistral-7b", change)
    message = load_error(config_dir)
    assert message.startswith(f"{config_dir / 'mistral-7b.yaml'}: ")
    assert re.search(expected, message), message


def test_duplicate_alias_names_both_files(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d.update(aliases=["mixtral"]))
    message = load_error(config_dir)
    assert re.match(r".*mixtral-8x7b.yaml: aliases: 'mixtral' is already a model key or alias in .*mistral-7b.yaml", message)


def test_malformed_yaml_names_the_line(config_dir):
    (config_dir / "mixtral-8x7b.yaml").write_text("key: mixtral-8x7b\ncontainer: [unclosed\n")
    message = load_error(config_dir)
    assert "mixtral-8x7b.yaml: malformed YAML at line" in message
    assert "fix: fix the YAML syntax" in message


def test_non_mapping_file(config_dir):
    (config_dir / "llama2-7b.yaml").write_text("- just a list\n")
    assert "must hold a YAML mapping" in load_error(config_dir)


def test_an_unpinned_revision_needs_a_written_reason(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(revision="main"))
    message = load_error(config_dir)
    assert "mistral-7b.yaml: hugging_face: revision 'main' is not a commit SHA, so two instances may load" in message
    assert "or keep the branch and say why in hugging_face.unpinned_reason" in message
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(unpinned_reason="  "))
    assert "revision 'main' is not a commit SHA" in load_error(config_dir)
    edit(config_dir, "mistral-7b", lambda d: d["hugging_face"].update(unpinned_reason="rehearsal only"))
    model = load_registry(config_dir).resolve("mistral")
    assert isinstance(model, SageMakerModelConfig) and model.hugging_face.revision == "main"


def test_every_shipped_branch_revision_says_why(registry):
    for model in registry.models.values():
        source = getattr(model, "hugging_face", None)
        if source is not None and len(source.revision) != 40:
            assert source.unpinned_reason and "Pin the SHA" in source.unpinned_reason, model.key


def test_broken_instance_catalogue(config_dir):
    edit(config_dir, "instances", lambda d: d["instances"]["ml.g5.xlarge"].update(gpus=0))
    assert "instances.yaml: instances.ml.g5.xlarge.gpus: Input should be greater than or equal to 1" in load_error(config_dir)


def test_mixtral_on_the_guides_instance_does_not_fit(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["instance"].update(type="ml.g5.2xlarge"))
    message = load_error(config_dir)
    assert "mixtral-8x7b.yaml: instance.type: mixtral-8x7b (gptq weights) does not fit ml.g5.2xlarge" in message
    assert "26.3 GB weights" in message
    assert "fix: set instance.type to ml.g6.12xlarge, the cheapest catalogued instance that fits" in message


def test_mixtral_fp16_on_g5_12xlarge_needs_quantization(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["container"].update(quantization="none"))
    message = load_error(config_dir)
    assert "93.4 GB weights" in message
    assert "ml.g5.48xlarge" in message
    assert "set container.quantization to eetq to keep ml.g5.12xlarge" in message


def test_llama2_13b_fp16_does_not_fit_one_a10g(config_dir):
    edit(config_dir, "llama2-13b", lambda d: d["instance"].update(type="ml.g5.2xlarge"))
    message = load_error(config_dir)
    assert "llama2-13b (fp16 weights) does not fit ml.g5.2xlarge" in message
    assert "26.0 GB weights" in message


def test_llama2_70b_needs_quantized_weights_on_g5_12xlarge(config_dir):
    edit(config_dir, "llama2-70b", lambda d: d["container"].update(quantization="none"))
    assert "138.0 GB weights" in load_error(config_dir)


def test_kv_cache_too_large_suggests_a_smaller_batch(config_dir):
    edit(config_dir, "llama2-7b", lambda d: d["container"].update(max_batch_total_tokens=16384))
    message = load_error(config_dir)
    assert "does not fit ml.g5.xlarge" in message
    assert "lower container.max_batch_total_tokens to at most" in message


def context(**values: str) -> Callable[[str], Any]:
    return values.get


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"model": "gpt-5"}, r"-c model: unknown model 'gpt-5'\n  fix: use one of .*mixtral"),
        ({"endpoint": "my_endpoint!"}, r"-c endpoint: 'my_endpoint!' is not a valid SageMaker endpoint name"),
        ({"endpoint": "-chat"}, r"not a valid SageMaker endpoint name"),
        ({"region": "mars-1"}, r"-c region: 'mars-1' is not an AWS region name"),
        ({"model": ""}, r"-c model: expected a non-empty text value"),
    ],
)
def test_bad_context_values(registry, values, expected):
    with pytest.raises(ConfigError, match=expected):
        deployment_from_context(context(**values), {}, registry)


def test_context_defaults(registry):
    spec = deployment_from_context(context(), {}, registry)
    assert (spec.model.key, spec.endpoint_name, spec.region, spec.stack_name) == (
        "mistral-7b",
        "mistral-7b",
        "us-east-1",
        "llm-mistral-7b",
    )
    assert deployment_from_context(context(), {"CDK_DEFAULT_REGION": "eu-west-1"}, registry).region == "eu-west-1"
    assert deployment_from_context(context(region="eu-central-1"), {"CDK_DEFAULT_REGION": "eu-west-1"}, registry).region == (
        "eu-central-1"
    )


def test_region_without_a_registry_account_is_refused(synth):
    with pytest.raises(ConfigError, match=r"has no registry account listed for us-gov-west-1"):
        synth(model="mistral", region="us-gov-west-1")


def test_a_budget_below_the_always_on_floor_is_refused(config_dir):
    edit(config_dir, "mixtral-8x7b", lambda d: d["budget"].update(amount_usd=100))
    message = load_error(config_dir)
    assert re.search(
        r"mixtral-8x7b.yaml: budget.amount_usd: the minimum capacity alone costs \$170\.16 per day \(\$7\.09/h\)", message
    )
    assert "alert every period\n  fix: raise the budget above $170 or lower scaling.min_instances" in message


def test_a_monthly_budget_is_compared_with_730_hours(config_dir):
    edit(config_dir, "mistral-7b", lambda d: d["budget"].update(time_unit="MONTHLY"))
    assert "costs $1,027.84 per month" in load_error(config_dir)  # 1.408 x 730
