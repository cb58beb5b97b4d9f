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


def deployment_cost_line(
    get_context: Callable[[str], Any], environ: Mapping[str, str], registry: ModelRegistry | None = None
) -> str:
    """What the stack a `cdk synth|deploy -c ...` builds costs per month, from the planner's data."""
    registry = registry or load_registry()
    return cost_line(deployment_from_context(get_context, environ, registry), registry)


def cost_line(spec: DeploymentSpec, registry: ModelRegistry) -> str:
    model = spec.model
    if isinstance(model, SageMakerModelConfig):
        # Every variant's initial instances: during a migration both models' instances run.
        prices_region = registry.instances.prices.region
        variants = [plan.model.instance for plan in spec.variants]
        hourly = [registry.instance_for(plan.model).sagemaker_hourly_usd for plan in spec.variants]
        monthly = sum(monthly_instance_usd(h, v.initial_count) for h, v in zip(hourly, variants, strict=True))
        instances = " + ".join(f"{v.initial_count} x {v.type} at ${h:g}/h" for h, v in zip(hourly, variants, strict=True))
        if spec.scale_to_zero:
            # One copy of each component that takes traffic (a drained one has none), each copy on its own instance
            # at most: the always-on bound.
            running = [h for h, plan in zip(hourly, spec.variants, strict=True) if plan.autoscaled]
            monthly = sum(monthly_instance_usd(h, 1) for h in running)
            return (
                f"Estimated cost of {spec.stack_name}: $0 while idle, ${hourly[0]:g}/h per {variants[0].type} while a copy"
                f" runs (scales to zero; ${monthly:,.0f}/month if never idle; SageMaker {prices_region} on-demand)"
                f"{_caveat(spec, prices_region)}. At your traffic: {PLANNER_HELP}"
            )
        return (
            f"Estimated cost of {spec.stack_name}: ${monthly:,.0f}/month always-on ({instances},"
            f" SageMaker {prices_region} on-demand, 730 h){_caveat(spec, prices_region)}."
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


def _caveat(spec: DeploymentSpec, prices_region: str) -> str:
    return "" if spec.region == prices_region else f"; {spec.region} prices differ: see {PLANNER_OVERRIDES}"
