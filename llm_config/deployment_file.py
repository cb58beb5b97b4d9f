"""A deployment file (`deployments/<endpoint>.yaml`): the spec `-c deployment=FILE` deploys, kept in git for CI.

The schema is docs/deployments.md; the same rules as for the `-c` flags apply (llm_config.deployment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_config._strict import StrictModel
from llm_config.guardrails import Guardrails
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping

SCHEMA_DOC = "docs/deployments.md"


class DeploymentFile(StrictModel):
    """One endpoint's spec. Model names are keys or aliases from model_configs/."""

    endpoint: str
    region: str | None = None  # None: CDK_DEFAULT_REGION, else us-east-1
    model: str
    candidate: str | None = None
    candidate_weight: int | None = None  # required with candidate: 0-100
    retire: str | None = None
    guardrails: Guardrails = Guardrails()
    scale_to_zero: bool | None = None  # None: on when the model's scaling.min_instances is 0 (docs/scale-to-zero.md)


def load_deployment_file(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's display name and its validated values, keyed like the `-c` flags."""
    source = display_path(path)
    deployment = parse_as(DeploymentFile, read_yaml_mapping(path, source), source, schema_doc=SCHEMA_DOC)
    return source, {name: getattr(deployment, name) for name in DeploymentFile.model_fields}
