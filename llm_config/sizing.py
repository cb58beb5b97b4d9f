"""Does the model fit its instance? Checked at synth, before anyone pays for a GPU. Three checks:

1. GPU memory, deliberately simple and conservative:

       weights   = parameters x bytes per parameter for the quantization
       KV cache  = max_batch_total_tokens x 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (fp16)
       overhead  = OVERHEAD_GB_PER_GPU on every GPU (CUDA context, activations, NCCL buffers)

   and the sum must not exceed the share of the instance's total GPU memory that the engine may use
   (`container.gpu_memory_utilization`: vLLM and TGI allocate no more than that; the container shards over all GPUs).
2. Host memory while loading: the weights pass through the host's page cache on their way to the
   GPUs, so the host needs one copy of them plus HOST_RESERVE_GB for the OS and the container.
3. Latency: the config's `reference_request` must finish within `latency_budget_seconds` while the
   instance runs as many requests as its autoscaling target lets in (llm_config/throughput.py).

When the configured instance fails one, the error names the cheapest catalogued instance that passes all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_config.catalogue import InstanceCatalogue, InstanceType
from llm_config.errors import ConfigError
from llm_config.sagemaker_model import LOAD_TIME_QUANTIZATIONS, Quantization, SageMakerModelConfig
from llm_config.throughput import Hardware, ModelShape, Prediction, predict

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
HOST_RESERVE_GB = 2.0  # OS, container runtime and the serving process beside the weights in the page cache
# The invocations-per-minute target gives a concurrency only through the latency (Little's law): iterate.
LITTLE_ITERATIONS = 8


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
            f" + {self.overhead_gb:.1f} GB overhead) of the {self.available_gb:.1f} GB the engine may use"
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
        available_gb=instance.total_gpu_memory_gb * model.container.gpu_memory_utilization,
    )


def model_shape(model: SageMakerModelConfig, quantization: Quantization | None = None) -> ModelShape:
    arch = model.architecture
    return ModelShape(
        parameters_billion=model.parameters_billion,
        active_parameters_billion=model.active_parameters,
        layers=arch.layers,
        attention_heads=arch.attention_heads,
        kv_heads=arch.kv_heads,
        head_dim=arch.head_dim,
        bytes_per_parameter=BYTES_PER_PARAMETER[quantization or model.container.quantization],
        experts=arch.experts,
        experts_per_token=arch.experts_per_token,
    )


def batch_limit(model: SageMakerModelConfig, input_tokens: int, output_tokens: int) -> int:
    """How many such requests the container runs at once: its batch token budget over their length."""
    return max(1, model.container.max_batch_total_tokens // (input_tokens + output_tokens))


def predict_at_target(
    model: SageMakerModelConfig, instance: InstanceType, input_tokens: int, output_tokens: int
) -> tuple[Prediction, int]:
    """The request's timing while the instance runs at its autoscaling target, and that concurrency.

    Concurrent-requests target: the target itself. Invocations-per-minute target: Little's law
    (concurrency = invocations per second x latency), solved by iteration. Either way the container
    never runs more than its batch token budget allows.
    """
    shape, hardware = model_shape(model), Hardware.of(instance)
    most = batch_limit(model, input_tokens, output_tokens)
    scaling = model.scaling
    if scaling.target_metric != "SageMakerVariantInvocationsPerInstance":
        concurrency = min(most, math.ceil(scaling.target_value))
        return predict(shape, hardware, input_tokens, output_tokens, concurrency), concurrency
    concurrency = 1
    for _ in range(LITTLE_ITERATIONS):
        latency = predict(shape, hardware, input_tokens, output_tokens, concurrency).estimate.latency_seconds
        concurrency = min(most, max(1, math.ceil(scaling.target_value / 60 * latency)))
    return predict(shape, hardware, input_tokens, output_tokens, concurrency), concurrency


@dataclass(frozen=True)
class FitReport:
    """The three checks of one model on one instance."""

    instance_type: str
    instance: InstanceType
    gpu_memory: GpuMemoryEstimate
    host_memory_needed_gb: float
    prediction: Prediction
    concurrency: int
    latency_budget_seconds: float

    @property
    def fits_host_memory(self) -> bool:
        return self.host_memory_needed_gb <= self.instance.host_memory_gb

    @property
    def meets_latency(self) -> bool:
        return self.prediction.estimate.latency_seconds <= self.latency_budget_seconds

    @property
    def passes(self) -> bool:
        return self.gpu_memory.fits and self.fits_host_memory and self.meets_latency

    def failures(self) -> list[str]:
        failures = []
        if not self.gpu_memory.fits:
            failures.append(f"GPU memory: needs {self.gpu_memory.describe()}")
        if not self.fits_host_memory:
            failures.append(
                f"host memory: loading needs ~{self.host_memory_needed_gb:.1f} GB"
                f" ({self.gpu_memory.weights_gb:.1f} GB weights + {HOST_RESERVE_GB:g} GB), the instance has"
                f" {self.instance.host_memory_gb:.1f} GB ({self.instance.host_memory_gib:g} GiB)"
            )
        if not self.meets_latency:
            failures.append(f"latency: {self.describe_latency()} > latency_budget_seconds {self.latency_budget_seconds:g} s")
        return failures

    def describe_latency(self) -> str:
        estimate, ceiling = self.prediction.estimate, self.prediction.ceiling
        return (
            f"{estimate.latency_seconds:.1f} s predicted (ceiling {ceiling.latency_seconds:.1f} s) at"
            f" {self.concurrency} concurrent request{'s' if self.concurrency > 1 else ''}"
        )


def assess(model: SageMakerModelConfig, instance_type: str, instance: InstanceType) -> FitReport:
    request = model.reference_request
    prediction, concurrency = predict_at_target(model, instance, request.input_tokens, request.output_tokens)
    memory = estimate_gpu_memory(model, instance)
    return FitReport(
        instance_type=instance_type,
        instance=instance,
        gpu_memory=memory,
        host_memory_needed_gb=memory.weights_gb + HOST_RESERVE_GB,
        prediction=prediction,
        concurrency=concurrency,
        latency_budget_seconds=model.latency_budget_seconds,
    )


def cheapest_passing(model: SageMakerModelConfig, catalogue: InstanceCatalogue) -> FitReport | None:
    """The cheapest catalogued instance that passes all three checks (ties: by name), or None."""
    for name, candidate in catalogue.cheapest_first():
        report = assess(model, name, candidate)
        if report.passes:
            return report
    return None


def check_fits(model: SageMakerModelConfig, catalogue: InstanceCatalogue, source: str) -> FitReport:
    """Return the checks' report, or stop naming each failure and the cheapest instance that passes."""
    instance = catalogue.get(model.instance.type, source, "instance.type")
    report = assess(model, model.instance.type, instance)
    if report.passes:
        return report
    request = model.reference_request
    raise ConfigError(
        source,
        "instance.type",
        f"{model.key} ({weights_label(model.container.quantization)} weights) on {model.instance.type} fails "
        + "; ".join(report.failures())
        + f" (reference_request {request.input_tokens} + {request.output_tokens} tokens)",
        "; or ".join(_fixes(model, catalogue, instance, report)),
    )


