"""Each SageMaker model's tool path, as synth publishes it, and Mistral 7B v0.3 served with vLLM's tool-call parser.

Mistral 7B v0.3 is a key of its own (mistral-7b-v0-3): moving mistral-7b to v0.3 would replace the model of every
running mistral-7b endpoint at its next deploy. An endpoint moves to it by a migration instead."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import client_parameter, only

V03 = "mistral-7b-v0-3"


def published(template: Any, endpoint: str) -> list[dict[str, Any]]:
    return list(json.loads(client_parameter(template, endpoint)["Value"])["variants"])


def test_mistral_v0_3_is_served_with_vllms_mistral_tool_parser(synth):
    template = synth(model=V03)
    environment = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert environment["HF_MODEL_ID"] == "mistralai/Mistral-7B-Instruct-v0.3"
    assert environment["OPTION_REVISION"] == "c170c708c41dac9275d15a8fff4eca08d52bab71"  # a commit, not a branch
    assert environment["OPTION_ENABLE_AUTO_TOOL_CHOICE"] == "true"
    assert environment["OPTION_TOOL_CALL_PARSER"] == "mistral"
    assert environment["OPTION_TOKENIZER_MODE"] == "mistral"  # mistral_common: the 9-character tool-call ids
    assert "HF_TOKEN" not in environment  # not gated at the pinned commit
    assert [v["tool_calling"] for v in published(template, V03)] == ["native"]


@pytest.mark.parametrize(
    ("model", "path"),
    [("mistral-7b", "constrained"), ("mixtral-8x7b", "constrained"), ("llama2-7b", "constrained"), (V03, "native")],
)
def test_every_sagemaker_models_parameter_names_its_tool_path(synth, model, path):
    assert [v["tool_calling"] for v in published(synth(model=model), model)] == [path]


def test_mistral_7b_keeps_v0_2_so_no_deploy_replaces_a_running_endpoints_model(synth):
    environment = only(synth(model="mistral"), "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]
    assert environment["HF_MODEL_ID"] == "mistralai/Mistral-7B-Instruct-v0.2"
    assert "OPTION_TOOL_CALL_PARSER" not in environment


def test_an_endpoint_moves_to_v0_3_by_a_migration_and_its_split_sends_the_constrained_request(synth):
    template = synth(model="mistral", endpoint="mistral-7b", candidate=V03, candidate_weight="10")
    variants = published(template, "mistral-7b")
    assert [(v["model_key"], v["tool_calling"]) for v in variants] == [("mistral-7b", "constrained"), (V03, "native")]
