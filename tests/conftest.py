"""Shared fixtures: the model registry and synthesized templates, each built once per session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App, Stage, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from llm_config import ModelRegistry, load_registry
from llm_config.deployment import deployment_from_context
from stacks.app_factory import add_deployment, build_stack

# The tests never see the caller's AWS settings (profile, keys, region, endpoints, config files, instance or
# container credentials): a test that needs credentials sets dummy ones, and one that forgot fails instead.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SAGEMAKER_MODELS = ["mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b"]
BEDROCK_MODELS = ["claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-sonnet"]

# Synth never depends on who runs it: no account, a fixed region unless a test sets one.
NEUTRAL_ENVIRON: dict[str, str] = {}


def only(template: Template, resource_type: str) -> dict[str, Any]:
    """The properties of the template's one resource of ``resource_type`` (fails unless exactly one)."""
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    properties: dict[str, Any] = next(iter(resources.values()))["Properties"]
    return properties


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    return load_registry()


# The feature flags and settings the CLI passes from cdk.json: without them the tests would
# synthesize templates that differ from what `cdk synth` produces.
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


def synth_template(context: dict[str, Any], outdir: Path) -> dict[str, Any]:
    """Synthesize the app exactly as `cdk synth -c ...` would (cdk-nag included) and return the template."""
    app = App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(outdir))
    stack = add_deployment(app, NEUTRAL_ENVIRON)
    return dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Template]]:
    """``synth(model="mixtral", ...)`` returns the assertions Template; each context synthesizes once."""
    cache: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def _synth(**context: Any) -> Template:
        key = tuple(sorted(context.items()))
        if key not in cache:
            cache[key] = synth_template(context, tmp_path_factory.mktemp("cdk.out"))
        return Template.from_json(cache[key])

    yield _synth


# The regions every SageMaker model must synthesize clean in: the main partition (with its own-account
# registries in ap-east-1), China and GovCloud.
MATRIX_REGIONS = ["us-east-1", "eu-west-1", "ap-east-1", "cn-north-1", "us-gov-west-1"]


@pytest.fixture(scope="session")
def region_matrix(registry: ModelRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every SageMaker model's template in every MATRIX_REGIONS region, keyed by (model, region).

    One App with a Stage per region holds all the stacks, so the CDK and cdk-nag run once for the lot
    (a synth per pair would cost minutes of CPU). cdk-nag findings fail the synth, as in `cdk synth`.
    """
    app = App(context=CDK_JSON_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stacks = {}
    for region in MATRIX_REGIONS:
        stage = Stage(app, f"Region{region.replace('-', '')}")
        for key in SAGEMAKER_MODELS:
            context = {"model": key, "region": region}
            spec = deployment_from_context(context.get, NEUTRAL_ENVIRON, registry)
            stacks[key, region] = build_stack(stage, spec, registry)
    app.synth()
    return {pair: dict(Template.from_stack(stack).to_json()) for pair, stack in stacks.items()}
