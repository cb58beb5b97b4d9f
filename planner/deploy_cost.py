"""The one-line cost estimate `cdk synth|deploy` prints to stderr (stdout carries the template)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llm_config import ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.deployment import DeploymentSpec, deployment_from_context
from planner.costs import Traffic, monthly_instance_usd, request_usd

EXAMPLE_TRAFFIC = Traffic(requests_per_hour=1000 / 730, input_tokens=500, output_tokens=300)  # 1,000 requests a month
# Commands that work from a fresh clone: `python -m planner` needs the project's virtualenv, which ./tasks.sh sets up.
PLANNER_HELP = "./tasks.sh plan --help"
PLANNER_OVERRIDES = "./tasks.sh plan --overrides FILE (docs/planner.md)"


def deployment_cost_line(get_context: Callable[[str], Any], environ: Mapping[str, str]) -> str:
    """What the stack a `cdk synth|deploy -c ...` builds costs per month, from the planner's data."""
    registry = load_registry()
    return cost_line(deployment_from_context(get_context, environ, registry), registry)


def cost_line(spec: DeploymentSpec, registry: ModelRegistry) -> str:
    model = spec.model
    if isinstance(model, SageMakerModelConfig):
        # Every variant's initial instances: during a migration both models' instances run. With fallback instance
        # pools a figure is a range: every variant on its cheapest pool, and every variant on its dearest.
        prices_region = registry.instances.prices.region
        variants = [plan.model.instance for plan in spec.variants]
        hourly = [registry.hourly_usd_range(plan.model) for plan in spec.variants]
        monthly = [
            float(sum(monthly_instance_usd(h[end], v.initial_count) for h, v in zip(hourly, variants, strict=True)))
            for end in (0, 1)
        ]
        instances = " + ".join(
            f"{v.initial_count} x {' or '.join(v.pool_types)} at ${_range(*h, '{:g}')}/h"
            for h, v in zip(hourly, variants, strict=True)
        )
        pools = " (the range: cheapest to dearest instance pool, AWS picks by capacity)" if monthly[0] != monthly[1] else ""
        if spec.scale_to_zero:
            # One copy of each component that takes traffic (a drained one has none), each copy on its own instance
            # at most: the always-on bound.
            running = [h for h, plan in zip(hourly, spec.variants, strict=True) if plan.autoscaled]
            monthly = [float(sum(monthly_instance_usd(h[end], 1) for h in running)) for end in (0, 1)]
            return (
                f"Estimated cost of {spec.stack_name}: $0 while idle, ${_range(*hourly[0], '{:g}')}/h per"
                f" {' or '.join(variants[0].pool_types)} while a copy runs (scales to zero;"
                f" ${_range(monthly[0], monthly[1])}/month if never idle; SageMaker {prices_region} on-demand)"
                f"{pools}{_caveat(spec, prices_region)}."
                f" At your traffic: {PLANNER_HELP}"
            )
        return (
            f"Estimated cost of {spec.stack_name}: ${_range(monthly[0], monthly[1])}/month always-on ({instances},"
            f" SageMaker {prices_region} on-demand, 730 h){pools}{_caveat(spec, prices_region)}."
            f" At your traffic: {PLANNER_HELP}"
        )
    input_usd, output_usd = model.price_per_1k  # the config's prices for its profile scope, as the planner reads them
    region = model.prices.region
    example = request_usd(input_usd, output_usd, EXAMPLE_TRAFFIC) * 1000
    return (
        f"Estimated cost of {spec.stack_name}: no fixed cost; Bedrock bills ${input_usd:g} per 1K input and"
        f" ${output_usd:g} per 1K output tokens, ${example:,.2f} per 1,000 requests of 500 + 300 tokens"
        f" ({region} on-demand){_caveat(spec, region)}."
        f" At your traffic: {PLANNER_HELP}"
    )


def _range(low: float, high: float, template: str = "{:,.0f}") -> str:
    return (
        template.format(low)
        if template.format(low) == template.format(high)
        else f"{template.format(low)}-{template.format(high)}"
    )


def _caveat(spec: DeploymentSpec, prices_region: str) -> str:
    return "" if spec.region == prices_region else f"; {spec.region} prices differ: see {PLANNER_OVERRIDES}"
