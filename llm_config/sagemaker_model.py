"""A self-hosted model's config file (`hosting: sagemaker`), as a typed, validated object.

Every field is documented in model_configs/README.md; this module enforces it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import ContainerFamilyName, PositiveFloat, PositiveInt
from llm_config.model_identity import KEY_PATTERN as KEY_PATTERN  # re-exported: its old home
from llm_config.model_identity import ModelIdentity
from llm_config.operations import AlarmSettings, BudgetSettings, ScalingSettings

Quantization = Literal["none", "gptq", "awq", "eetq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"]
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9  # vLLM's own default; TGI's CUDA_MEMORY_FRACTION gets the same number

# Formats no engine produces while loading: the weights must come quantized (config.json's quantization_config).
CHECKPOINT_ONLY_QUANTIZATIONS: frozenset[Quantization] = frozenset({"gptq", "awq"})
# What each family can do with a checkpoint: quantize an fp16 one while loading (the environment names the
# method), or load one quantized beforehand (the engine reads the method from its config.json).
LOAD_TIME_QUANTIZATIONS: dict[ContainerFamilyName, tuple[Quantization, ...]] = {
    # LMI's vLLM quantizes at load only to fp8 and bitsandbytes 4-bit (NF4): OPTION_QUANTIZE=fp8|bitsandbytes.
    "lmi": ("fp8", "bitsandbytes-nf4"),
    "tgi": ("eetq", "bitsandbytes-nf4", "bitsandbytes", "bitsandbytes-fp4", "fp8"),
}
PREQUANTIZED_CHECKPOINTS: dict[ContainerFamilyName, tuple[Quantization, ...]] = {
    "lmi": ("gptq", "awq", "fp8", "bitsandbytes-nf4"),
    "tgi": ("gptq", "awq", "fp8"),
}
# Environment variables each family derives from typed fields (llm_config/serving.py), plus their aliases
# the engine would also read. Setting one in `container.environment` would let the two disagree (vLLM even
# refuses some pairs, e.g. max_rolling_batch_size beside max_num_seqs), so the loader refuses them.
MANAGED_ENVIRONMENT: dict[ContainerFamilyName, frozenset[str]] = {
    "lmi": frozenset(
        {
            "HF_MODEL_ID",
            "OPTION_MODEL_ID",
            "OPTION_REVISION",
            "HF_MODEL_REVISION",
            "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN",
            "OPTION_ASYNC_MODE",
            "OPTION_ROLLING_BATCH",
            "OPTION_ENTRYPOINT",
            "OPTION_TENSOR_PARALLEL_DEGREE",
            "TENSOR_PARALLEL_DEGREE",
            "OPTION_TENSOR_PARALLEL_SIZE",
            "OPTION_MAX_MODEL_LEN",
            "OPTION_MAX_ROLLING_BATCH_SIZE",
            "OPTION_MAX_NUM_SEQS",
            "OPTION_GPU_MEMORY_UTILIZATION",
            "GPU_MEMORY_UTILIZATION",
            "OPTION_QUANTIZE",
            "OPTION_QUANTIZATION",
            "OPTION_MODEL_LOADING_TIMEOUT",
            "SERVING_FAIL_FAST",
        }
    ),
    "tgi": frozenset(
        {
            "HF_MODEL_ID",
            "HF_MODEL_REVISION",
            "HF_MODEL_QUANTIZE",
            "SM_NUM_GPUS",
            "MAX_INPUT_TOKENS",
            "MAX_TOTAL_TOKENS",
            "MAX_BATCH_TOTAL_TOKENS",
            "CUDA_MEMORY_FRACTION",
            "HUGGING_FACE_HUB_TOKEN",
            "HF_TOKEN",
        }
    ),
}
# TGI refuses to start when both the old and the new name are set.
DEPRECATED_ENVIRONMENT = {"MAX_INPUT_LENGTH": "max_input_tokens"}
FAMILY_DOC = "model_configs/README.md#container-families"

TimeoutSeconds = Annotated[int, Field(ge=60, le=3600)]


class Architecture(StrictModel):
    """The transformer shape the memory check and the throughput model need (from the model's config.json)."""

    layers: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    experts: PositiveInt = 1  # mixture of experts: experts per layer (num_local_experts)
    experts_per_token: PositiveInt = 1  # num_experts_per_tok

    @model_validator(mode="after")
    def _experts_ordered(self) -> Architecture:
        if self.experts_per_token > self.experts:
            raise ValueError(
                f"experts_per_token ({self.experts_per_token}) exceeds experts ({self.experts})"
                "|copy num_experts_per_tok and num_local_experts from the model's config.json"
            )
        return self


class ReferenceRequest(StrictModel):
    """The request the latency budget is checked with: a typical prompt and answer for this model's use."""

    input_tokens: PositiveInt
    output_tokens: PositiveInt


class HuggingFaceSource(StrictModel):
    """Where the container gets the weights."""

    model_id: str
    # A 40-hex commit SHA: a branch such as `main` can move between a blue/green deploy's two fleets or between
    # scale-out instances, which would then serve different weights. A branch needs `unpinned_reason`.
    revision: str
    unpinned_reason: str | None = None
    gated: bool
    licence: str
    token_secret_name: str | None = None
    weights_s3_uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9.\-]{3,63}/.+/$")] | None = None

    @model_validator(mode="after")
    def _revision_is_pinned(self) -> HuggingFaceSource:
        pinned = re.fullmatch(r"[0-9a-f]{40}", self.revision, flags=re.ASCII) is not None
        if not pinned and not (self.unpinned_reason or "").strip():
            raise ValueError(
                f"revision {self.revision!r} is not a commit SHA, so two instances may load different weights"
                f"|set hugging_face.revision to the 40-character commit SHA of {self.model_id} (its Files and versions "
                "tab on huggingface.co), or keep the branch and say why in hugging_face.unpinned_reason"
            )
        if pinned and self.unpinned_reason:
            raise ValueError("unpinned_reason is set but revision is a commit SHA|remove hugging_face.unpinned_reason")
        return self

    @model_validator(mode="after")
    def _gated_models_need_access(self) -> HuggingFaceSource:
        if self.gated and not (self.token_secret_name or self.weights_s3_uri):
            raise ValueError(
                f"{self.model_id} is gated on Hugging Face, so the container needs a token or staged weights"
                "|set hugging_face.token_secret_name to a Secrets Manager secret holding your HF token, "
                "or hugging_face.weights_s3_uri to an S3 prefix holding the weights (README: gated models)"
            )
        return self


