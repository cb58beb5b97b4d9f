"""The guide's cost figures and scenarios, recomputed from the data files, with every correction spelled out."""

from __future__ import annotations

from dataclasses import dataclass

from llm_config import SageMakerModelConfig
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.sizing import estimate_gpu_memory, model_shape
from llm_config.throughput import Hardware, predict
from planner.assumptions import PRICE_FILES, PlannerData
from planner.costs import (
    SageMakerOption,
    TokenOption,
    Traffic,
    break_even_requests_per_hour,
    monthly_instance_usd,
    sagemaker_option,
    token_option,
)

GUIDE_EC2_XLARGE_HOURLY_USD = 1.006  # what the guide calls the ml.g5.xlarge price


@dataclass(frozen=True)
class Finding:
    """One of the guide's claims next to what the data files give."""

    topic: str
    guide: str
    planner: str


def guide_findings(data: PlannerData, input_tokens: int, output_tokens: int) -> list[Finding]:
    traffic = Traffic(requests_per_hour=0, input_tokens=input_tokens, output_tokens=output_tokens)
    mistral = _hosted(data, "mistral-7b", traffic)
    mixtral = _hosted(data, "mixtral-8x7b", traffic)
    llama13 = _hosted(data, "llama2-13b", traffic)
    llama70 = _hosted(data, "llama2-70b", traffic)
    sonnet = token_option(data, "claude-3-sonnet", traffic)  # the guide's model, retired or not
    successor = token_option(data, data.current("claude-3-sonnet"), traffic)
    gpt35 = token_option(data, "gpt-3.5-turbo", traffic)
    gpt4 = token_option(data, "gpt-4", traffic)
    xlarge = data.sagemaker_hourly_usd["ml.g5.xlarge"]
    increase = mixtral.always_on_usd - mistral.always_on_usd
    mistral_config = data.registry.models["mistral-7b"]
    assert isinstance(mistral_config, SageMakerModelConfig)
    return [
        Finding(
            "Mistral 7B hosting on ml.g5.xlarge",
            f"${GUIDE_EC2_XLARGE_HOURLY_USD}/hour = $723/month",
            f"${GUIDE_EC2_XLARGE_HOURLY_USD}/h is the EC2 price; SageMaker charges ${xlarge:g}/h"
            f" = ${mistral.always_on_usd:,.2f}/month (730 h)",
        ),
        Finding(
            "Mixtral 8x7B on ml.g5.2xlarge",
            "$1.515/hour = $1,090/month",
            f"cannot run: fp16 needs {_fp16_need(data, 'mixtral-8x7b', 'ml.g5.2xlarge')}."
            f" The config uses {mixtral.instance_type} with 4-bit GPTQ: ${mixtral.always_on_usd:,.2f}/month",
        ),
        Finding(
            "Scenario 1 cost impact (Mistral 7B -> Mixtral 8x7B)",
            "$723 -> $1,090/month: +$367 (+51%)",
            f"${mistral.always_on_usd:,.2f} -> ${mixtral.always_on_usd:,.2f}/month:"
            f" +${increase:,.2f} (+{increase / mistral.always_on_usd:.0%})",
        ),
        Finding(
            "Llama 2 13B on ml.g5.xlarge",
            "$723/month (might need g5.2xlarge)",
            f"cannot run on either: fp16 needs {_fp16_need(data, 'llama2-13b', 'ml.g5.2xlarge')}."
            f" The config uses {llama13.instance_type}: ${llama13.always_on_usd:,.2f}/month",
        ),
        Finding(
            "Llama 2 70B on ml.g5.12xlarge",
            "$8,676/month",
            f"${llama70.always_on_usd:,.2f}/month with 4-bit GPTQ weights on {llama70.instance_type}"
            f" (fp16 needs {_fp16_need(data, 'llama2-70b', 'ml.g5.12xlarge')}; {_cheapest_fp16(data, 'llama2-70b')})",
        ),
        *_retired_guide_models(data),
        *_scenario_2(mistral, sonnet, traffic),
        *(_scenario_2(mistral, successor, traffic) if successor.key != sonnet.key else []),
        *_scenario_3(gpt35, gpt4, traffic),
        Finding(
            "Per-request cost of Mistral 7B on SageMaker",
            "~$0.001 (assuming 2s latency)",
            "an always-on instance costs the same however busy it is: "
            + ", ".join(
                f"${mistral.always_on_usd / (rate * HOURS_PER_MONTH):.4f} per request at {rate:,} req/hour"
                for rate in (100, 1000)
            ),
        ),
        Finding(
            "Budget <$100/month: SageMaker Serverless",
            "Hosted APIs or SageMaker Serverless",
            "SageMaker Serverless Inference has no GPUs and at most 6 GB of memory: it cannot serve these models",
        ),
        _mistral_speed(data, mistral_config),
    ]


def _mistral_speed(data: PlannerData, model: SageMakerModelConfig) -> Finding:
    """What one request alone gets on ml.g5.xlarge: the ceiling is the A10G's bandwidth over the weights."""
    instance = data.registry.instances.instances["ml.g5.xlarge"]
    alone = predict(model_shape(model), Hardware.of(instance), 500, 300, concurrency=1)
    weights_gb = model.parameters_billion * 2
    return Finding(
        "Mistral 7B speed",
        "~50 tokens/second (ml.g5.xlarge)",
        f"decoding reads all {weights_gb:.1f} GB of fp16 weights per token; an A10G's"
        f" {instance.gpu.memory_bandwidth_gb_per_second:g} GB/s caps one request at ~{alone.ceiling.tokens_per_second:.0f}"
        f" tokens/s; the throughput model (calibrated on published measurements) predicts"
        f" ~{alone.estimate.tokens_per_second:.0f}",
    )


