"""The README's model tables, computed: which instance each SageMaker config runs on, what it needs and
costs, how fast it answers its reference request; and each Claude config's id, prices, context and lifecycle.
tests/test_readme_figures.py and tests/test_bedrock_docs.py keep README.md and docs/bedrock.md equal to them.

    python -m planner.model_table            # the SageMaker table
    python -m planner.model_table --claude   # the Claude tables of README.md and docs/bedrock.md
"""

from __future__ import annotations

import sys
from datetime import date

from llm_config import BedrockModelConfig, ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.sizing import HOST_RESERVE_GB, assess

WEIGHT_LABELS = {"none": "fp16", "gptq": "GPTQ 4-bit", "awq": "AWQ 4-bit"}


def models_table(registry: ModelRegistry) -> str:
    lines = [
        "| key | weights | instance | GPU memory needed / engine's share | host memory for loading | reference request:"
        " predicted (ceiling) / budget | $/hour | $/month | fallback pools: $/month on the dearest |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    models = [m for m in registry.models.values() if isinstance(m, SageMakerModelConfig)]
    for model in sorted(models, key=lambda m: (registry.instances.instances[m.instance.type].sagemaker_hourly_usd, m.key)):
        name = model.instance.type
        instance = registry.instances.instances[name]
        report = assess(model, name, instance)
        request = model.reference_request
        lines.append(
            f"| `{model.key}` | {WEIGHT_LABELS.get(model.container.quantization, model.container.quantization)}"
            f" | {name} ({instance.describe()}) | ~{report.gpu_memory.required_gb:.1f} / {report.gpu_memory.available_gb:.1f} GB"
            f" | ~{report.host_memory_needed_gb:.0f} / {instance.host_memory_gb:.0f} GB"
            f" | {request.input_tokens} + {request.output_tokens} tokens at {report.concurrency} in flight:"
            f" {report.prediction.estimate.latency_seconds:.1f} s ({report.prediction.ceiling.latency_seconds:.1f} s)"
            f" / {model.latency_budget_seconds:g} s"
            f" | {instance.sagemaker_hourly_usd:g} | {instance.sagemaker_hourly_usd * HOURS_PER_MONTH:,.0f}"
            f" | {_fallbacks(registry, model)} |"
        )
    lines += [
        "",
        "Engine's share = `container.gpu_memory_utilization` (vLLM's default 0.9) of the GPU memory;"
        f" host memory for loading = weights + {HOST_RESERVE_GB:g} GB; reference request = the config's"
        " `reference_request`, in flight = its `scaling.target_value`. Fallback pools = `instance.fallback_types`,"
        " which SageMaker uses in order when AWS has no capacity for the ones before (docs/instance-pools.md).",
    ]
    return "\n".join(lines)


def _fallbacks(registry: ModelRegistry, model: SageMakerModelConfig) -> str:
    if not model.instance.fallback_types:
        return "none"
    dearest = registry.hourly_usd_range(model)[1]
    return f"{', '.join(model.instance.fallback_types)}: {dearest * HOURS_PER_MONTH:,.0f}"


# Current generation first, then the ones a newer generation replaces, then the retired ones.
LIFECYCLE_ORDER = {"current": 0, "superseded": 1, "legacy": 2, "end-of-life": 3}


def lifecycle_label(model: BedrockModelConfig, region: str, today: date) -> str:
    """``current``, ``superseded`` (active, but its lifecycle names a successor), ``legacy`` or ``end-of-life``."""
    status = model.lifecycle.state(region, today).status
    if status == "active":
        return "superseded" if model.lifecycle.successor else "current"
    return status


def lifecycle_text(model: BedrockModelConfig, region: str, today: date) -> str:
    """The lifecycle cell of docs/bedrock.md: the state in ``region`` on ``today``, dates, other regions, successor."""
    lifecycle = model.lifecycle
    state = lifecycle.state(region, today)
    text = state.status.replace("-", " ")
    if state.status == "active" and lifecycle.successor:
        text += ", superseded"
    if state.end_of_life_date:
        text += f" {'until ' if state.status == 'legacy' else ''}{state.end_of_life_date.isoformat()}"
    others = sorted({entry.status for entry in lifecycle.regions.values()} - {state.status})
    for status in others:
        regions = ", ".join(r for r, entry in lifecycle.regions.items() if entry.status == status)
        text += f" ({status} in {regions})"
    return text + (f"; successor `{lifecycle.successor}`" if lifecycle.successor else "")


def _claude_models(registry: ModelRegistry, region: str, today: date) -> list[BedrockModelConfig]:
    models = [m for m in registry.models.values() if isinstance(m, BedrockModelConfig)]
    return sorted(
        models,
        key=lambda m: (LIFECYCLE_ORDER[lifecycle_label(m, region, today)], m.prices.input_per_1k_usd, m.key),
    )


def _prices(model: BedrockModelConfig, scope: str) -> str:
    p = model.prices
    if scope == "global":
        return f"{p.global_input_per_1k_usd:g} / {p.global_output_per_1k_usd:g}" if p.global_input_per_1k_usd else "-"
    return f"{p.input_per_1k_usd:g} / {p.output_per_1k_usd:g}"


def _context(model: BedrockModelConfig) -> str:
    tokens = model.context_length
    return f"{tokens // 1_000_000}M" if tokens >= 1_000_000 else f"{tokens // 1000}K"


def claude_readme_table(registry: ModelRegistry, today: date, region: str = "us-east-1") -> str:
    """README.md's table: the deployable Claude configs (not past end of life in ``region`` on ``today``)."""
    lines = [
        "| key | model id | USD per 1K tokens in / out (geography; global) | context | on Bedrock |",
        "|---|---|---|---|---|",
    ]
    for model in _claude_models(registry, region, today):
        label = lifecycle_label(model, region, today)
        if label == "end-of-life":
            continue
        note = label if label == "current" else f"{label}: successor `{model.lifecycle.successor}`"
        lines.append(
            f"| `{model.key}` | `{model.model_id}` | {_prices(model, 'geography')}; {_prices(model, 'global')}"
            f" | {_context(model)} | {note} |"
        )
    return "\n".join(lines)


def claude_docs_table(registry: ModelRegistry, today: date, region: str = "us-east-1") -> str:
    """docs/bedrock.md's table: every Claude config, the retired ones included."""
    lines = [
        "| key | model id | USD per 1K tokens in / out, geography profile | global profile | context | lifecycle on Bedrock |",
        "|---|---|---|---|---|---|",
    ]
    for model in _claude_models(registry, region, today):
        lines.append(
            f"| `{model.key}` | `{model.model_id}` | {_prices(model, 'geography')} | {_prices(model, 'global')}"
            f" | {_context(model)} | {lifecycle_text(model, region, today)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    registry = load_registry()
    if sys.argv[1:] == ["--claude"]:
        print(claude_readme_table(registry, date.today()), claude_docs_table(registry, date.today()), sep="\n\n")
    else:
        print(models_table(registry))
