"""Prints what a synthesized cloud assembly would deploy: stacks, resources, and for every SageMaker
variant its GPU memory estimate, the predicted latency of its model's reference request (beside the
physical ceiling) and its monthly cost, from the same model configs and catalogue `cdk synth` used."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# Run as a file (./tasks.sh synth): the repository root holds the packages.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_config import ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.sizing import assess


def summarize(assembly_dir: Path, registry: ModelRegistry | None = None) -> str:
    registry = registry or load_registry()
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    lines = []
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template_file = assembly_dir / artifact["properties"]["templateFile"]
        template = json.loads(template_file.read_text())
        stack_name = artifact.get("displayName", template_file.stem)
        lines.append(f"Stack {stack_name} ({artifact['environment']})")
        lines.append(f"  {template.get('Description', '')}")
        counts = Counter(resource["Type"] for resource in template.get("Resources", {}).values())
        for resource_type, count in sorted(counts.items()):
            lines.append(f"  {count} x {resource_type}")
        for name, output in template.get("Outputs", {}).items():
            value = output["Value"]
            if isinstance(value, str):
                lines.append(f"  output {name} = {value}")
        for variant in _variants(template):
            lines += _variant_lines(variant, registry)
        lines.append(f"  template: {template_file}")
    return "\n".join(lines)


def _variants(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        variant
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::SageMaker::EndpointConfig"
        for variant in resource["Properties"].get("ProductionVariants", [])
    ]


def _variant_lines(variant: dict[str, Any], registry: ModelRegistry) -> list[str]:
    """The variant's model (its name is the model key) on the instance type the template deploys."""
    name, count = variant["VariantName"], variant.get("InitialInstanceCount", 1)
    # With instance pools the first pool is the instance SageMaker tries first (docs/capacity.md).
    pools = [p["InstanceType"] for p in sorted(variant.get("InstancePools", []), key=lambda p: p["Priority"])]
    instance_type = pools[0] if pools else variant.get("InstanceType")
    model = registry.models.get(name)
    if not isinstance(model, SageMakerModelConfig) or instance_type not in registry.instances.instances:
        return [f"  variant {name}: {count} x {instance_type}"]
    instance = registry.instances.instances[instance_type]
    report = assess(model, instance_type, instance)
    request = model.reference_request
    monthly = instance.sagemaker_hourly_usd * count * HOURS_PER_MONTH
    return [
        f"  variant {name}: {count} x {instance_type} ({instance.describe()})",
        f"    GPU memory: {report.gpu_memory.describe()}",
        f"    reference request ({request.input_tokens} in + {request.output_tokens} out tokens): {report.describe_latency()};"
        f" budget {model.latency_budget_seconds:g} s",
        f"    cost: ${monthly:,.0f}/month always-on ({count} x ${instance.sagemaker_hourly_usd:g}/h x {HOURS_PER_MONTH} h,"
        f" {registry.instances.prices.region} on-demand)",
        *_fallback_lines(pools[1:], count, registry),
    ]


def _fallback_lines(fallbacks: list[str], count: int, registry: ModelRegistry) -> list[str]:
    """The fallback pools (each passed the fit check at synth) and the cost if the dearest serves."""
    catalogue = registry.instances.instances
    prices = [catalogue[name].sagemaker_hourly_usd for name in fallbacks if name in catalogue]
    if not prices:
        return []
    dearest = max(prices) * count * HOURS_PER_MONTH
    return [f"    fallback pools: {', '.join(fallbacks)} (up to ${dearest:,.0f}/month if the dearest serves)"]


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")))