class Container(StrictModel):
    """The serving container family, its image and the limits the engine enforces.

    What each field becomes in each family's environment: llm_config/serving.py and model_configs/README.md.
    """

    family: ContainerFamilyName = "lmi"
    image: str | None = None
    quantization: Quantization
    quantized_checkpoint: bool | None = None
    max_input_tokens: PositiveInt
    max_total_tokens: PositiveInt
    max_batch_total_tokens: PositiveInt
    max_batch_size: PositiveInt | None = None
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)] = DEFAULT_GPU_MEMORY_UTILIZATION
    environment: dict[str, str] = Field(default_factory=dict)

    @property
    def prequantized(self) -> bool:
        """Do the weights arrive quantized (the engine detects the method), rather than quantized while loading?"""
        if self.quantized_checkpoint is None:
            return self.quantization in CHECKPOINT_ONLY_QUANTIZATIONS
        return self.quantized_checkpoint

    @property
    def quantize_at_load(self) -> Quantization | None:
        """The method the engine must apply while loading an fp16 checkpoint, if any."""
        return None if self.quantization == "none" or self.prequantized else self.quantization

    @model_validator(mode="after")
    def _environment_not_managed(self) -> Container:
        for name in self.environment:
            if name in MANAGED_ENVIRONMENT[self.family]:
                raise ValueError(
                    f"{name} is set by the project from typed fields for the {self.family} family"
                    f"|remove it from container.environment ({FAMILY_DOC} says which field sets it)"
                )
            if self.family == "tgi" and name in DEPRECATED_ENVIRONMENT:
                raise ValueError(
                    f"{name} is the deprecated name of MAX_INPUT_TOKENS and TGI refuses both together"
                    f"|remove it and set container.{DEPRECATED_ENVIRONMENT[name]}"
                )
        return self

    @model_validator(mode="after")
    def _quantization_loads(self) -> Container:
        family, quant = self.family, self.quantization
        if quant == "none":
            if self.quantized_checkpoint:
                raise ValueError(
                    "quantized_checkpoint is true but quantization is none"
                    "|set container.quantization to the checkpoint's method (its config.json quantization_config)"
                )
            return self
        if self.prequantized and quant not in PREQUANTIZED_CHECKPOINTS[family]:
            raise ValueError(
                f"the {family} family does not load {quant} checkpoints"
                f"|use a {' or '.join(PREQUANTIZED_CHECKPOINTS[family])} checkpoint, or set container.family"
            )
        if not self.prequantized and quant not in LOAD_TIME_QUANTIZATIONS[family]:
            if quant in CHECKPOINT_ONLY_QUANTIZATIONS:
                problem = f"{quant} weights cannot be made while loading: the checkpoint must be quantized beforehand"
                fix = "leave quantized_checkpoint out (or true) and point hugging_face.model_id at a " + quant + " checkpoint"
            else:
                problem = f"the {family} family cannot quantize to {quant} while loading"
                fix = f"use one of {', '.join(LOAD_TIME_QUANTIZATIONS[family])}"
                if quant in PREQUANTIZED_CHECKPOINTS[family]:
                    fix += f", or a {quant} checkpoint with quantized_checkpoint: true"
            raise ValueError(f"{problem}|{fix}")
        return self

    @model_validator(mode="after")
    def _batch_limits(self) -> Container:
        if self.max_input_tokens >= self.max_total_tokens:
            raise ValueError(
                f"max_input_tokens ({self.max_input_tokens}) must be below max_total_tokens ({self.max_total_tokens})"
                "|lower max_input_tokens or raise max_total_tokens: the difference is the room left to generate"
            )
        if self.max_total_tokens > self.max_batch_total_tokens:
            raise ValueError(
                f"max_total_tokens ({self.max_total_tokens}) exceeds max_batch_total_tokens ({self.max_batch_total_tokens})"
                "|raise max_batch_total_tokens to at least max_total_tokens: the KV cache must hold one full request"
            )
        if self.family == "lmi" and self.max_batch_size is None:
            raise ValueError(
                "the lmi family needs max_batch_size (OPTION_MAX_ROLLING_BATCH_SIZE, vLLM's max_num_seqs)"
                "|set container.max_batch_size: the most requests decoded together on one instance"
            )
        if self.family == "tgi" and self.max_batch_size is not None:
            raise ValueError(
                "TGI bounds its batch by max_batch_total_tokens; its MAX_BATCH_SIZE is for padded hardware only"
                "|remove container.max_batch_size"
            )
        if self.max_batch_size is not None and self.max_batch_size > self.max_batch_total_tokens:
            raise ValueError(
                f"max_batch_size ({self.max_batch_size}) exceeds max_batch_total_tokens ({self.max_batch_total_tokens})"
                "|each request in the batch holds at least one token of KV cache: lower max_batch_size"
            )
        return self


