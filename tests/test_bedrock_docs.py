"""The Bedrock model tables in README.md and docs/bedrock.md print what the model configs say."""

from __future__ import annotations

import re

import pytest

from planner.model_table import claude_docs_table, claude_readme_table
from tests.conftest import BEDROCK_MODELS, REPO_ROOT, RETIRED_BEDROCK_MODELS, SYNTH_TODAY


def test_readme_table_is_the_code_s(registry):
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = claude_readme_table(registry, SYNTH_TODAY)
    assert table in readme, "README.md's Claude table differs: paste the first table of `python -m planner.model_table --claude`"
    for key in BEDROCK_MODELS:
        assert f"| `{key}` |" in table
    for key in RETIRED_BEDROCK_MODELS:
        assert f"`{key}`" not in table  # retired: only in docs/bedrock.md


def test_bedrock_docs_table_is_the_code_s(registry):
    docs = (REPO_ROOT / "docs" / "bedrock.md").read_text(encoding="utf-8")
    table = claude_docs_table(registry, SYNTH_TODAY)
    assert table in docs, "docs/bedrock.md's table differs: paste the second table of `python -m planner.model_table --claude`"
    for key in BEDROCK_MODELS + RETIRED_BEDROCK_MODELS:
        assert f"| `{key}` |" in table


def test_the_tables_say_what_the_configs_say(registry):
    table = claude_docs_table(registry, SYNTH_TODAY)
    row = next(line for line in table.splitlines() if line.startswith("| `claude-3-haiku` |"))
    assert "| 0.00025 / 0.00125 | - | 200K | end of life 2026-09-10 (legacy in ca-central-1" in row
    assert row.endswith("successor `claude-haiku-5-5` |")
    row = next(line for line in table.splitlines() if line.startswith("| `claude-sonnet-4-6` |"))
    assert "| 0.0033 / 0.0165 | 0.003 / 0.015 | 1M | active, superseded; successor `claude-sonnet-5-5` |" in row
    readme = claude_readme_table(registry, SYNTH_TODAY)
    assert "| `claude-opus-5-5` | `anthropic.claude-opus-5-5` | 0.0044 / 0.022; 0.004 / 0.02 | 1M | current |" in readme


def test_docs_show_the_refusal_synth_prints(registry):
    from aws_cdk import App

    from llm_config import ConfigError
    from stacks.app_factory import add_deployment

    with pytest.raises(ConfigError) as caught:
        add_deployment(App(context={"model": "claude-3-sonnet", "endpoint": "chat"}), {}, today=SYNTH_TODAY)
    docs = (REPO_ROOT / "docs" / "bedrock.md").read_text(encoding="utf-8")
    assert f"error: {caught.value}\n" in docs
    assert re.search(r"npx cdk deploy -c model=claude-sonnet-5-5 -c endpoint=chat\n", docs)
