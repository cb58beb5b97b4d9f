"""The cdk-nag NIST 800-53 R5 pack runs on every endpoint template the suite synthesizes (tests/conftest.py)."""

from __future__ import annotations

import re

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template
from cdk_nag import NIST80053R5Checks

from tests.conftest import BEDROCK_MODELS, SAGEMAKER_MODELS

# The two acknowledged findings and their reasons live in llm_constructs/sagemaker_llm_endpoint.py:
# SageMakerEndpointConfigurationKMSKeyConfigured (NVMe instance storage refuses a KmsKeyId) and IAMNoInlinePolicy
# (each policy serves exactly the endpoint's own execution role). Everything else is fixed, not acknowledged.


@pytest.mark.parametrize("key", SAGEMAKER_MODELS + BEDROCK_MODELS)
def test_every_model_template_passes_the_nist_pack(synth, key):
    synth(model=key)  # raises on an unacknowledged finding


@pytest.mark.parametrize(
    "context",
    [
        {"endpoint": "chat", "model": "mistral", "candidate": "mixtral", "candidate_weight": "10"},
        {"endpoint": "chat", "model": "mistral", "candidate": "mixtral", "candidate_weight": "100"},
        {"endpoint": "chat", "model": "mixtral", "retire": "mistral"},
    ],
)
def test_migration_phases_pass_the_nist_pack(synth, context):
    synth(**context)


def test_the_pack_fails_a_finding_nobody_acknowledged(tmp_path):
    """The plugin really runs in this form: a log group kept forever is a finding."""
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "s")
    logs.LogGroup(stack, "Forever", retention=logs.RetentionDays.INFINITE)
    Validations.of(app).add_plugins(NIST80053R5Checks(app))
    with pytest.raises(RuntimeError, match=re.escape("NIST.800.53.R5-CloudWatchLogGroupRetentionPeriod")):
        Template.from_stack(stack)
