"""How fast a model answers on an instance, from first principles, and the physical ceiling beside it.

Decoding is memory-bandwidth bound: every step reads the weights once (for a mixture of experts, the
experts the running batch routes to) plus every running sequence's KV cache, and yields one token per
sequence. Prefill is compute bound: about 2 FLOPs per active parameter per prompt token, plus attention.
Tensor parallelism adds two all-reduces per layer: a fixed cost per step (latency-bound at small batch)
plus the partial results over the interconnect (PCIe on g5/g6/g6e, NVLink on p4d/p5).

    decode step  = bytes read / (GPUs x bandwidth x decode_efficiency) + layers x 2 x all-reduce
    prefill      = max(FLOPs / (GPUs x TFLOPS x prefill_efficiency), weights / effective bandwidth)
                   + layers x 2 x all-reduce of the prompt's activations
    request      = concurrency x prefill + output tokens x decode step at that concurrency

(At a steady `concurrency` requests in flight, about concurrency - 1 other prompts are prefilled while
one request decodes, which is the first term.) The ceiling is the same arithmetic with every efficiency
at 1.0 and free all-reduces: no software reaches it. The efficiencies and all-reduce costs live in
model_configs/instances.yaml; docs/planner.md#throughput-model shows their calibration and the error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_config.catalogue import GpuSpec, InstanceType, Interconnect

KV_CACHE_BYTES_PER_VALUE = 2  # fp16 / bf16 cache
ACTIVATION_BYTES = 2


@dataclass(frozen=True)
class ModelShape:
    """The architecture facts the model needs (from the model's config.json)."""

    parameters_billion: float
    active_parameters_billion: float
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    bytes_per_parameter: float
    experts: int = 1
    experts_per_token: int = 1

    @property
    def hidden_size(self) -> int:
        return self.attention_heads * self.head_dim

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * KV_CACHE_BYTES_PER_VALUE

    def weights_read_bytes(self, batch: int) -> float:
        """Weight bytes one decode step reads when ``batch`` tokens are routed at once.

        Dense: all weights. Mixture of experts: the shared weights (attention, norms, router) plus the
        experts at least one of the batch's tokens is routed to: each expert is missed by one token with
        probability 1 - k/E, so a batch of B touches 1 - (1 - k/E)^B of them.
        """
        if self.experts == 1:
            return self.parameters_billion * 1e9 * self.bytes_per_parameter
        k, e = self.experts_per_token, self.experts
        shared = (self.active_parameters_billion * e - self.parameters_billion * k) / (e - k)
        touched = 1 - (1 - k / e) ** batch
        return (shared + (self.parameters_billion - shared) * touched) * 1e9 * self.bytes_per_parameter


@dataclass(frozen=True)
class Hardware:
    gpu: GpuSpec
    gpus: int
    interconnect: Interconnect

    @classmethod
    def of(cls, instance: InstanceType) -> Hardware:
        return cls(gpu=instance.gpu, gpus=instance.gpus, interconnect=instance.interconnect)

    def allreduce_seconds(self, message_bytes: float) -> float:
        """One all-reduce of ``message_bytes`` over all GPUs: log2(n) latency-bound steps, then the ring's
        2 (n-1)/n x message over the link."""
        n = self.gpus
        if n == 1:
            return 0.0
        steps = self.interconnect.allreduce_step_microseconds * 1e-6 * math.log2(n)
        return steps + 2 * (n - 1) / n * message_bytes / (self.interconnect.link_gb_per_second * 1e9)


@dataclass(frozen=True)
class Timing:
    """One request's predicted timing at a given concurrency."""

    first_token_seconds: float
    seconds_per_output_token: float
    latency_seconds: float

    @property
    def tokens_per_second(self) -> float:
        return 1 / self.seconds_per_output_token


@dataclass(frozen=True)
class Prediction:
    estimate: Timing
    ceiling: Timing


def decode_step_seconds(shape: ModelShape, hardware: Hardware, batch: int, context_tokens: float, ideal: bool) -> float:
    """One decode step: every running sequence gets one token."""
    read = shape.weights_read_bytes(batch) + batch * context_tokens * shape.kv_bytes_per_token
    efficiency = 1.0 if ideal else hardware.gpu.decode_efficiency
    memory = read / (hardware.gpus * hardware.gpu.memory_bandwidth_gb_per_second * 1e9 * efficiency)
    if ideal:
        return memory
    return memory + shape.layers * 2 * hardware.allreduce_seconds(batch * shape.hidden_size * ACTIVATION_BYTES)


def prefill_seconds(shape: ModelShape, hardware: Hardware, input_tokens: int, ideal: bool) -> float:
    """Processing one prompt of ``input_tokens``: compute bound, but never faster than reading the weights."""
    flops = 2 * shape.active_parameters_billion * 1e9 * input_tokens + 2 * shape.layers * input_tokens**2 * shape.hidden_size
    compute_efficiency = 1.0 if ideal else hardware.gpu.prefill_efficiency
    memory_efficiency = 1.0 if ideal else hardware.gpu.decode_efficiency
    compute = flops / (hardware.gpus * hardware.gpu.fp16_tflops * 1e12 * compute_efficiency)
    memory = shape.weights_read_bytes(input_tokens) / (
        hardware.gpus * hardware.gpu.memory_bandwidth_gb_per_second * 1e9 * memory_efficiency
    )
    if ideal:
        return max(compute, memory)
    allreduce = hardware.allreduce_seconds(input_tokens * shape.hidden_size * ACTIVATION_BYTES)
    return max(compute, memory) + shape.layers * 2 * allreduce


def timing(
    shape: ModelShape, hardware: Hardware, input_tokens: int, output_tokens: int, concurrency: int, ideal: bool = False
) -> Timing:
    """One request of ``input_tokens`` + ``output_tokens`` while ``concurrency`` requests run on the instance."""
    batch = max(1, concurrency)
    prefill = prefill_seconds(shape, hardware, input_tokens, ideal)
    step = decode_step_seconds(shape, hardware, batch, input_tokens + output_tokens / 2, ideal)
    return Timing(
        first_token_seconds=prefill,
        seconds_per_output_token=step,
        latency_seconds=batch * prefill + output_tokens * step,
    )


def predict(shape: ModelShape, hardware: Hardware, input_tokens: int, output_tokens: int, concurrency: int) -> Prediction:
    """The estimate and the physical ceiling (every efficiency 1.0) for the same request."""
    return Prediction(
        estimate=timing(shape, hardware, input_tokens, output_tokens, concurrency),
        ceiling=timing(shape, hardware, input_tokens, output_tokens, concurrency, ideal=True),
    )
