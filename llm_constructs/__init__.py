"""Reusable CDK constructs for LLM serving. Constructs never read context or files: stacks pass typed config."""

from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.cost_budget import CostBudget
from llm_constructs.endpoint_alarms import VariantAlarms
from llm_constructs.endpoint_dashboard import EndpointDashboard
from llm_constructs.endpoint_metrics import VariantMetrics
from llm_constructs.endpoint_scaling import VariantScaling
from llm_constructs.sagemaker_llm_endpoint import EndpointVariant, SageMakerLlmEndpoint

__all__ = [
    "AlarmTopic",
    "CostBudget",
    "EndpointDashboard",
    "EndpointVariant",
    "SageMakerLlmEndpoint",
    "VariantAlarms",
    "VariantMetrics",
    "VariantScaling",
]
