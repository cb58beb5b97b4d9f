"""cfn-lint (offline, knows current SageMaker instance types) finds no errors or warnings in any template."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BEDROCK_MODELS, SAGEMAKER_MODELS, cfn_lint


@pytest.mark.parametrize("key", SAGEMAKER_MODELS + BEDROCK_MODELS)
def test_template_lints_clean(synth, key):
    template = json.dumps(synth(model=key).to_json())
    matches = cfn_lint(template)
    assert [str(m) for m in matches] == []


def test_lint_would_catch_a_broken_template(synth):
    broken = synth(model="mistral").to_json()
    endpoint = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    endpoint["Properties"]["ProductionVariants"][0]["InstanceType"] = "ml.g5.huge"
    matches = cfn_lint(broken)
    assert any("ml.g5.huge" in str(m) for m in matches)


def test_the_shared_rules_find_what_a_fresh_cfn_lint_finds(synth):
    """cfn_lint() reuses one rule collection across templates: it must keep no state from one template to the next."""
    from cfnlint.api import ManualArgs, lint

    broken = synth(model="mistral").to_json()
    endpoint = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    endpoint["Properties"]["ProductionVariants"][0]["InstanceType"] = "ml.g5.huge"
    fresh = [str(m) for m in lint(json.dumps(broken), config=ManualArgs(regions=["eu-west-1"]))]
    assert fresh
    assert [str(m) for m in cfn_lint(broken, "eu-west-1")] == fresh
    assert [str(m) for m in cfn_lint(synth(model="mistral").to_json(), "eu-west-1")] == []
    assert [str(m) for m in cfn_lint(broken, "eu-west-1")] == fresh
