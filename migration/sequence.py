"""The sequence checker: is going from one endpoint state to a deployment spec one safe CloudFormation update?

The rules (docs/migrations.md explains each):

1. No deploy removes a variant, or changes its instance type, while it is an Application Auto Scaling target:
   SageMaker refuses the update, and CloudFormation deregisters the target only after the update. Drain the
   variant first (weight 0: the stack drops its scaling), then remove it.
2. A deploy that carries the blue/green DeploymentConfig keeps the variant names, which SageMaker's guardrails
   require: a candidate enters with a split (0 < weight < 100), a variant leaves with `retire`.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_config import ModelRegistry
from llm_config.deployment import DeploymentSpec


@dataclass(frozen=True)
class VariantState:
    """One production variant as deployed (live) or as a previous spec describes it."""

    name: str
    instance_type: str
    weight_percent: float
    instance_count: int
    autoscaled: bool


EndpointState = dict[str, VariantState]


@dataclass(frozen=True)
class Finding:
    severity: str  # "error": the deploy would fail or strand the endpoint; "warning": it works but check first
    message: str


def state_from_spec(spec: DeploymentSpec) -> EndpointState:
    """What an endpoint looks like after deploying ``spec``, before any scaling (initial instance counts)."""
    return {
        plan.name: VariantState(
            name=plan.name,
            instance_type=plan.model.instance.type,
            weight_percent=float(plan.weight),
            instance_count=plan.model.instance.initial_count,
            autoscaled=plan.autoscaled,
        )
        for plan in spec.variants
    }


def check_transition(before: EndpointState | None, spec: DeploymentSpec) -> list[Finding]:
    """Every reason the deploy of ``spec`` onto an endpoint in state ``before`` (None: no endpoint yet) is unsafe."""
    if before is None:
        return (
            [Finding("warning", f"retire: {spec.retire} has nothing to remove: the endpoint does not exist yet")]
            if spec.retire
            else []
        )
    findings: list[Finding] = []
    after = {plan.name: plan for plan in spec.variants}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    for name in removed:
        if before[name].autoscaled:
            findings.append(
                Finding(
                    "error",
                    f"removes variant {name} while it is an Application Auto Scaling target: SageMaker refuses the "
                    f"update. First deploy a phase with {name} at weight 0 (drained: its scaling is removed).",
                )
            )
    for name in sorted(set(after) & set(before)):
        old, new_type = before[name], after[name].model.instance.type
        if old.instance_type != new_type and old.autoscaled:
            findings.append(
                Finding(
                    "error",
                    f"changes the instance type of {name} ({old.instance_type} -> {new_type}) while it is an "
                    "Application Auto Scaling target: SageMaker refuses the update. Drain it first, or migrate "
                    "to a model config with its own key.",
                )
            )
    if spec.uses_guardrails and (added or removed):
        change = ", ".join([*(f"adds {n}" for n in added), *(f"removes {n}" for n in removed)])
        fix = (
            f"deploy with retire: {removed[0]} to remove it"
            if removed and not added
            else "let the candidate enter with a split (candidate_weight between 1 and 99)"
        )
        findings.append(
            Finding(
                "error",
                f"this {spec.phase} deploy {change} but carries the blue/green DeploymentConfig, whose guardrails "
                f"need the variant names unchanged: {fix}.",
            )
        )
    if spec.retire and spec.retire not in removed:
        findings.append(Finding("warning", f"retire: {spec.retire} names no variant of the endpoint: drop retire"))
    return findings


def hourly_usd(state: EndpointState, registry: ModelRegistry) -> float | None:
    """On-demand cost of the variants' current instances; None if an instance type is not in the catalogue."""
    total = 0.0
    for variant in state.values():
        instance = registry.instances.instances.get(variant.instance_type)
        if instance is None:
            return None
        total += instance.sagemaker_hourly_usd * variant.instance_count
    return total


def state_after(before: EndpointState | None, spec: DeploymentSpec) -> EndpointState:
    """The state right after deploying ``spec``: existing variants keep their instance counts (RetainAllVariantProperties)."""
    after = state_from_spec(spec)
    if before is None:
        return after
    return {
        name: variant if name not in before else _with_count(variant, before[name].instance_count)
        for name, variant in after.items()
    }


def _with_count(variant: VariantState, count: int) -> VariantState:
    return VariantState(variant.name, variant.instance_type, variant.weight_percent, count, variant.autoscaled)
