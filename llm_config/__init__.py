"""Config for the LLM endpoint app: parsed and validated once, at the edge, into typed objects."""

from llm_config.bedrock_model import BedrockModelConfig
from llm_config.catalogue import ContainerImage, InstanceType
from llm_config.errors import ConfigError
from llm_config.registry import ModelConfig, ModelRegistry, load_registry
from llm_config.sagemaker_model import SageMakerModelConfig

__all__ = [
    "BedrockModelConfig",
    "ConfigError",
    "ContainerImage",
    "InstanceType",
    "ModelConfig",
    "ModelRegistry",
    "SageMakerModelConfig",
    "load_registry",
]
