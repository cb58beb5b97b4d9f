"""The sequence checker: is going from one endpoint state to a deployment spec one safe CloudFormation update?

The rules (docs/migrations.md explains each):

1. No deploy removes a variant, or changes its instance type, while it is an Application Auto Scaling target:
   SageMaker refuses the update, and CloudFormation deregisters the target only after the update. Drain the
   variant first (weight 0: the stack drops its scaling), then remove it.
2. A deploy that carries the blue/green DeploymentConfig keeps the variant names, which SageMaker's guardrails
   require: a candidate enters with a split (0 < weight < 100), a variant leaves with `retire`.

On a scale-to-zero endpoint the models are inference components (docs/scale-to-zero.md), and:

3. An endpoint keeps its kind: a deploy never switches it between variants and components under one name (that is a
   new endpoint, and the update would have to replace the live one).
4. A component leaves only drained (weight 0: no scaling target, 0 copies): clients read the weights from the
   parameter (cached up to a minute), so a component still in the weights may still get requests. It enters with a
   split, never at 0 copies (SageMaker refuses to create a component with none).
5. The components share the endpoint's instances, whose type no deploy changes under them.

Instance pools (docs/capacity.md): rules 1 and 5 compare instance.type, the first pool. A deploy that keeps it but
adds, removes or reorders fallback types passes: SageMaker does not document such a change as an instance type
change, and if it refused one, the update would fail and CloudFormation would roll back to the live config (nothing
is replaced or deleted). The live state reads the pools (``fallbacks``) so that a pooled endpoint's first pool is
its instance type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llm_config import ModelRegistry
from llm_config.deployment import DeploymentSpec


@dataclass(frozen=True)
class VariantState:
    """One production variant as deployed (live) or as a previous spec describes it."""

    name: str
    instance_type: str
    weight_percent: float
    instance_count: int  # instances of a variant; copies of an inference component
    autoscaled: bool
    component: str | None = None  # the inference component serving the model (scale to zero); None: a variant
    fallbacks: tuple[str, ...] = ()  # instance pools 2-5, in priority order (instance_type is pool 1)

    @property
    def kind(self) -> str:
        return "inference component" if self.component else "variant"


EndpointState = dict[str, VariantState]


@dataclass(frozen=True)
class Finding:
    severity: str  # "error": the deploy would fail or strand the endpoint; "warning": it works but check first
    message: str


def state_from_spec(spec: DeploymentSpec) -> EndpointState:
    """What an endpoint looks like after deploying ``spec``, before any scaling (initial instance or copy counts)."""
    if spec.scale_to_zero:  # every component on the serving model's instances; one copy each, none when drained
        host = spec.variants[0].model.instance
        return {
            plan.name: VariantState(
                plan.name,
                host.type,
                float(plan.weight),
                int(plan.autoscaled),
                plan.autoscaled,
                spec.component_name_of(plan.name),
                tuple(host.fallback_types),
            )
            for plan in spec.variants
        }
    return {
        plan.name: VariantState(
            name=plan.name,
            instance_type=plan.model.instance.type,
            weight_percent=float(plan.weight),
            instance_count=plan.model.instance.initial_count,
            autoscaled=plan.autoscaled,
            fallbacks=tuple(plan.model.instance.fallback_types),
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
    switch = _kind_switch(before, spec)
    if switch:
        return [switch]
    findings: list[Finding] = []
    after = {plan.name: plan for plan in spec.variants}
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    for name in removed:
        if before[name].autoscaled:
            reason = (
                "clients may still send it requests (they read the weights from the parameter)"
                if before[name].component
                else "SageMaker refuses the update"
            )
            findings.append(
                Finding(
                    "error",
                    f"removes {before[name].kind} {name} while it is an Application Auto Scaling target: {reason}. "
                    f"First deploy a phase with {name} at weight 0 (drained: its scaling is removed).",
                )
            )
    if spec.scale_to_zero:
        return findings + _component_findings(before, spec, added, removed)
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


def _kind_switch(before: EndpointState, spec: DeploymentSpec) -> Finding | None:
    """Refuse serving an endpoint's models as variants after inference components, or the reverse (rule 3)."""
    components = any(v.component for v in before.values())
    if not before or components == spec.scale_to_zero:
        return None
    now, then = ("inference components", "production variants") if components else ("production variants", "inference components")
    new_name = f"{spec.endpoint_name}-{'zero' if spec.scale_to_zero else 'always-on'}"
    flag = "" if spec.scale_to_zero else " without scale_to_zero"
    return Finding(
        "error",
        f"endpoint {spec.endpoint_name} serves its models as {now}; this deploy would serve them as {then}, which "
        "one SageMaker endpoint cannot switch between: the update would have to replace the live endpoint. Deploy "
        f"under a new name{flag} (-c endpoint={new_name}), move the clients to its parameter /llm-endpoints/{new_name}, "
        f"then destroy {spec.stack_name} on purpose (docs/scale-to-zero.md#switching-an-existing-endpoint).",
    )


def _component_findings(before: EndpointState, spec: DeploymentSpec, added: list[str], removed: list[str]) -> list[Finding]:
    """Rules 4 and 5 for a scale-to-zero spec on a component endpoint."""
    findings = []
    weights = {plan.name: plan.weight for plan in spec.variants}
    for name in added:
        if weights[name] in (0, 100):
            findings.append(
                Finding(
                    "error",
                    f"adds inference component {name} at weight {weights[name]}: let the candidate enter with a split "
                    "(candidate_weight between 1 and 99)"
                    + (", since SageMaker refuses to create a component with 0 copies" if weights[name] == 0 else "")
                    + ".",
                )
            )
    host = spec.variants[0].model.instance.type
    moved = sorted({v.instance_type for v in before.values()} - {host})
    if moved:
        findings.append(
            Finding(
                "error",
                f"changes the instance type of endpoint {spec.endpoint_name} ({moved[0]} -> {host}) under its inference "
                f"components: deploy {spec.model.key} as a new scale-to-zero endpoint (-c endpoint={spec.endpoint_name}-"
                f"{host.removeprefix('ml.').replace('.', '-')}) and move the clients through its parameter.",
            )
        )
    return findings


def hourly_usd(state: EndpointState, registry: ModelRegistry) -> float | None:
    """On-demand cost of the variants' current instances; None if an instance type is not in the catalogue. An
    inference component's copies count as an instance each: exact for the shipped configs (one copy per instance),
    an upper bound where an instance holds several copies."""
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
    # A drained component is set to 0 copies by the deploy; every other existing one keeps what it runs.
    return {
        name: variant
        if name not in before or (variant.component and not variant.autoscaled)
        else _with_count(variant, before[name].instance_count)
        for name, variant in after.items()
    }


def _with_count(variant: VariantState, count: int) -> VariantState:
    return replace(variant, instance_count=count)