def check_pools_fit(model: SageMakerModelConfig, catalogue: InstanceCatalogue, source: str) -> list[FitReport]:
    """Each fallback pool passes the same three checks as instance.type, on its own: SageMaker may put the whole
    variant on any one of them. Return their reports in priority order, or stop naming the first that fails."""
    reports = []
    for priority, name in enumerate(model.instance.fallback_types, start=2):
        report = assess(model, name, catalogue.get(name, source, "instance.fallback_types"))
        if not report.passes:
            request = model.reference_request
            raise ConfigError(
                source,
                "instance.fallback_types",
                f"{model.key} ({weights_label(model.container.quantization)} weights) on fallback {name} (pool"
                f" {priority}) fails "
                + "; ".join(report.failures())
                + f" (reference_request {request.input_tokens} + {request.output_tokens} tokens): SageMaker would"
                " start the model there when the pools before it have no capacity",
                f"remove {name} from instance.fallback_types, or list an instance that passes all three checks"
                " (python -m planner shows them)",
            )
        reports.append(report)
    return reports


def _fixes(model: SageMakerModelConfig, catalogue: InstanceCatalogue, instance: InstanceType, report: FitReport) -> list[str]:
    fixes = []
    best = cheapest_passing(model, catalogue)
    if best is not None:
        fixes.append(
            f"set instance.type to {best.instance_type}, the cheapest catalogued instance that passes all three checks"
            f" (${best.instance.sagemaker_hourly_usd:g}/h, {best.instance.describe()}; {best.describe_latency()})"
        )
    estimate = report.gpu_memory
    if not estimate.fits and model.container.quantization == "none":
        # What the container family can quantize to while loading the fp16 checkpoint (gptq/awq need one made beforehand).
        for quant in LOAD_TIME_QUANTIZATIONS[model.container.family]:
            quantized = model.model_copy(update={"container": model.container.model_copy(update={"quantization": quant})})
            if assess(quantized, model.instance.type, instance).passes:
                fixes.append(f"set container.quantization to {quant} to keep {model.instance.type}")
                break
    weights_and_overhead = estimate.weights_gb + estimate.overhead_gb
    if not estimate.fits and weights_and_overhead < estimate.available_gb:
        room_tokens = int(
            (estimate.available_gb - weights_and_overhead) / estimate.kv_cache_gb * model.container.max_batch_total_tokens
        )
        if room_tokens >= model.container.max_total_tokens:
            fixes.append(f"lower container.max_batch_total_tokens to at most {room_tokens}")
    if not report.meets_latency:
        fixes.append(
            "raise latency_budget_seconds, shorten reference_request, or lower scaling.target_value"
            " so autoscaling adds instances before requests slow down"
        )
    return fixes or ["no catalogued instance passes: quantize the weights (gptq/awq checkpoint) or add a larger instance"]


# Share of an instance's host memory the inference components may claim: SageMaker's own agents run beside them.
COMPONENT_HOST_MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class ComponentShape:
    """How an inference component sits on its instance type: what one copy needs and how many copies fit."""

    accelerators: int  # GPUs one copy needs (NumberOfAcceleratorDevicesRequired)
    copies_per_instance: int
    memory_mb: int  # host memory one copy reserves (MinMemoryRequiredInMb)


def component_shape(model: SageMakerModelConfig, instance_type: str, instance: InstanceType) -> ComponentShape:
    """The fewest GPUs (a divisor of the instance's) on which one copy passes the whole fit check, so an instance
    with spare GPUs holds several copies; each copy reserves the fit check's host-memory need, capped so that the
    copies together leave COMPONENT_HOST_MEMORY_SHARE of the instance's memory in use at most."""
    accelerators = next(
        (
            n
            for n in range(1, instance.gpus)
            if instance.gpus % n == 0 and assess(model, instance_type, instance.model_copy(update={"gpus": n})).passes
        ),
        instance.gpus,
    )
    copies = instance.gpus // accelerators
    needed_gb = estimate_gpu_memory(model, instance).weights_gb + HOST_RESERVE_GB
    memory_gb = min(needed_gb, instance.host_memory_gb * COMPONENT_HOST_MEMORY_SHARE / copies)
    return ComponentShape(accelerators=accelerators, copies_per_instance=copies, memory_mb=math.floor(memory_gb * 1000))