GUIDE_BEDROCK_MODELS = ("claude-3-haiku", "claude-3-sonnet", "claude-3-opus")


def _retired_guide_models(data: PlannerData) -> list[Finding]:
    """Which of the guide's Claude models Bedrock has retired, and what replaces each."""
    findings = []
    for key in GUIDE_BEDROCK_MODELS:
        if key not in data.token_prices or not data.is_retired(key):
            continue
        old, new = data.token_prices[key], data.token_prices[data.current(key)]
        findings.append(
            Finding(
                f"{old.display_name} on Bedrock",
                f"${old.input_per_1k_usd:g}/${old.output_per_1k_usd:g} per 1K tokens in/out",
                f"retired on Bedrock (lifecycle in model_configs/{key}.yaml): deploy"
                f" {data.current(key)} instead, ${new.input_per_1k_usd:g}/${new.output_per_1k_usd:g} per 1K tokens in/out"
                f" ({new.display_name}, its configured inference profile)",
            )
        )
    return findings


def _hosted(data: PlannerData, key: str, traffic: Traffic) -> SageMakerOption:
    model = data.registry.models[key]
    assert isinstance(model, SageMakerModelConfig)
    return sagemaker_option(data, model, traffic)


def _fp16_need(data: PlannerData, key: str, instance_type: str) -> str:
    model = data.registry.models[key]
    assert isinstance(model, SageMakerModelConfig)
    instance = data.registry.instances.instances[instance_type]
    return f"{estimate_gpu_memory(model, instance, 'none').describe()} on {instance_type}"


def _cheapest_fp16(data: PlannerData, key: str) -> str:
    model = data.registry.models[key]
    assert isinstance(model, SageMakerModelConfig)
    for name, instance in data.registry.instances.cheapest_first():
        if estimate_gpu_memory(model, instance, "none").fits:
            monthly = monthly_instance_usd(data.sagemaker_hourly_usd[name], 1)
            return f"the cheapest instance that fits fp16 is {name}, ${monthly:,.2f}/month"
    return "no catalogued instance fits fp16"


def _scenario_2(mistral: SageMakerOption, sonnet: TokenOption, traffic: Traffic) -> list[Finding]:
    tokens = f"{traffic.input_tokens} in + {traffic.output_tokens} out tokens = ${sonnet.request_usd:.4f}/request"
    findings = []
    for per_day, guide in ((100, "$723 vs ~$15/month: 98% savings"), (10_000, "$723 vs ~$1,500/month: +107% on Bedrock")):
        rate = per_day / 24
        hosted, api = mistral.monthly_usd_at(rate), sonnet.monthly_usd_at(rate)
        change = api / hosted - 1
        verdict = f"{-change:.0%} savings" if change < 0 else f"+{change:.0%} on Bedrock"
        findings.append(
            Finding(
                f"Scenario 2 at {per_day:,} requests/day (Mistral 7B on SageMaker vs {sonnet.display_name}{_retired(sonnet)})",
                guide,
                f"${hosted:,.2f} ({mistral.instances_at(rate)} x {mistral.instance_type}) vs ${api:,.2f}/month ({tokens}):"
                f" {verdict}",
            )
        )
    break_even = break_even_requests_per_hour(mistral, sonnet)
    findings.append(
        Finding(
            f"Where hosted APIs stop being cheaper ({sonnet.display_name})",
            "<100 req/hour: use hosted APIs",
            f"Mistral 7B on SageMaker vs {sonnet.display_name} break even at {break_even:,.0f} req/hour"
            f" ({break_even * 24:,.0f}/day) at {traffic.input_tokens}/{traffic.output_tokens} tokens"
            if break_even
            else f"{sonnet.display_name} stays cheaper than Mistral 7B on SageMaker at any traffic",
        )
    )
    return findings


def _retired(option: TokenOption) -> str:
    return ", retired on Bedrock" if option.retired else ""


def _scenario_3(gpt35: TokenOption, gpt4: TokenOption, traffic: Traffic) -> list[Finding]:
    routed = 800 * gpt35.request_usd + 200 * gpt4.request_usd
    all_gpt4 = 1000 * gpt4.request_usd
    # The guide's $0.001 (GPT-3.5) and $0.03 (GPT-4) per request, as thousands of input (i) and output (o) tokens:
    #   0.0005 i + 0.0015 o = 0.001  and  0.03 i + 0.06 o = 0.03  =>  o = 1, i = -1.
    return [
        Finding(
            "Scenario 3: 80% GPT-3.5 Turbo, 20% GPT-4, per 1,000 questions",
            "$0.80 + $6.00 = $6.80 vs $30 all GPT-4: 77% savings",
            f"at {traffic.input_tokens} in + {traffic.output_tokens} out tokens: ${800 * gpt35.request_usd:,.2f}"
            f" + ${200 * gpt4.request_usd:,.2f} = ${routed:,.2f} vs ${all_gpt4:,.2f} all GPT-4:"
            f" {1 - routed / all_gpt4:.0%} savings. The guide's $0.001 and $0.03 per request cannot both hold:"
            " at its own prices they need -1,000 input and 1,000 output tokens",
        )
    ]


def format_findings(findings: list[Finding]) -> str:
    lines = [f"The guide's figures, recomputed (prices: {PRICE_FILES})", ""]
    for finding in findings:
        lines += [f"- {finding.topic}", f"    guide:   {finding.guide}", f"    planner: {finding.planner}"]
    return "\n".join(lines)
