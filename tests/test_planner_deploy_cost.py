"""`cdk synth|deploy` print the estimated monthly cost on stderr and keep stdout for the template."""

from __future__ import annotations

from llm_config.deployment import DeploymentSpec
from planner.deploy_cost import cost_line, deployment_cost_line
from tests.conftest import REPO_ROOT


def test_cost_line_for_a_sagemaker_model():
    line = deployment_cost_line({"model": "mixtral"}.get, {})
    assert line.startswith(
        "Estimated cost of llm-mixtral-8x7b: $1,905-2,741/month always-on (1 x ml.g6e.xlarge or ml.g6e.2xlarge or"
        " ml.g6e.4xlarge at $2.61-3.7553/h, SageMaker us-east-1 on-demand, 730 h) (the range: cheapest to dearest instance"
        " pool, AWS picks by capacity)."
    )


def test_cost_line_warns_when_the_region_is_not_the_price_region():
    line = deployment_cost_line({"model": "mistral", "region": "eu-west-1"}.get, {})
    assert "$1,028-1,482/month" in line
    assert "eu-west-1 prices differ: see ./tasks.sh plan --overrides FILE (docs/planner.md)" in line


def test_cost_line_for_a_bedrock_model_uses_its_config_prices(registry):
    spec = DeploymentSpec(endpoint_name="haiku", region="us-east-1", model=registry.resolve("claude-haiku-4-5"))
    line = cost_line(spec, registry)
    assert line.startswith(
        "Estimated cost of llm-haiku: no fixed cost; Bedrock bills $0.0011 per 1K input and $0.0055 per 1K output tokens,"
        " $2.20 per 1,000 requests of 500 + 300 tokens (us-east-1 on-demand)."  # 1000 x (0.5 x 0.0011 + 0.3 x 0.0055)
    )


def test_cost_line_of_a_bedrock_model_outside_its_price_region():
    line = deployment_cost_line({"model": "claude-opus-4-6", "region": "us-west-2"}.get, {})
    # 1000 x (0.5 x 0.0055 + 0.3 x 0.0275) = 11.00, priced in the config's us-east-1
    assert "$11.00 per 1,000 requests of 500 + 300 tokens (us-east-1 on-demand); us-west-2 prices differ" in line


def test_cost_line_of_a_migration_counts_both_variants():
    line = deployment_cost_line(
        {"endpoint": "chat", "model": "mistral", "candidate": "mixtral", "candidate_weight": "10"}.get, {}
    )
    # (1.408 + 2.61) x 730 = 2,933 on the first pools; (2.03 + 3.7553) x 730 = 4,223 on the dearest
    assert line.startswith(
        "Estimated cost of llm-chat: $2,933-4,223/month always-on (1 x ml.g5.xlarge or ml.g5.2xlarge or ml.g5.4xlarge at"
        " $1.408-2.03/h + 1 x ml.g6e.xlarge or ml.g6e.2xlarge or ml.g6e.4xlarge at $2.61-3.7553/h,"
        " SageMaker us-east-1 on-demand, 730 h) (the range: cheapest to dearest instance pool, AWS picks by capacity)."
    )


def test_app_prints_the_estimate_on_stderr_only(app_run):
    assert app_run["returncode"] == 0
    assert app_run["stdout"] == ""
    assert "Estimated cost of llm-chat: $1,905-2,741/month always-on (1 x ml.g6e.xlarge" in app_run["stderr"]
    assert list(app_run["templates"]) == ["llm-chat.template.json"]


def test_the_planner_hint_is_a_command_that_works_from_a_fresh_clone():
    """`python -m planner` fails with the system Python (no packages): the hint names the task that sets up first."""
    for context in ({"model": "mistral"}, {"model": "claude-haiku-4-5"}):
        assert deployment_cost_line(context.get, {}).endswith(" At your traffic: ./tasks.sh plan --help")
    tasks = (REPO_ROOT / "tasks.sh").read_text()
    assert ".venv/bin/python -m planner" in tasks  # ./tasks.sh plan ARGS is the planner with ARGS


def test_docs_quote_the_cost_lines_the_app_prints():
    """docs/planner.md quotes whole cost lines; each must be what this code prints (no hand-written figures)."""
    docs = (REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8")
    quoted = [line for line in docs.splitlines() if line.startswith("Estimated cost of ")]
    expected = [
        deployment_cost_line(context.get, {})
        for context in (
            {"model": "mistral"},
            {"endpoint": "chat", "model": "mistral", "candidate": "mixtral", "candidate_weight": "10"},
            {"model": "claude-sonnet-5-5"},
        )
    ]
    assert quoted == expected
