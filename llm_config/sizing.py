"""Will the model fit its instance's GPU memory? Checked at synth, before anyone pays for a GPU.

The estimate is deliberately simple and conservative:

    weights   = parameters x bytes per parameter for the quantization
    KV cache  = max_batch_total_tokens x 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (fp16)
    overhead  = OVERHEAD_GB_PER_GPU on every GPU (CUDA context, activations, NCCL buffers)

and the sum must not exceed the instance's total GPU memory (the container shards over all GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_config.catalogue import InstanceCatalogue, InstanceType
from llm_config.errors import ConfigError
from llm_config.sagemaker_model import LOAD_TIME_QUANTIZATIONS, Quantization, SageMakerModelConfig

BYTES_PER_PARAMETER: dict[str, float] = {
    "none": 2.0,  # fp16 / bf16
    "fp8": 1.0,
    "eetq": 1.0,  # int8, quantized on load
    "bitsandbytes": 1.0,  # LLM.int8, quantized on load
    "gptq": 0.5625,  # 4-bit weights plus group scales, about 4.5 bits
    "awq": 0.5625,
    "bitsandbytes-nf4": 0.5625,
    "bitsandbytes-fp4": 0.5625,
}
KV_CACHE_BYTES_PER_VALUE = 2
OVERHEAD_GB_PER_GPU = 2.0


@dataclass(frozen=True)
class GpuMemoryEstimate:
    weights_gb: float
    kv_cache_gb: float
    overhead_gb: float
    available_gb: float

    @property
    def required_gb(self) -> float:
        return self.weights_gb + self.kv_cache_gb + self.overhead_gb

    @property
    def fits(self) -> bool:
        return self.required_gb <= self.available_gb

    def describe(self) -> str:
        return (
            f"~{self.required_gb:.1f} GB ({self.weights_gb:.1f} GB weights + {self.kv_cache_gb:.1f} GB KV cache"
            f" + {self.overhead_gb:.1f} GB overhead) of {self.available_gb:.0f} GB"
        )


def weights_label(quantization: Quantization) -> str:
    """How people name the weights' format: 'fp16' rather than quantization 'none'."""
    return "fp16" if quantization == "none" else quantization


def estimate_gpu_memory(
    model: SageMakerModelConfig, instance: InstanceType, quantization: Quantization | None = None
) -> GpuMemoryEstimate:
    quant = quantization or model.container.quantization
    arch = model.architecture
    kv_bytes_per_token = 2 * arch.layers * arch.kv_heads * arch.head_dim * KV_CACHE_BYTES_PER_VALUE
    return GpuMemoryEstimate(
        weights_gb=model.parameters_billion * BYTES_PER_PARAMETER[quant],
        kv_cache_gb=model.container.max_batch_total_tokens * kv_bytes_per_token / 1e9,
        overhead_gb=OVERHEAD_GB_PER_GPU * instance.gpus,
        available_gb=instance.total_gpu_memory_gb,
    )


def check_fits(model: SageMakerModelConfig, catalogue: InstanceCatalogue, source: str) -> GpuMemoryEstimate:
    """Return the estimate, or stop with the cheapest fix when the model does not fit."""
    instance = catalogue.get(model.instance.type, source, "instance.type")
    estimate = estimate_gpu_memory(model, instance)
    if estimate.fits:
        return estimate
    raise ConfigError(
        source,
        "instance.type",
        f"{model.key} ({weights_label(model.container.quantization)} weights) does not fit {model.instance.type}: "
        f"needs {estimate.describe()}",
        "; or ".join(_fixes(model, catalogue, instance, estimate)),
    )


def _fixes(
    model: SageMakerModelConfig, catalogue: InstanceCatalogue, instance: InstanceType, estimate: GpuMemoryEstimate
) -> list[str]:
    fixes = []
    for name, candidate in catalogue.cheapest_first():
        if estimate_gpu_memory(model, candidate).fits:
            fixes.append(
                f"set instance.type to {name}, the cheapest catalogued instance that fits "
                f"(${candidate.sagemaker_hourly_usd}/h, {candidate.gpus} x {candidate.gpu_memory_gb:g} GB)"
            )
            break
    if model.container.quantization == "none":
        # What the container family can quantize to while loading the fp16 checkpoint (gptq/awq need one made beforehand).
        for quant in LOAD_TIME_QUANTIZATIONS[model.container.family]:
            if estimate_gpu_memory(model, instance, quant).fits:
                fixes.append(f"set container.quantization to {quant} to keep {model.instance.type}")
                break
    weights_and_overhead = estimate.weights_gb + estimate.overhead_gb
    if weights_and_overhead < estimate.available_gb:
        room_tokens = int(
            (estimate.available_gb - weights_and_overhead) / estimate.kv_cache_gb * model.container.max_batch_total_tokens
        )
        if room_tokens >= model.container.max_total_tokens:
            fixes.append(f"lower container.max_batch_total_tokens to at most {room_tokens}")
    return fixes or ["no catalogued instance fits: quantize the weights (gptq/awq checkpoint) or add a larger instance"]