# SageMaker's limit on a production variant's InstancePools: the first pool is instance.type, so 4 fallbacks.
MAX_INSTANCE_POOLS = 5
POOLS_DOC = "docs/instance-pools.md"


class Instance(StrictModel):
    """What the endpoint runs on: ``type`` first, then each of ``fallback_types`` in order when AWS has no capacity
    for the ones before it (SageMaker instance pools, priorities 1 to 5; docs/instance-pools.md)."""

    type: str
    fallback_types: list[str] = Field(default_factory=list)
    initial_count: PositiveInt
    container_startup_health_check_timeout_seconds: TimeoutSeconds
    model_data_download_timeout_seconds: TimeoutSeconds

    @field_validator("fallback_types")
    @classmethod
    def _pools_distinct_and_few(cls, fallbacks: list[str], info: ValidationInfo) -> list[str]:
        pools = [info.data.get("type"), *fallbacks]
        if len(pools) > MAX_INSTANCE_POOLS:
            raise ValueError(
                f"lists {len(fallbacks)} types: with instance.type that makes {len(pools)} instance pools, and"
                f" SageMaker takes at most {MAX_INSTANCE_POOLS}|keep at most {MAX_INSTANCE_POOLS - 1} fallbacks"
                f" ({POOLS_DOC}: order them by price, the cheapest first)"
            )
        for position, name in enumerate(fallbacks):
            if name in pools[: position + 1]:
                where = "instance.type" if name == pools[0] else "listed earlier in fallback_types"
                raise ValueError(
                    f"entry {position} ({name}) is {where}: a pool listed twice adds no capacity"
                    f"|remove {name} from instance.fallback_types"
                )
        return fallbacks

    @property
    def pool_types(self) -> list[str]:
        """Every instance type the variant may run on, in SageMaker's priority order (1 first)."""
        return [self.type, *self.fallback_types]


