"""Each container family's environment, derived from the typed config, and the engine's rules checked at synth.

A model config never writes engine variables by hand (the loader refuses the managed ones): the same typed
fields become LMI's ``OPTION_*`` variables or TGI's, so switching `container.family` is one line. The rules
that need the instance (tensor-parallel degree = its GPU count) are checked here, when the registry loads,
so a config the engine would refuse at start-up (on a GPU that is already billing) stops synth instead.
"""

from __future__ import annotations

from llm_config.catalogue import ContainerFamilyName, InstanceType
from llm_config.errors import ConfigError
from llm_config.sagemaker_model import SageMakerModelConfig

# Where SageMaker stages weights from S3 (ModelDataSource); both families load from a local path.
STAGED_WEIGHTS_PATH = "/opt/ml/model"
# LMI's vLLM async mode: LMI hands requests straight to vLLM's AsyncLLMEngine (recommended since LMI v16).
LMI_ASYNC_ENTRYPOINT = "djl_python.lmi_vllm.vllm_async_service"
# What LMI's OPTION_QUANTIZE calls each load-time method (vLLM's in-flight bitsandbytes is 4-bit NF4).
LMI_QUANTIZE = {"fp8": "fp8", "bitsandbytes-nf4": "bitsandbytes"}
# The variable the Hugging Face token goes in (a CloudFormation dynamic reference, added by the construct).
TOKEN_VARIABLE: dict[ContainerFamilyName, str] = {"lmi": "HF_TOKEN", "tgi": "HUGGING_FACE_HUB_TOKEN"}


def container_environment(model: SageMakerModelConfig, instance: InstanceType) -> dict[str, str]:
    """The container's environment for ``model`` on ``instance`` (without the token), sorted by name."""
    derive = {"lmi": _lmi_environment, "tgi": _tgi_environment}[model.container.family]
    environment = derive(model, instance)
    environment.update(model.container.environment)
    return dict(sorted(environment.items()))


def _model_location(model: SageMakerModelConfig) -> str:
    source = model.hugging_face
    return STAGED_WEIGHTS_PATH if source.weights_s3_uri else source.model_id


def _lmi_environment(model: SageMakerModelConfig, instance: InstanceType) -> dict[str, str]:
    container = model.container
    assert container.max_batch_size is not None  # the loader requires it for lmi
    environment = {
        "HF_MODEL_ID": _model_location(model),
        "OPTION_ASYNC_MODE": "true",
        "OPTION_ROLLING_BATCH": "disable",
        "OPTION_ENTRYPOINT": LMI_ASYNC_ENTRYPOINT,
        "OPTION_TENSOR_PARALLEL_DEGREE": str(instance.gpus),
        "OPTION_MAX_MODEL_LEN": str(container.max_total_tokens),
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(container.max_batch_size),
        "OPTION_GPU_MEMORY_UTILIZATION": f"{container.gpu_memory_utilization:g}",
        # LMI gives up loading after its own timeout; SageMaker's health check is the one that matters.
        "OPTION_MODEL_LOADING_TIMEOUT": str(model.instance.container_startup_health_check_timeout_seconds),
        # Exit when loading fails, so SageMaker reports the failure instead of waiting out the health check.
        "SERVING_FAIL_FAST": "true",
    }
    if not model.hugging_face.weights_s3_uri:
        environment["OPTION_REVISION"] = model.hugging_face.revision
    # A quantized checkpoint is detected from its config.json; naming the method again would stop vLLM
    # from choosing its fastest kernels (Marlin), so OPTION_QUANTIZE is set only to quantize while loading.
    if container.quantize_at_load:
        environment["OPTION_QUANTIZE"] = LMI_QUANTIZE[container.quantize_at_load]
    return environment


def _tgi_environment(model: SageMakerModelConfig, instance: InstanceType) -> dict[str, str]:
    container = model.container
    environment = {
        "HF_MODEL_ID": _model_location(model),
        "SM_NUM_GPUS": str(instance.gpus),
        "MAX_INPUT_TOKENS": str(container.max_input_tokens),
        "MAX_TOTAL_TOKENS": str(container.max_total_tokens),
        "MAX_BATCH_TOTAL_TOKENS": str(container.max_batch_total_tokens),
        "CUDA_MEMORY_FRACTION": f"{container.gpu_memory_utilization:g}",
    }
    if not model.hugging_face.weights_s3_uri:
        environment["HF_MODEL_REVISION"] = model.hugging_face.revision
    # TGI reads a checkpoint's method from its config.json too, and accepts it named again.
    if container.quantization != "none":
        environment["HF_MODEL_QUANTIZE"] = container.quantization
    return environment


def check_engine_rules(
    model: SageMakerModelConfig,
    instance: InstanceType,
    source: str,
    instance_type: str | None = None,
    field: str = "instance.type",
) -> None:
    """Stop synth when the engine would refuse ``model`` on ``instance`` (default: instance.type; a fallback pool
    names its own type and field) at start-up, or when autoscaling could only add an instance after requests queue
    behind a full batch."""
    if model.container.family == "lmi":
        _check_tensor_parallel(model, instance, source, instance_type or model.instance.type, field)
    _check_scaling_target_within_batch(model, source)


def max_batch(model: SageMakerModelConfig) -> tuple[int, str]:
    """The most requests one instance (or copy) decodes at once, and where that bound comes from: LMI's
    max_batch_size (vLLM's max_num_seqs); TGI admits by tokens, so its KV budget over the reference request's length."""
    container, request = model.container, model.reference_request
    if container.max_batch_size is not None:
        return container.max_batch_size, f"container.max_batch_size ({container.max_batch_size})"
    tokens = request.input_tokens + request.output_tokens
    batch = max(1, container.max_batch_total_tokens // tokens)
    return batch, f"container.max_batch_total_tokens {container.max_batch_total_tokens} / reference_request {tokens} tokens"


def _check_scaling_target_within_batch(model: SageMakerModelConfig, source: str) -> None:
    # A concurrency target (requests in flight or queued per instance, or per copy on a scale-to-zero endpoint) above
    # the batch is reached only by requests waiting behind a full batch: each waits a whole answer before it starts.
    # An invocations-per-minute target is a rate, not comparable with a batch (sizing.predict_at_target relates them).
    scaling = model.scaling
    if scaling.target_metric == "SageMakerVariantInvocationsPerInstance":
        return
    batch, bound = max_batch(model)
    if scaling.target_value > batch:
        raise ConfigError(
            source,
            "scaling.target_value",
            f"{scaling.target_value:g} requests in flight per instance is above the {batch} the engine decodes at once"
            f" ({bound}): autoscaling would add an instance only after requests queue behind a full batch",
            f"set scaling.target_value to at most {batch}, or raise the batch (the memory check permitting)",
        )


def _check_tensor_parallel(
    model: SageMakerModelConfig, instance: InstanceType, source: str, instance_type: str, field: str
) -> None:
    # vLLM shards the KV heads over the tensor-parallel ranks: either each rank holds whole heads
    # (kv_heads divisible by the degree) or each head is replicated on a whole number of ranks.
    degree, kv_heads = instance.gpus, model.architecture.kv_heads
    if kv_heads % degree == 0 or degree % kv_heads == 0:
        return
    raise ConfigError(
        source,
        field,
        f"vLLM cannot shard {kv_heads} KV heads over {degree} GPUs (OPTION_TENSOR_PARALLEL_DEGREE is the "
        f"GPU count of {instance_type})",
        "pick an instance whose GPU count divides the KV heads, or is a multiple of them",
    )
