"""Shared fixtures: the model registry and synthesized templates, each built once per session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from llm_config import ModelRegistry, load_registry
from stacks.app_factory import add_deployment

# The tests never see the caller's AWS settings (profile, keys, region, endpoints, config files, instance or
# container credentials): a test that needs credentials sets dummy ones, and one that forgot fails instead.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SAGEMAKER_MODELS = ["mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b"]
# Bedrock configs that deploy today, and the guide's four that Bedrock has retired (refused with the lifecycle message).
BEDROCK_MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"]
RETIRED_BEDROCK_MODELS = ["claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-sonnet"]
# The day every test synth judges Bedrock lifecycles on, so a model retiring later never breaks the suite.
SYNTH_TODAY = date(2026, 12, 1)

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
    stack = add_deployment(app, NEUTRAL_ENVIRON, today=SYNTH_TODAY)
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