class SageMakerModelConfig(ModelIdentity):
    """One self-hosted model: `model_configs/<key>.yaml` with `hosting: sagemaker`."""

    hosting: Literal["sagemaker"]
    parameters_billion: PositiveFloat
    active_parameters_billion: PositiveFloat | None = None  # mixture of experts: parameters one token uses
    context_length: PositiveInt
    architecture: Architecture
    hugging_face: HuggingFaceSource
    container: Container
    instance: Instance
    latency_budget_seconds: PositiveFloat
    reference_request: ReferenceRequest
    prompt_format: str
    # Where the client ends an answer (published in the SSM parameter); the container already stops at end-of-sequence.
    stop_sequences: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    scaling: ScalingSettings
    alarms: AlarmSettings = AlarmSettings()
    budget: BudgetSettings = BudgetSettings()

    @field_validator("prompt_format")
    @classmethod
    def _prompt_has_slot(cls, prompt_format: str) -> str:
        if "{prompt}" not in prompt_format:
            raise ValueError("prompt_format has no {prompt} placeholder|put {prompt} where the user's text goes")
        return prompt_format

    @model_validator(mode="after")
    def _limits_within_context(self) -> SageMakerModelConfig:
        if self.container.max_total_tokens > self.context_length:
            raise ValueError(
                f"container.max_total_tokens ({self.container.max_total_tokens}) exceeds the model's "
                f"context_length ({self.context_length})|lower container.max_total_tokens"
            )
        return self

    @model_validator(mode="after")
    def _gpu_memory_alarm_above_the_reservation(self) -> SageMakerModelConfig:
        reserved_percent = self.container.gpu_memory_utilization * 100
        if self.alarms.gpu_memory_utilization_percent <= reserved_percent:
            raise ValueError(
                f"alarms.gpu_memory_utilization_percent ({self.alarms.gpu_memory_utilization_percent:g}) is not above "
                f"container.gpu_memory_utilization ({reserved_percent:g}%), which the engine reserves at start-up: "
                "the alarm would fire all day|raise the threshold or lower container.gpu_memory_utilization"
            )
        return self

    @model_validator(mode="after")
    def _active_parameters_for_experts(self) -> SageMakerModelConfig:
        experts = self.architecture.experts > 1
        if experts and self.active_parameters_billion is None:
            raise ValueError(
                "a mixture of experts needs active_parameters_billion|set it to the parameters one token uses "
                "(the model card states it, e.g. 12.9 for Mixtral 8x7B)"
            )
        if not experts and self.active_parameters_billion not in (None, self.parameters_billion):
            raise ValueError(
                "active_parameters_billion differs from parameters_billion but architecture.experts is 1"
                "|set architecture.experts and experts_per_token, or remove active_parameters_billion"
            )
        if self.active_parameters_billion and self.active_parameters_billion > self.parameters_billion:
            raise ValueError("active_parameters_billion exceeds parameters_billion|a token cannot use more than all of them")
        return self

    @model_validator(mode="after")
    def _reference_request_accepted(self) -> SageMakerModelConfig:
        request, container = self.reference_request, self.container
        if request.input_tokens > container.max_input_tokens or (
            request.input_tokens + request.output_tokens > container.max_total_tokens
        ):
            raise ValueError(
                f"reference_request ({request.input_tokens} + {request.output_tokens} tokens) is longer than the container"
                f" accepts (container.max_input_tokens {container.max_input_tokens}, max_total_tokens"
                f" {container.max_total_tokens})|shorten the reference request or raise the container's limits"
            )
        return self

    @model_validator(mode="after")
    def _initial_count_within_scaling(self) -> SageMakerModelConfig:
        scaling = self.scaling
        if not scaling.min_instances <= self.instance.initial_count <= scaling.max_instances:
            raise ValueError(
                f"instance.initial_count ({self.instance.initial_count}) is outside scaling.min_instances.."
                f"scaling.max_instances ({scaling.min_instances}..{scaling.max_instances})"
                "|Application Auto Scaling would move it at once: make them agree"
            )
        return self

    @property
    def active_parameters(self) -> float:
        """Billions of parameters one token uses: all of them unless the model is a mixture of experts."""
        return self.active_parameters_billion or self.parameters_billion

    @property
    def latency_alarm_seconds(self) -> float:
        """The p90 ModelLatency threshold: `alarms.latency_p90_seconds`, else the latency budget."""
        return self.alarms.latency_p90_seconds or self.latency_budget_seconds

    def format_prompt(self, prompt: str) -> str:
        return self.prompt_format.replace("{prompt}", prompt)
