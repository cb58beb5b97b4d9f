"""The one-line cost estimate `cdk synth|deploy` prints to stderr (stdout carries the template)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llm_config import ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.deployment import DeploymentSpec, deployment_from_context
from planner.assumptions import pay_per_token_prices
from planner.costs import Traffic, monthly_instance_usd, request_usd

EXAMPLE_TRAFFIC = Traffic(requests_per_hour=1000 / 730, input_tokens=500, output_tokens=300)  # 1,000 requests a month


def deployment_cost_line(get_context: Callable[[str], Any], environ: Mapping[str, str]) -> str:
    """What the stack a `cdk synth|deploy -c ...` builds costs per month, from the planner's data."""
    registry = load_registry()
    return cost_line(deployment_from_context(get_context, environ, registry), registry)


def cost_line(spec: DeploymentSpec, registry: ModelRegistry) -> str:
    model = spec.model
    prices_region = registry.instances.prices.region
    caveat = "" if spec.region == prices_region else f"; {spec.region} prices differ: see python -m planner --overrides"
    if isinstance(model, SageMakerModelConfig):
        monthly, parts = 0.0, []
        for plan in spec.variants:  # during a migration both models run (a drained one keeps its instances)
            instance = plan.model.instance
            hourly = registry.instance_for(plan.model).sagemaker_hourly_usd
            monthly += monthly_instance_usd(hourly, instance.initial_count)
            parts.append(f"{instance.initial_count} x {instance.type} at ${hourly:g}/h")
        return (
            f"Estimated cost of {spec.stack_name}: ${monthly:,.0f}/month always-on ({' + '.join(parts)},"
            f" SageMaker {prices_region} on-demand, 730 h){caveat}."
            " At your traffic: python -m planner --help"
        )
    price = pay_per_token_prices(registry)[model.key]
    example = request_usd(price.input_per_1k_usd, price.output_per_1k_usd, EXAMPLE_TRAFFIC) * 1000
    return (
        f"Estimated cost of {spec.stack_name}: no fixed cost; Bedrock bills ${price.input_per_1k_usd:g} per 1K input and"
        f" ${price.output_per_1k_usd:g} per 1K output tokens, ${example:,.2f} per 1,000 requests of 500 + 300 tokens"
        f" ({prices_region} on-demand){caveat}."
        " At your traffic: python -m planner --help"
    )
