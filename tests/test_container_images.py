"""containers.yaml against its sources: the sagemaker SDK (image URIs) and botocore (inference AMIs).

A wrong account, a region the SDK knows but we do not list, or an image whose CUDA version needs a newer
driver than its AMI ships would only show at deploy time, on a GPU that is already billing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
from sagemaker import image_uris

from llm_config import ConfigError, load_registry
from llm_config.catalogue import ContainerCatalogue, cuda_tuple, load_container_catalogue
from tests.conftest import REPO_ROOT

CATALOGUE = load_registry().containers
CONTAINERS = CATALOGUE.containers


def sdk_registries(framework: str, version: str) -> dict[str, str]:
    """The region -> account table the SDK resolves (framework, version) with."""
    config = image_uris.config_for_framework(framework)  # type: ignore[no-untyped-call]
    config = config.get("inference", config)  # some frameworks nest their versions under the image scope
    registries: dict[str, str] = config["versions"][version]["registries"]
    return registries


CASES = [(name, region) for name, image in CONTAINERS.items() for region in sorted(image.accounts)]


@pytest.mark.parametrize(("name", "region"), CASES)
def test_pinned_uri_matches_the_sdk(name, region):
    image = CONTAINERS[name]
    expected = image_uris.retrieve(
        image.framework, region=region, version=image.version, image_scope="inference", instance_type="ml.g5.2xlarge"
    )
    assert image.uri(region) == expected


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_every_region_the_sdk_knows_is_listed(name):
    image = CONTAINERS[name]
    assert image.accounts == sdk_registries(image.framework, image.version)


def test_china_govcloud_and_own_account_regions_are_covered():
    for name in ("djl-lmi-0.38.0", "huggingface-llm-3.3.6"):
        image = CONTAINERS[name]
        assert image.uri("cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
        assert image.uri("cn-northwest-1").startswith("727897471807.dkr.ecr.cn-northwest-1.amazonaws.com.cn/")
        assert image.uri("us-gov-west-1").startswith("442386744353.dkr.ecr.us-gov-west-1.amazonaws.com/")
        assert image.accounts["ap-east-1"] != image.accounts["us-east-1"] == "763104351884"


def test_lmi_is_the_default_family_and_pins_0_38_0():
    lmi = CATALOGUE.image_for("lmi", None, "test")
    assert lmi.uri("us-east-1") == "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.38.0-lmi29.0.0-cu130"
    assert CATALOGUE.image_for("tgi", None, "test").tag == "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_cuda_version_is_the_one_in_the_tag(name):
    image = CONTAINERS[name]
    assert f"cu{image.cuda.replace('.', '')}" in image.tag


@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_the_hosts_driver_supports_the_images_cuda(name):
    image = CONTAINERS[name]
    ami = CATALOGUE.ami_for(image)
    assert cuda_tuple(ami.cuda) >= cuda_tuple(image.cuda)


def botocore_ami_table() -> dict[str, tuple[int, str]]:
    """InferenceAmiVersion -> (NVIDIA driver, CUDA) as the SageMaker API reference in botocore documents them."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    member = model.shape_for("ProductionVariant").members["InferenceAmiVersion"]
    text = re.sub(r"<[^>]+>", " ", member.documentation)
    table = {}
    for name in member.enum:
        block = text.split(name, 1)[1][:300]
        driver = re.search(r"NVIDIA driver version:\s*(\d+)", block)
        cuda = re.search(r"CUDA version:\s*([\d.]+)", block)
        if driver and cuda:
            table[name] = (int(driver.group(1)), cuda.group(1))
    return table


def test_inference_amis_match_the_api_reference():
    documented = botocore_ami_table()
    listed = {name: (ami.nvidia_driver, ami.cuda) for name, ami in CATALOGUE.inference_amis.items()}
    assert listed == documented
    assert documented["al2023-ami-sagemaker-inference-gpu-4-1"] == (580, "13.0")


def _catalogue_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "model_configs" / "containers.yaml").read_text())
    return data


def test_a_cuda_13_image_on_a_cuda_12_host_stops_the_loader(tmp_path: Path):
    data = _catalogue_data()
    data["containers"]["djl-lmi-0.38.0"]["inference_ami_version"] = "al2-ami-sagemaker-inference-gpu-3-1"
    (tmp_path / "containers.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"built for CUDA 13.0 but al2-ami-sagemaker-inference-gpu-3-1 ships driver 550"):
        load_container_catalogue(tmp_path)


def test_a_family_default_of_another_family_stops_the_loader():
    data = _catalogue_data()
    data["families"]["lmi"]["default_image"] = "huggingface-llm-3.3.6"
    with pytest.raises(ValueError, match=r"family lmi's default_image 'huggingface-llm-3.3.6' is not one of its images"):
        ContainerCatalogue.model_validate(data)


def test_an_image_of_another_family_is_refused():
    with pytest.raises(ConfigError, match=r"huggingface-llm-3.3.6 is a tgi image, but container.family is lmi"):
        CATALOGUE.image_for("lmi", "huggingface-llm-3.3.6", "model_configs/x.yaml")
