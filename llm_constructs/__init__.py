"""Reusable CDK constructs for LLM serving. Constructs never read context or files: stacks pass typed config."""

from llm_constructs.sagemaker_llm_endpoint import EndpointVariant, SageMakerLlmEndpoint, tgi_environment

__all__ = ["EndpointVariant", "SageMakerLlmEndpoint", "tgi_environment"]
