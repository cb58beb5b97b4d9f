"""One simulation: a deployment's policy and service model against a workload, on the engine that suits its size,
with the same requests priced on Bedrock per token beside it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from llm_config import BedrockModelConfig, ModelRegistry
from simulator.exact import Limits, simulate_exact
from simulator.fast import simulate_fast
from simulator.results import Summary
from simulator.scaling import Policy
from simulator.service import ServiceModel
from simulator.traffic import Workload

Engine = Literal["auto", "exact", "fast"]
# Above this many requests `auto` takes the fast engine (the exact one runs ~10^4 requests per second).
EXACT_LIMIT = 200_000
DEFAULT_BEDROCK = "claude-haiku-5-5"  # the current Haiku (model_configs/claude-haiku-5-5.yaml)


@dataclass(frozen=True)
class BedrockPrice:
    key: str
    display_name: str
    input_per_1k_usd: float
    output_per_1k_usd: float

    def cost(self, workload: Workload) -> float:
        return float(
            workload.input_tokens.sum() / 1000 * self.input_per_1k_usd
            + workload.output_tokens.sum() / 1000 * self.output_per_1k_usd
        )


def bedrock_price(registry: ModelRegistry, name: str) -> BedrockPrice:
    from llm_config import ConfigError

    key = registry.aliases.get(name, name)
    model = registry.models.get(key)
    if not isinstance(model, BedrockModelConfig):
        names = sorted(k for k, m in registry.models.items() if isinstance(m, BedrockModelConfig))
        raise ConfigError("--bedrock", None, f"{name!r} is not a Bedrock model", f"use one of {', '.join(names)}")
    input_usd, output_usd = model.price_per_1k
    return BedrockPrice(key, model.display_name, input_usd, output_usd)


def simulate(workload: Workload, service: ServiceModel, policy: Policy, limits: Limits, engine: Engine = "auto") -> Summary:
    chosen = engine if engine != "auto" else ("exact" if workload.requests <= EXACT_LIMIT else "fast")
    run = simulate_exact if chosen == "exact" else simulate_fast
    return run(workload, service, policy, limits)


def with_bedrock(summary: Summary, workload: Workload, price: BedrockPrice) -> Summary:
    return replace(summary, bedrock_model=price.display_name, bedrock_cost_usd=price.cost(workload))


def unloaded_p90(workload: Workload, service: ServiceModel) -> float:
    """The p90 latency with every request alone on an instance: no setting can do better."""
    if not workload.requests:
        return 0.0
    return float(np.percentile(service.latency(1, service.prefill(workload.input_tokens), workload.output_tokens), 90))
