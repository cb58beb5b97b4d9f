"""How long one instance takes per request while others run beside it: continuous batching on the calibrated
throughput model (llm_config/throughput.py), the same arithmetic the fit check and the planner use.

With ``n`` requests running on an instance (at most the container's ``max_batch_size``; the rest queue), a request's
prompt is prefilled at 1/n of the GPU (the other running requests' prompts share it) and then each decode step,
which gives every running request one token, takes ``decode_step(n)``. At a steady ``n`` a request of P prefill
seconds and O output tokens therefore takes

    n x P + O x decode_step(n)

which is exactly the throughput model's request latency at concurrency n. Decode steps read every running
request's KV cache; the tables use the workload's mean context (prompt + half the output), a documented fidelity
trade that keeps a step's cost a function of n alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llm_config import SageMakerModelConfig
from llm_config.catalogue import InstanceType
from llm_config.sizing import model_shape
from llm_config.throughput import Hardware, decode_step_seconds, prefill_seconds

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ServiceModel:
    """One instance type serving one model: prefill seconds per prompt length, decode step seconds per batch."""

    max_batch: int
    prefill_table: FloatArray  # index: prompt tokens (clipped to the table)
    decode_table: FloatArray  # index: requests running (1..max_batch); [0] unused

    def prefill(self, input_tokens: IntArray) -> FloatArray:
        return self.prefill_table[np.minimum(input_tokens, self.prefill_table.size - 1)]

    def decode_step(self, running: int | IntArray) -> FloatArray:
        return self.decode_table[np.clip(running, 1, self.max_batch)]  # type: ignore[no-any-return]

    def latency(self, n: int, prefill: FloatArray, output_tokens: IntArray) -> FloatArray:
        """Request latency at a steady ``n`` running (queueing excluded)."""
        return n * prefill + output_tokens * self.decode_table[min(max(n, 1), self.max_batch)]  # type: ignore[no-any-return]


def build_service(
    model: SageMakerModelConfig, instance: InstanceType, mean_input_tokens: float, mean_output_tokens: float
) -> ServiceModel:
    """The model on ``instance`` (its own configured one or a candidate of a --recommend search). The batch is the
    container's max_batch_size, and never more of the workload's mean request than its KV cache budget
    (max_batch_total_tokens) holds."""
    shape, hardware = model_shape(model), Hardware.of(instance)
    container = model.container
    by_cache = max(1, int(container.max_batch_total_tokens // max(1.0, mean_input_tokens + mean_output_tokens)))
    batch = min(container.max_batch_size or by_cache, by_cache)
    mean_context_tokens = mean_input_tokens + mean_output_tokens / 2
    longest = model.container.max_total_tokens
    # Prefill is smooth in the prompt length: compute it on a grid and interpolate, not once per token count.
    grid = np.unique(np.geomspace(1, longest, 256).astype(np.int64))
    seconds = [prefill_seconds(shape, hardware, int(tokens), ideal=False) for tokens in grid]
    prefill_table = np.interp(np.arange(longest + 1), grid, seconds)
    decode_table = np.array(
        [0.0, *(decode_step_seconds(shape, hardware, n, mean_context_tokens, ideal=False) for n in range(1, batch + 1))]
    )
    return ServiceModel(max_batch=batch, prefill_table=prefill_table, decode_table=decode_table)
