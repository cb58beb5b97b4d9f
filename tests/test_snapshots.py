"""One reviewed snapshot per model: any template change shows up as a diff to read, never to regenerate blindly.

Update after reading every changed line: `.venv/bin/pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import BEDROCK_MODELS, SAGEMAKER_MODELS

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def masked(value: Any) -> Any:
    """Mask asset hashes, which change with the CDK version rather than with our code.

    Accounts need no mask: stacks are account-agnostic (``Ref: AWS::AccountId``); the 12-digit
    numbers left are AWS's image registry accounts, which are part of what we ship.
    """
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    return value


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("key", SAGEMAKER_MODELS + BEDROCK_MODELS)
def test_template_snapshot(synth, snapshot_json, key):
    assert masked(synth(model=key).to_json()) == snapshot_json
