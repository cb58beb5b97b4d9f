"""The Bedrock model tables in README.md and docs/bedrock.md print what the model configs say."""

from __future__ import annotations

import re

import pytest

from llm_config import BedrockModelConfig
from tests.conftest import BEDROCK_MODELS, REPO_ROOT, RETIRED_BEDROCK_MODELS, SYNTH_TODAY


def table_rows(path: str) -> dict[str, list[str]]:
    """Markdown table rows whose first cell is a backquoted Claude key, as cells."""
    rows = {}
    for line in (REPO_ROOT / path).read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `claude-") and len(cells) > 2:
            rows[cells[0].strip("`")] = cells
    return rows


def context_text(model: BedrockModelConfig) -> str:
    return f"{model.context_length // 1_000_000}M" if model.context_length >= 1_000_000 else f"{model.context_length // 1000}K"


def prices_text(model: BedrockModelConfig, scope: str) -> str:
    p = model.prices
    if scope == "global":
        return f"{p.global_input_per_1k_usd:g} / {p.global_output_per_1k_usd:g}" if p.global_input_per_1k_usd else "-"
    return f"{p.input_per_1k_usd:g} / {p.output_per_1k_usd:g}"


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_readme_table_matches_the_configs(registry, key):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    _, model_id, prices, context = table_rows("README.md")[key]
    assert model_id == f"`{model.model_id}`"
    assert prices == f"{prices_text(model, 'geography')}; {prices_text(model, 'global')}"
    assert context == context_text(model)


@pytest.mark.parametrize("key", BEDROCK_MODELS + RETIRED_BEDROCK_MODELS)
def test_bedrock_docs_table_matches_the_configs(registry, key):
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    _, model_id, geography, global_prices, context, lifecycle = table_rows("docs/bedrock.md")[key]
    assert model_id == f"`{model.model_id}`"
    assert (geography, global_prices, context) == (
        prices_text(model, "geography"),
        prices_text(model, "global"),
        context_text(model),
    )
    state = model.lifecycle.state("us-east-1", SYNTH_TODAY)
    assert lifecycle.startswith(state.status.replace("-", " "))
    if state.end_of_life_date:
        assert state.end_of_life_date.isoformat() in lifecycle
    if model.lifecycle.successor:
        assert f"successor `{model.lifecycle.successor}`" in lifecycle


def test_docs_show_the_refusal_synth_prints(registry):
    from aws_cdk import App

    from llm_config import ConfigError
    from stacks.app_factory import add_deployment

    with pytest.raises(ConfigError) as caught:
        add_deployment(App(context={"model": "claude-3-sonnet", "endpoint": "chat"}), {}, today=SYNTH_TODAY)
    docs = (REPO_ROOT / "docs" / "bedrock.md").read_text(encoding="utf-8")
    assert f"error: {caught.value}\n" in docs
    assert re.search(r"npx cdk deploy -c model=claude-sonnet-4-6 -c endpoint=chat\n", docs)
