"""A self-hosted model's config file (`hosting: sagemaker`), as a typed, validated object.

Every field is documented in model_configs/README.md; this module enforces it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import PositiveFloat, PositiveInt
from llm_config.model_identity import KEY_PATTERN as KEY_PATTERN  # re-exported: its old home
from llm_config.model_identity import ModelIdentity
from llm_config.operations import AlarmSettings, BudgetSettings, ScalingSettings

Quantization = Literal["none", "gptq", "awq", "eetq", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"]

# Environment variables the project derives from typed fields. Setting them by hand in
# `container.environment` would let the two disagree, so the loader refuses it.
MANAGED_ENVIRONMENT = frozenset(
    {
        "HF_MODEL_ID",
        "HF_MODEL_REVISION",
        "HF_MODEL_QUANTIZE",
        "SM_NUM_GPUS",
        "MAX_INPUT_TOKENS",
        "MAX_TOTAL_TOKENS",
        "MAX_BATCH_TOTAL_TOKENS",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN",
    }
)
# TGI refuses to start when both the old and the new name are set.
DEPRECATED_ENVIRONMENT = {"MAX_INPUT_LENGTH": "max_input_tokens"}

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
    revision: str
    gated: bool
    licence: str
    token_secret_name: str | None = None
    weights_s3_uri: Annotated[str, Field(pattern=r"^s3://[a-z0-9.\-]{3,63}/.+/$")] | None = None

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
    """The serving container and the limits it enforces."""

    image: str
    quantization: Quantization
    max_input_tokens: PositiveInt
    max_total_tokens: PositiveInt
    max_batch_total_tokens: PositiveInt
    environment: dict[str, str] = Field(default_factory=dict)

    @field_validator("environment")
    @classmethod
    def _no_managed_keys(cls, environment: dict[str, str]) -> dict[str, str]:
        for name in environment:
            if name in MANAGED_ENVIRONMENT:
                raise ValueError(f"{name} is set by the project from typed fields|remove it from container.environment")
            if name in DEPRECATED_ENVIRONMENT:
                raise ValueError(
                    f"{name} is the deprecated name of MAX_INPUT_TOKENS and TGI refuses both together"
                    f"|remove it and set container.{DEPRECATED_ENVIRONMENT[name]}"
                )
        return environment

    @model_validator(mode="after")
    def _token_limits_ordered(self) -> Container:
        if self.max_input_tokens >= self.max_total_tokens:
            raise ValueError(
                f"max_input_tokens ({self.max_input_tokens}) must be below max_total_tokens ({self.max_total_tokens})"
                "|lower max_input_tokens or raise max_total_tokens: the difference is the room left to generate"
            )
        if self.max_total_tokens > self.max_batch_total_tokens:
            raise ValueError(
                f"max_total_tokens ({self.max_total_tokens}) exceeds max_batch_total_tokens ({self.max_batch_total_tokens})"
                "|raise max_batch_total_tokens to at least max_total_tokens"
            )
        return self


class Instance(StrictModel):
    """What the endpoint runs on."""

    type: str
    initial_count: PositiveInt
    container_startup_health_check_timeout_seconds: TimeoutSeconds
    model_data_download_timeout_seconds: TimeoutSeconds


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
