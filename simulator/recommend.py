"""`--recommend`: the cheapest scaling settings that meet the SLO on this traffic, found by simulation.

Searched: every catalogued instance type on which the model passes the fit check (llm_config/sizing.py), target
values 1, 2, 4, 8 and 16 concurrent requests per instance (up to the batch), scale to zero off (min_instances
1, 2, ... until the SLO holds) and on (idle minutes 5, 15, 30, 60). max_instances is first left high enough for the
busiest 10 s, then set to the peak the passing run reached (a lower max could only lose requests). Each candidate
runs on the fast engine; the passing ones are then run again, cheapest first, on the engine the command line uses,
and the first that this run confirms is printed with that run's figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

from llm_config import SageMakerModelConfig
from llm_config.sizing import assess
from simulator.config import Deployment
from simulator.exact import Limits
from simulator.fast import simulate_fast
from simulator.results import Summary
from simulator.scaling import Policy
from simulator.service import ServiceModel
from simulator.traffic import Workload

TARGETS = (1, 2, 4, 8, 16)
IDLE_MINUTES = (5, 15, 30, 60)
MAX_MIN_INSTANCES = 64


@dataclass(frozen=True)
class Slo:
    p90_seconds: float
    max_failed_share: float

    def met(self, summary: Summary) -> bool:
        return summary.p90_s <= self.p90_seconds and summary.failed_share <= self.max_failed_share


@dataclass(frozen=True)
class Choice:
    policy: Policy
    summary: Summary
    service: ServiceModel


def fitting_instances(model: SageMakerModelConfig, deployment: Deployment) -> list[str]:
    """Every catalogued instance type the model passes the fit check on, cheapest first."""
    catalogue = deployment.registry.instances
    return [name for name, instance in catalogue.cheapest_first() if assess(model, name, instance).passes]


def candidates(deployment: Deployment, workload: Workload, service: ServiceModel, policy: Policy) -> Iterator[Policy]:
    """Scale to zero first (cheapest when it passes), then always-on from one instance up."""
    high_max = max(policy.max_instances, math.ceil(workload.peak_rate() / full_throughput(workload, service)) + 1, 2)
    for target in (t for t in TARGETS if t <= service.max_batch):
        for idle in IDLE_MINUTES:
            yield replace(
                policy, min_instances=0, max_instances=high_max, target_value=target, scales_to_zero=True, idle_minutes=idle
            )
        for minimum in range(1, MAX_MIN_INSTANCES + 1):
            yield replace(
                policy, min_instances=minimum, max_instances=max(high_max, minimum), target_value=target, scales_to_zero=False
            )


def full_throughput(workload: Workload, service: ServiceModel) -> float:
    """Requests per second one instance completes at its full batch, for this workload's mean request."""
    batch = service.max_batch
    mean_prefill = float(service.prefill(workload.input_tokens).mean())
    mean_output = float(workload.output_tokens.mean())
    return batch / (batch * mean_prefill + mean_output * float(service.decode_table[batch]))


def search(deployment: Deployment, workload: Workload, limits: Limits, slo: Slo, instance_types: list[str]) -> list[Choice]:
    """Every passing setting found over ``instance_types``, cheapest first (then fewer peak instances). Candidates
    whose instance floor alone costs more than the cheapest found so far are not run."""
    passing: list[Choice] = []
    mean_in, mean_out = float(workload.input_tokens.mean()), float(workload.output_tokens.mean())
    for instance_type in instance_types:
        service = deployment.service(instance_type, mean_in, mean_out)
        hourly = deployment.registry.instances.instances[instance_type].sagemaker_hourly_usd
        policy = replace(deployment.policy, instance_type=instance_type, hourly_usd=hourly)
        always_on_found: set[float] = set()
        for candidate in candidates(deployment, workload, service, policy):
            if not candidate.scales_to_zero and candidate.target_value in always_on_found:
                continue
            floor = candidate.min_instances * hourly * workload.duration / 3600
            if passing and floor > min(c.summary.cost_usd for c in passing):
                if not candidate.scales_to_zero:
                    always_on_found.add(candidate.target_value)
                continue
            summary = simulate_fast(workload, service, candidate, limits)
            if not slo.met(summary):
                continue
            if not candidate.scales_to_zero:
                always_on_found.add(candidate.target_value)
            tight = replace(candidate, max_instances=max(summary.peak_instances, candidate.min_instances, 1))
            passing.append(Choice(tight, summary, service))
    return sorted(passing, key=lambda c: (c.summary.cost_usd, c.summary.peak_instances))
