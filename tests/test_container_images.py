"""Our pinned image URIs equal what the sagemaker SDK resolves, for every region we list."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
from sagemaker import image_uris

from llm_config import load_registry

CONTAINERS = load_registry().containers.containers
CASES = [(name, region) for name, image in CONTAINERS.items() for region in sorted(image.accounts)]


@pytest.mark.parametrize(("name", "region"), CASES)
def test_pinned_uri_matches_the_sdk(name, region):
    image = CONTAINERS[name]
    expected = image_uris.retrieve(
        image.framework, region=region, version=image.version, image_scope="inference", instance_type="ml.g5.2xlarge"
    )
    assert image.uri(region) == expected


def test_regions_with_their_own_registry_account_are_covered():
    accounts = CONTAINERS["huggingface-llm-3.3.6"].accounts
    assert accounts["us-east-1"] == "763104351884"
    assert accounts["ap-east-1"] != accounts["us-east-1"]
    assert accounts["me-south-1"] != accounts["us-east-1"]
