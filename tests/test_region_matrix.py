"""Every SageMaker model synthesizes clean (cdk-nag, cfn-lint) with its LMI image in every partition we ship to.

China (aws-cn) and GovCloud (aws-us-gov) differ from the main partition in the registry domain and account,
in every ARN's partition and in which resource types CloudFormation offers there (Budgets).
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from tests.conftest import MATRIX_REGIONS, REPO_ROOT, SAGEMAKER_MODELS, cfn_lint, only

PAIRS = [(key, region) for region in MATRIX_REGIONS for key in SAGEMAKER_MODELS]
OTHER_PARTITIONS = {"cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"}


@pytest.mark.parametrize(("key", "region"), PAIRS)
def test_template_lints_clean_in_the_region(region_matrix, key, region):
    # cdk-nag already ran while the matrix synthesized: a finding would have failed the fixture.
    matches = cfn_lint(region_matrix[key, region], region)
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize(("key", "region"), PAIRS)
def test_serves_the_regions_lmi_image_on_a_cuda_13_host(region_matrix, registry, key, region):
    template = Template.from_json(region_matrix[key, region])
    image = registry.image_for(registry.models[key])
    assert image.family == "lmi"
    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    assert container["Image"] == image.uri(region)
    assert container["Environment"]["OPTION_ENTRYPOINT"] == "djl_python.lmi_vllm.vllm_async_service"
    variant = only(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]
    assert variant["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"


@pytest.mark.parametrize(("key", "region"), [(k, r) for k, r in PAIRS if r in OTHER_PARTITIONS])
def test_no_arn_names_the_main_partition(region_matrix, key, region):
    text = json.dumps(region_matrix[key, region])
    assert "arn:aws:" not in text
    assert f"arn:{OTHER_PARTITIONS[region]}:" in text  # the ARNs are there, in their own partition


def test_the_partition_check_would_see_a_literal_arn(region_matrix):
    assert "arn:aws:" in json.dumps(region_matrix["mistral-7b", "us-east-1"])


def test_china_images_come_from_the_china_registry(region_matrix):
    template = Template.from_json(region_matrix["mixtral-8x7b", "cn-north-1"])
    image = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"]
    assert image == "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/djl-inference:0.38.0-lmi29.0.0-cu130"


def test_govcloud_has_no_budget_resource(region_matrix):
    # CloudFormation in us-gov-west-1 has no AWS::Budgets::Budget (synth warns and leaves it out).
    assert not Template.from_json(region_matrix["mistral-7b", "us-gov-west-1"]).find_resources("AWS::Budgets::Budget")
    assert Template.from_json(region_matrix["mistral-7b", "cn-north-1"]).find_resources("AWS::Budgets::Budget")


def test_readme_states_the_matrix_and_the_default_images(registry):
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    regions = ", ".join(MATRIX_REGIONS[:-1]) + f" and {MATRIX_REGIONS[-1]}"
    assert f"(cdk-nag and cfn-lint) in {regions} (`tests/test_region_matrix.py`)" in readme
    lmi = registry.containers.image_for("lmi", None, "test")
    tgi = registry.containers.image_for("tgi", None, "test")
    assert f"`djl-inference` {lmi.version}, vLLM engine" in readme
    assert f"Hugging Face TGI {tgi.version}" in readme
    assert f"LMI {lmi.version} is built for CUDA {lmi.cuda} and runs on `{lmi.inference_ami_version}`" in readme
    ami = registry.containers.ami_for(lmi)
    assert f"driver {ami.nvidia_driver}; TGI {tgi.version} on `{tgi.inference_ami_version}`" in readme


def test_cfn_lint_knows_inference_ami_version(region_matrix):
    # cfn-lint 1.58.0's schema lists the AMI values in every region, so a typo would not pass the test above.
    template = json.loads(json.dumps(region_matrix["mistral-7b", "cn-north-1"]))
    config = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    config["Properties"]["ProductionVariants"][0]["InferenceAmiVersion"] = "al2023-ami-sagemaker-inference-gpu-9"
    matches = cfn_lint(template, "cn-north-1")
    assert any("al2023-ami-sagemaker-inference-gpu-9" in str(m) for m in matches)
