"""The planner's arithmetic, pinned against figures computed by hand from the data files."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from llm_config import BedrockModelConfig, ConfigError, SageMakerModelConfig
from planner.assumptions import DATA_DIR, PlannerData, load_planner_data
from planner.costs import SageMakerOption, Traffic, break_even_requests_per_hour, sagemaker_option, token_option
from planner.guide import guide_findings
from planner.recommend import Asks, assess
from tests.conftest import REPO_ROOT, SYNTH_TODAY

TRAFFIC = Traffic(requests_per_hour=100, input_tokens=500, output_tokens=300)


@pytest.fixture(scope="module")
def data(registry) -> PlannerData:
    return load_planner_data(registry, today=SYNTH_TODAY)


def hosted(data: PlannerData, key: str, traffic: Traffic = TRAFFIC) -> SageMakerOption:
    model = data.registry.models[key]
    assert isinstance(model, SageMakerModelConfig)
    return sagemaker_option(data, model, traffic)


def test_mistral_on_sagemaker(data):
    option = hosted(data, "mistral-7b")
    assert option.instance_type == "ml.g5.xlarge"
    assert option.always_on_usd == pytest.approx(1027.84)  # 1.408 $/h x 730 h
    # The throughput model at the scaling target's 8 requests in flight, on one A10G (600 GB/s, efficiency 0.77):
    #   decode step = (7.24e9 x 2 bytes + 8 x 650 tokens x 131,072 bytes of KV) / (600e9 x 0.77) = 32.82 ms
    #   prefill     = (2 x 7.24e9 x 500 + 2 x 32 x 500^2 x 4096) FLOPs / (125e12 x 0.5) = 0.1169 s
    #   latency     = 8 x 0.1169 + 300 x 0.03282 = 10.780 s
    assert option.response_seconds == pytest.approx(10.7803, abs=1e-4)
    assert option.first_token_seconds == pytest.approx(0.1169, abs=1e-4)
    assert option.ceiling_seconds(streaming=False) == pytest.approx(8.0483, abs=1e-4)  # efficiencies 1.0
    assert option.concurrent_requests == 40  # 32768 batch tokens // 800 tokens
    assert option.scaling_target == "8 concurrent requests per instance"  # the config's scaling.target_value
    assert option.capacity_per_instance == pytest.approx(2671.54, abs=0.01)  # min(8, 40) x 3600 / 10.7803 s
    assert option.instances_at(2671) == 1
    assert option.instances_at(2672) == 2
    assert option.monthly_usd_at(2672) == pytest.approx(2055.68)  # 2 x 1027.84
    assert option.monthly_usd_at(0.01) == pytest.approx(1027.84)  # autoscaling never goes below one instance


def test_kv_cache_limits_concurrency(data):
    option = hosted(data, "llama2-7b")
    assert option.concurrent_requests == 10  # 8192 batch tokens // 800 tokens
    assert option.capacity_per_instance == pytest.approx(6 * 3600 / option.response_seconds)  # min(6 target, 10)
    tight = hosted(data, "llama2-7b", Traffic(requests_per_hour=100, input_tokens=3000, output_tokens=1000))
    assert tight.concurrent_requests == 2  # 8192 // 4000: below the config's target of 6, so it caps the capacity
    assert tight.capacity_per_instance == pytest.approx(2 * 3600 / tight.response_seconds)
    assert tight.response_seconds > option.response_seconds  # longer prompts and answers, at 2 in flight


def test_a_request_longer_than_the_container_accepts_cannot_be_served(data):
    option = hosted(data, "mistral-7b", Traffic(requests_per_hour=100, input_tokens=7000, output_tokens=300))
    assert not option.serves_request  # max_input_tokens is 6144
    assert option.instances_at(100) == 1
    assert break_even_requests_per_hour(option, token_option(data, "claude-3-sonnet", TRAFFIC)) is None


def test_pay_per_token(data):
    sonnet = token_option(data, "claude-3-sonnet", TRAFFIC)
    assert sonnet.request_usd == pytest.approx(0.006)  # 0.5 x 0.003 + 0.3 x 0.015
    assert sonnet.monthly_usd_at(100) == pytest.approx(438.0)  # 100 x 730 x 0.006
    assert sonnet.response_seconds == pytest.approx(5.9)  # 0.9 s + 300 / 60
    haiku = token_option(data, "claude-3-haiku", TRAFFIC)
    assert haiku.request_usd == pytest.approx(0.0005)  # 0.5 x 0.00025 + 0.3 x 0.00125
    gpt4 = token_option(data, "gpt-4", TRAFFIC)
    assert gpt4.request_usd == pytest.approx(0.033)  # 0.5 x 0.03 + 0.3 x 0.06


def test_break_even(data):
    mistral = hosted(data, "mistral-7b")
    sonnet = token_option(data, "claude-3-sonnet", TRAFFIC)
    rate = break_even_requests_per_hour(mistral, sonnet)
    assert rate is not None
    assert rate == pytest.approx(234.667, abs=0.001)  # 1.408 $/h / 0.006 $/request
    assert mistral.monthly_usd_at(rate) == pytest.approx(sonnet.monthly_usd_at(rate))
    assert sonnet.monthly_usd_at(rate * 0.99) < mistral.monthly_usd_at(rate * 0.99)


def test_no_break_even_when_a_busy_instance_costs_more_per_request(data):
    mixtral = hosted(data, "mixtral-8x7b")
    haiku = token_option(data, "claude-3-haiku", TRAFFIC)
    # 2.61 $/h / 0.0005 $/request = 5,220 req/h, beyond one instance's 4 target x 3600 / 8.35 s = 1,723.6 req/h.
    assert mixtral.capacity_per_instance == pytest.approx(1723.62, abs=0.01)
    assert break_even_requests_per_hour(mixtral, haiku) is None
    # Against Sonnet it breaks even: 2.61 / 0.006 = 435 req/h, which one instance carries.
    assert break_even_requests_per_hour(mixtral, token_option(data, "claude-3-sonnet", TRAFFIC)) == pytest.approx(435)


def finding(data: PlannerData, topic_start: str) -> str:
    [match] = [f.planner for f in guide_findings(data, 500, 300) if f.topic.startswith(topic_start)]
    return match


def test_guide_hosting_figures_are_corrected(data):
    assert "SageMaker charges $1.408/h = $1,027.84/month" in finding(data, "Mistral 7B hosting")
    assert finding(data, "Mixtral 8x7B on ml.g5.2xlarge").startswith("cannot run: fp16 needs ~104.0 GB")
    assert "ml.g6e.xlarge with 4-bit GPTQ: $1,905.30/month" in finding(data, "Mixtral 8x7B on ml.g5.2xlarge")  # 2.61 x 730
    assert finding(data, "Scenario 1") == "$1,027.84 -> $1,905.30/month: +$877.46 (+85%)"
    assert "26.0 GB weights" in finding(data, "Llama 2 13B")
    assert "$2,045.90/month with 4-bit GPTQ weights on ml.g6e.2xlarge" in finding(data, "Llama 2 70B")  # 2.8026 x 730
    assert "ml.g6e.12xlarge, $9,574.53/month" in finding(data, "Llama 2 70B")  # 13.1158 x 730


def test_guide_scenario_2(data):
    # 100/day = 3,041.67 requests/month x $0.006 = $18.25; 10,000/day = $1,825.00. One instance carries both.
    guide = "(Mistral 7B on SageMaker vs Claude 3 Sonnet, retired on Bedrock)"
    assert finding(data, f"Scenario 2 at 100 requests/day {guide}").startswith("$1,027.84 (1 x ml.g5.xlarge) vs $18.25/month")
    assert finding(data, f"Scenario 2 at 100 requests/day {guide}").endswith("98% savings")
    assert finding(data, f"Scenario 2 at 10,000 requests/day {guide}").startswith(
        "$1,027.84 (1 x ml.g5.xlarge) vs $1,825.00/month"
    )
    assert finding(data, f"Scenario 2 at 10,000 requests/day {guide}").endswith("+78% on Bedrock")  # 1825 / 1027.84 - 1
    assert "break even at 235 req/hour (5,632/day)" in finding(data, "Where hosted APIs stop being cheaper (Claude 3 Sonnet)")


def test_guide_scenario_2_with_the_successor(data):
    # Today's successor, Claude Sonnet 5.5 (us. profile): 0.5 x 0.0022 + 0.3 x 0.011 = $0.0044/request;
    # 3,041.67 x 0.0044 = $13.38.
    successor = "(Mistral 7B on SageMaker vs Claude Sonnet 5.5)"
    assert finding(data, f"Scenario 2 at 100 requests/day {successor}").startswith("$1,027.84 (1 x ml.g5.xlarge) vs $13.38/month")
    assert finding(data, f"Scenario 2 at 10,000 requests/day {successor}").endswith("+30% on Bedrock")  # 1338.33 / 1027.84 - 1
    # 1.408 $/h / 0.0044 $/request = 320 req/h
    assert "break even at 320 req/hour" in finding(data, "Where hosted APIs stop being cheaper (Claude Sonnet 5.5)")


def test_guide_says_which_of_its_models_retired_and_what_replaces_them(data):
    assert finding(data, "Claude 3 Sonnet on Bedrock").startswith(
        "retired on Bedrock (lifecycle in model_configs/claude-3-sonnet.yaml): deploy claude-sonnet-5-5 instead,"
        " $0.0022/$0.011 per 1K tokens in/out"
    )
    assert "deploy claude-haiku-5-5 instead" in finding(data, "Claude 3 Haiku on Bedrock")
    assert "deploy claude-opus-5-5 instead" in finding(data, "Claude 3 Opus on Bedrock")


def test_a_copied_bedrock_config_is_planned_without_touching_planner_data(tmp_path):
    import shutil

    from llm_config import load_registry

    config_dir = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    text = (config_dir / "claude-haiku-4-5.yaml").read_text().replace("key: claude-haiku-4-5", "key: my-haiku")
    text = text[: text.index("planner:")] + text[text.index("budget:") :]  # no planner block either
    (config_dir / "my-haiku.yaml").write_text(text)
    data = load_planner_data(load_registry(config_dir), today=SYNTH_TODAY)
    assert data.quality["my-haiku"] == "good"
    assert data.throughput["my-haiku"].first_token_seconds == 2.0  # the documented default
    assert data.token_prices["my-haiku"].input_per_1k_usd == 0.0011


def test_a_bedrock_entry_in_the_planner_data_files_is_refused(tmp_path, registry):
    import shutil

    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "quality.yaml"
    path.write_text(path.read_text() + "  claude-haiku-4-5: critical\n")
    with pytest.raises(ConfigError, match="Bedrock models keep their planner figures in their own config"):
        load_planner_data(registry, data_dir=tmp_path, today=SYNTH_TODAY)


def test_guide_scenario_3(data):
    # GPT-3.5: 0.5 x 0.0005 + 0.3 x 0.0015 = $0.0007; GPT-4: $0.033. 800 x 0.0007 + 200 x 0.033 = 0.56 + 6.60.
    assert finding(data, "Scenario 3").startswith(
        "at 500 in + 300 out tokens: $0.56 + $6.60 = $7.16 vs $33.00 all GPT-4: 78% savings"
    )


def write_yaml(path: Path, content: object) -> Path:
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def test_overrides_replace_then_scale_prices(registry, tmp_path):
    overrides = write_yaml(
        tmp_path / "eu.yaml",
        {
            "label": "eu-west-1 with 10% off",
            "sagemaker_price_multiplier": 0.9,
            "token_price_multiplier": 0.5,
            "sagemaker_hourly_usd": {"ml.g5.xlarge": 1.6},
            "token_prices": {"claude-3-haiku": {"input_per_1k_usd": 0.001, "output_per_1k_usd": 0.002}},
            "throughput": {"mistral-7b": {"stream_tokens_per_second": 50, "first_token_seconds": 0.3}},
        },
    )
    data = load_planner_data(registry, overrides)
    assert data.sagemaker_hourly_usd["ml.g5.xlarge"] == pytest.approx(1.44)  # replaced 1.6 x 0.9
    assert data.sagemaker_hourly_usd["ml.g5.12xlarge"] == pytest.approx(6.381)  # 7.09 x 0.9
    haiku = token_option(data, "claude-3-haiku", TRAFFIC)
    assert haiku.request_usd == pytest.approx(0.00055)  # (0.5 x 0.001 + 0.3 x 0.002) x 0.5: replaced, then scaled
    sonnet = token_option(data, "claude-3-sonnet", TRAFFIC)
    assert sonnet.request_usd == pytest.approx(0.003)  # 0.006 x 0.5
    mistral = hosted(data, "mistral-7b")
    assert mistral.response_seconds == pytest.approx(6.3)  # measured figures replace the model: 0.3 + 300 / 50
    assert mistral.capacity_per_instance == pytest.approx(4571.43, abs=0.01)  # min(8, 40) x 3600 / 6.3
    assert mistral.speed_source.startswith("measured (")
    assert "eu-west-1 with 10% off" in data.price_basis


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"sagemaker_hourly_usd": {"ml.g7.xlarge": 1.0}}, r"sagemaker_hourly_usd\.ml\.g7\.xlarge: unknown instance type"),
        ({"token_prices": {"gpt-5": {"input_per_1k_usd": 1, "output_per_1k_usd": 1}}}, r"token_prices\.gpt-5: unknown"),
        ({"throughput": {"mistral-7b": {"stream_tokens_per_second": 40}}}, r"throughput\.mistral-7b: .* needs both figures"),
        ({"throughput": {"claude-3-haiku": {"max_concurrent_requests": 4}}}, r"max_concurrent_requests: unknown key"),
        ({"sagemaker_price_multiplier": -1}, r"sagemaker_price_multiplier"),
        ({"discount": 10}, r"discount: unknown key"),
        ({"target_utilization": 0.5}, r"target_utilization: unknown key"),  # the config's scaling decides
    ],
)
def test_bad_overrides_name_the_file_and_field(registry, tmp_path, content, message):
    path = write_yaml(tmp_path / "overrides.yaml", content)
    with pytest.raises(ConfigError, match=message) as error:
        load_planner_data(registry, path)
    assert "overrides.yaml" in str(error.value)


def test_every_pay_per_token_model_needs_throughput(registry, tmp_path):
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    throughput = yaml.safe_load((tmp_path / "throughput.yaml").read_text())
    del throughput["models"]["gpt-4"]
    write_yaml(tmp_path / "throughput.yaml", throughput)
    with pytest.raises(ConfigError, match=r"throughput.yaml: no entry for gpt-4"):
        load_planner_data(registry, data_dir=tmp_path)


def test_a_sagemaker_speed_in_the_data_file_is_an_error(registry, tmp_path):
    """Self-hosted speeds come from the throughput model: a hand-entered figure would silently disagree with it."""
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    throughput = yaml.safe_load((tmp_path / "throughput.yaml").read_text())
    throughput["models"]["mixtral-8x7b"] = {"stream_tokens_per_second": 25, "first_token_seconds": 0.6, "source": "guess"}
    write_yaml(tmp_path / "throughput.yaml", throughput)
    with pytest.raises(ConfigError, match=r"throughput.yaml: models\.mixtral-8x7b: a SageMaker model's speed comes from"):
        load_planner_data(registry, data_dir=tmp_path)


def test_data_files_cite_a_source_and_date(data):
    for key, price in data.token_prices.items():
        assert price.source and price.retrieved, key
    for key, throughput in data.throughput.items():
        assert throughput.source, key


def test_bedrock_prices_come_from_the_model_configs(data):
    """One source of truth: the planner prices each Bedrock model with what its config (and so `cdk deploy`) says."""
    bedrock = [m for m in data.registry.models.values() if isinstance(m, BedrockModelConfig)]
    assert {m.key for m in bedrock} == {k for k, p in data.token_prices.items() if p.provider == "bedrock"}
    for model in bedrock:
        price = data.token_prices[model.key]
        assert (price.input_per_1k_usd, price.output_per_1k_usd) == (
            model.prices.input_per_1k_usd,
            model.prices.output_per_1k_usd,
        )
        assert f"model_configs/{model.key}.yaml" in price.source
        assert price.retrieved == model.prices.retrieved


def test_a_bedrock_price_in_the_data_file_is_an_error(registry, tmp_path):
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
    prices = yaml.safe_load((tmp_path / "token_prices.yaml").read_text())
    prices["prices"]["claude-3-haiku"] = {**prices["prices"]["gpt-4"], "provider": "bedrock"}
    write_yaml(tmp_path / "token_prices.yaml", prices)
    with pytest.raises(ConfigError, match=r"token_prices.yaml: prices\.claude-3-haiku: Bedrock prices belong in"):
        load_planner_data(registry, data_dir=tmp_path)


def test_autoscaling_stays_within_the_configs_scaling_limits(data):
    mistral = hosted(data, "mistral-7b")  # scaling: min_instances 1, max_instances 4
    assert (mistral.min_instances, mistral.max_instances) == (1, 4)
    floor_two = replace(mistral, min_instances=2)
    assert floor_two.instances_at(10) == 2
    assert floor_two.monthly_usd_at(10) == pytest.approx(2055.68)  # 2 x 1.408 x 730
    sonnet = token_option(data, "claude-3-sonnet", TRAFFIC)
    assert break_even_requests_per_hour(floor_two, sonnet) == pytest.approx(469.33, abs=0.01)  # 2 x 1.408 / 0.006


def test_traffic_beyond_max_instances_is_a_missed_ask(data):
    traffic = Traffic(requests_per_hour=20_000, input_tokens=500, output_tokens=300)
    mistral = hosted(data, "mistral-7b", traffic)
    assert mistral.instances_at(20_000) == 8  # ceil(20,000 / 2,671.54)
    assessment = assess(mistral, Asks(traffic=traffic, quality="good", latency_seconds=None, budget_usd=None, streaming=False))
    assert assessment.misses == ("needs 8 instances, config's scaling.max_instances is 4",)
    assert assessment.monthly_usd == pytest.approx(8222.72)  # 8 x 1,027.84: what that traffic would need
