"""SageMaker deployment guardrails for endpoint updates: the `guardrails:` section of a deployment file.

Every field and default is documented in docs/deployments.md; why the rules are what they are in docs/migrations.md.
The limits are AWS's own (SageMaker API reference: BlueGreenUpdatePolicy, TrafficRoutingConfig, CapacitySize).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import PositiveInt
from llm_config.errors import ConfigError

TrafficRouting = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
# The per-variant alarms (llm_constructs.endpoint_alarms) that can roll a deployment back. Idle (missing data is
# breaching), GPU memory and disk (capacity, not correctness) would roll back healthy deployments.
RollbackAlarm = Literal["latency-p90", "5xx-errors", "4xx-rate"]
ROLLBACK_ALARMS: tuple[RollbackAlarm, ...] = ("latency-p90", "5xx-errors", "4xx-rate")
# The least breaching data each alarm needs before it can fire (datapoints to alarm x period, as
# llm_constructs.endpoint_alarms defines them; a test keeps the two in step). SageMaker rolls back on alarms
# that fire while it bakes, so an alarm needing more than wait_interval_seconds could never roll anything back.
ROLLBACK_ALARM_WINDOW_SECONDS: dict[RollbackAlarm, int] = {"latency-p90": 180, "5xx-errors": 300, "4xx-rate": 900}
DEFAULT_WAIT_INTERVAL_SECONDS = 600
DEFAULT_ROLLBACK_ALARMS = [a for a in ROLLBACK_ALARMS if ROLLBACK_ALARM_WINDOW_SECONDS[a] <= DEFAULT_WAIT_INTERVAL_SECONDS]
MAX_CANARY_PERCENT = 50  # "must be less than or equal to 50% of the variant's total instance count"
LINEAR_PERCENT_RANGE = (10, 50)  # "must be 10-50% of the variant's total instance count"


class CapacitySize(StrictModel):
    """How much of a variant's fleet one traffic step covers (SageMaker's CapacitySize)."""

    type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]
    value: PositiveInt


class Guardrails(StrictModel):
    """A blue/green update policy plus the alarms that roll it back (SageMaker's DeploymentConfig)."""

    traffic_routing: TrafficRouting = "ALL_AT_ONCE"  # the one mode one-instance variants allow
    wait_interval_seconds: Annotated[int, Field(ge=0, le=3600)] = DEFAULT_WAIT_INTERVAL_SECONDS  # baking after each step
    canary_size: CapacitySize | None = None  # CANARY only
    linear_step_size: CapacitySize | None = None  # LINEAR only
    termination_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 600  # old fleet kept after the shift
    maximum_execution_timeout_seconds: Annotated[int, Field(ge=600, le=28800)] = 7200
    rollback_alarms: list[RollbackAlarm] = Field(default_factory=lambda: list(DEFAULT_ROLLBACK_ALARMS))

    @model_validator(mode="after")
    def _sizes_match_the_mode(self) -> Guardrails:
        wanted = {"CANARY": "canary_size", "LINEAR": "linear_step_size"}.get(self.traffic_routing)
        for name in ("canary_size", "linear_step_size"):
            if name == wanted and getattr(self, name) is None:
                raise ValueError(
                    f"traffic_routing {self.traffic_routing} needs guardrails.{name}"
                    f"|add {name}: {{type: INSTANCE_COUNT, value: 1}} (or CAPACITY_PERCENT), docs/deployments.md"
                )
            if name != wanted and getattr(self, name) is not None:
                raise ValueError(f"{name} applies only to {name.split('_')[0].upper()} routing|remove guardrails.{name}")
        size = self.canary_size or self.linear_step_size
        if size is not None and size.type == "CAPACITY_PERCENT":
            low, high = (1, MAX_CANARY_PERCENT) if self.canary_size else LINEAR_PERCENT_RANGE
            if not low <= size.value <= high:
                raise ValueError(f"a {self.traffic_routing} step of {size.value}% is refused by SageMaker|use {low}-{high}%")
        if not self.rollback_alarms or len(set(self.rollback_alarms)) != len(self.rollback_alarms):
            raise ValueError(
                "rollback_alarms must name at least one alarm, each once"
                f"|use some of {', '.join(ROLLBACK_ALARMS)}: without alarms there is no automatic rollback"
            )
        for alarm in self.rollback_alarms:
            window = ROLLBACK_ALARM_WINDOW_SECONDS[alarm]
            if window > self.wait_interval_seconds:
                raise ValueError(
                    f"rollback alarm {alarm} needs {window} s of breaching data to fire, longer than the "
                    f"{self.wait_interval_seconds} s baking period (wait_interval_seconds), so it could never roll back"
                    f"|raise wait_interval_seconds to at least {window}, or drop {alarm} from rollback_alarms"
                )
        return self

    def baking_periods(self, instances: int) -> int:
        """How many waits a deployment of a variant with ``instances`` instances goes through."""
        if self.traffic_routing == "ALL_AT_ONCE":
            return 1
        if self.traffic_routing == "CANARY":
            return 2  # after the canary, and after the rest
        assert self.linear_step_size is not None
        step = self.linear_step_size
        step_instances = step.value if step.type == "INSTANCE_COUNT" else max(1, math.floor(instances * step.value / 100))
        return math.ceil(instances / step_instances)


def check_guardrails_fit(
    guardrails: Guardrails, variants: Sequence[tuple[str, int, int]], source: str, field: str | None
) -> None:
    """Refuse at synth what SageMaker would refuse at deploy, for variants given as (name, min, max instances).

    A variant can hold any count from its minimum to its maximum when a deployment starts (the autoscaled count
    is retained across deployments), so each rule must hold over the whole range.
    """
    routing = guardrails.traffic_routing
    for name, low, high in variants:
        if routing != "ALL_AT_ONCE" and low < 2:
            raise ConfigError(
                source,
                field,
                f"{routing} traffic routing needs at least 2 instances in every variant, but {name} may run 1 "
                "(SageMaker: a canary may be at most 50% of the variant's instances, a linear step 10-50%)",
                "use traffic_routing: ALL_AT_ONCE, or raise scaling.min_instances of the model to 2",
            )
        size = guardrails.canary_size or guardrails.linear_step_size
        if size is not None and size.type == "INSTANCE_COUNT":
            largest = math.floor(low * MAX_CANARY_PERCENT / 100)
            smallest = math.ceil(high * LINEAR_PERCENT_RANGE[0] / 100) if guardrails.linear_step_size else 1
            if not smallest <= size.value <= largest:
                raise ConfigError(
                    source,
                    field,
                    f"a {routing} step of {size.value} instance(s) is outside what SageMaker allows for {name}, "
                    f"which runs {low}-{high} instances ({smallest}-{largest} instance(s))",
                    f"set the step's value to {smallest}-{largest}, or use CAPACITY_PERCENT",
                )
        waits = guardrails.wait_interval_seconds * guardrails.baking_periods(high) + guardrails.termination_wait_seconds
        if guardrails.maximum_execution_timeout_seconds <= waits:
            raise ConfigError(
                source,
                field,
                f"maximum_execution_timeout_seconds ({guardrails.maximum_execution_timeout_seconds}) must exceed the "
                f"waits of a deployment of {name} ({waits} s: baking periods plus termination wait)",
                "raise maximum_execution_timeout_seconds (at most 28800) or shorten the waits",
            )
