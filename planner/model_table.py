"""The README's model table, computed: which instance each SageMaker config runs on, what it needs and
costs, how fast it answers its reference request. tests/test_readme_figures.py keeps the README equal to it.

    python -m planner.model_table
"""

from __future__ import annotations

from llm_config import ModelRegistry, SageMakerModelConfig, load_registry
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


if __name__ == "__main__":
    print(models_table(load_registry()))
