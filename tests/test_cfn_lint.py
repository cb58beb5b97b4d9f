"""cfn-lint (offline, knows current SageMaker instance types) finds no errors or warnings in any template."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from tests.conftest import BEDROCK_MODELS, SAGEMAKER_MODELS


@pytest.mark.parametrize("key", SAGEMAKER_MODELS + BEDROCK_MODELS)
def test_template_lints_clean(synth, key):
    template = json.dumps(synth(model=key).to_json())
    matches = lint(template, config=ManualArgs(regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_lint_would_catch_a_broken_template(synth):
    broken = synth(model="mistral").to_json()
    endpoint = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    endpoint["Properties"]["ProductionVariants"][0]["InstanceType"] = "ml.g5.huge"
    matches = lint(json.dumps(broken), config=ManualArgs(regions=["us-east-1"]))
    assert any("ml.g5.huge" in str(m) for m in matches)
