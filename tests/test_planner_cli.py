"""`python -m planner`: the report, the chart file, and exit status 2 with a clear message on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import main
from tests.conftest import REPO_ROOT

ISSUE_QUESTION = ["--requests-per-hour", "100", "--latency", "2", "--quality", "high", "--budget", "500"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_the_issue_question(capsys, tmp_path):
    chart = tmp_path / "cost.svg"
    status, out, err = run(capsys, *ISSUE_QUESTION, "--chart", str(chart))
    assert (status, err) == (0, "")
    assert "Traffic: 100 requests/hour (2,400/day, 73,000/month), 500 in + 300 out tokens per request" in out
    assert "Asks: quality high or better, full answer within 2 s, budget $500/month" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split()[:3] == ["#", "model", "hosting"]
    # six SageMaker configs (mistral-7b-v0-3 among them), six Claude (three current, three superseded; the retired left
    # out) and three OpenAI models
    assert len(table) == 1 + 15
    assert "claude-sonnet-4-6  Bedrock (superseded)" in out
    assert table[1].split()[:2] == ["1", "gpt-3.5-turbo"]
    mistral = next(line for line in table if "mistral-7b" in line)
    # latency, ceiling, always-on up to the dearest fallback pool (ml.g5.4xlarge: docs/instance-pools.md), autoscaled
    assert mistral.split()[5:12] == ["10.8", "s", "8.0", "s", "$1,028-1,482", "$1,028", "(1"]
    assert "Recommendation: GPT-3.5 Turbo on OpenAI API (not AWS) ($51/month)" in out
    assert "mistral-7b on ml.g5.xlarge vs gpt-3.5-turbo: 2,011 requests/hour (48,274/day)" in out  # 1.408 / 0.0007
    assert chart.read_text(encoding="utf-8").startswith("<svg")


def test_requests_per_day_and_compare(capsys):
    status, out, _ = run(
        capsys, "--requests-per-day", "2400", "--compare", "mistral", "claude-3-sonnet", "mixtral", "claude-3-haiku"
    )
    assert status == 0
    assert "Traffic: 100 requests/hour" in out
    assert "mistral-7b on ml.g5.xlarge vs claude-3-sonnet: 235 requests/hour (5,632/day)" in out
    # Mixtral's config scales out at 4 concurrent requests: 4 x 3600 / 8.35 s = 1,723.6 req/h, $2.61 / 1,723.6 = $0.0015
    assert (
        "mixtral-8x7b on ml.g6e.xlarge vs claude-3-haiku: never: even at its scaling target"
        " (4 concurrent requests per instance), an instance costs $0.00151 per request, claude-3-haiku $0.0005" in out
    )


def test_aws_only_leaves_out_openai(capsys):
    status, out, _ = run(capsys, *ISSUE_QUESTION, "--aws-only")
    assert status == 0
    assert "gpt-" not in out
    # 73,000 x (0.5 x 0.0022 + 0.3 x 0.011 = $0.0044): the current Sonnet, not the superseded 4.6 at the same misses
    assert "Recommendation: Claude Sonnet 5.5 on Bedrock ($321/month)" in out


def test_guide_corrections(capsys):
    status, out, _ = run(capsys, "--guide")
    assert status == 0
    assert "$1.006/h is the EC2 price; SageMaker charges $1.408/h = $1,027.84/month (730 h)" in out
    assert "$1,027.84 -> $1,905.30/month: +$877.46 (+85%)" in out  # Mistral -> Mixtral, the guide's scenario 1


def test_overrides_change_the_figures(capsys, tmp_path):
    overrides = tmp_path / "discount.yaml"
    overrides.write_text("label: EDP 20% off\nsagemaker_price_multiplier: 0.8\n", encoding="utf-8")
    status, out, _ = run(capsys, "--requests-per-hour", "100", "--prices", str(overrides))
    assert status == 0
    assert "with EDP 20% off" in out
    mistral = next(line for line in out.splitlines() if "mistral-7b" in line)
    # always-on (ml.g5.xlarge up to its dearest fallback pool, ml.g5.4xlarge) and autoscaled: 1027.84 (1481.90) x 0.8
    assert mistral.split()[9:13] == ["$822-1,186", "$822", "(1", "inst)"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests-per-hour", "-5"], "argument --requests-per-hour: must be a number greater than 0, got '-5'"),
        (["--requests-per-day", "0"], "argument --requests-per-day: must be a number greater than 0, got '0'"),
        (["--requests-per-hour", "lots"], "argument --requests-per-hour: expected a number, got 'lots'"),
        (["--requests-per-hour", "nan"], "must be a number greater than 0, got 'nan'"),
        ([], "give the traffic: --requests-per-hour N or --requests-per-day N"),
        (["--requests-per-hour", "1", "--requests-per-day", "1"], "not allowed with argument"),
        (["--requests-per-hour", "1", "--output-tokens", "0"], "argument --output-tokens: must be 1 or more, got '0'"),
        (["--requests-per-hour", "1", "--budget", "-100"], "argument --budget: must be a number greater than 0"),
        (["--requests-per-hour", "1", "--quality", "best"], "argument --quality: invalid choice: 'best'"),
        (
            ["--requests-per-hour", "1", "--latency", "0.05"],
            "no option can answer within 0.05 s: the fastest first token is 0.072 s (Mixtral",
        ),
        (["--requests-per-hour", "1", "--compare", "gpt-5"], "argument --compare: unknown model 'gpt-5': use one of"),
        (["--requests-per-hour", "1", "--chart", "cost.png"], "the chart is written as SVG, so the file name must end in .svg"),
    ],
)
def test_bad_input_exits_2_with_a_message(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_bad_overrides_file_exits_2(capsys, tmp_path):
    missing = tmp_path / "nope.yaml"
    status, _, err = run(capsys, "--requests-per-hour", "1", "--overrides", str(missing))
    assert status == 2
    assert err.startswith(f"error: {missing}: cannot read the file")


def test_an_invalid_overrides_file_points_at_the_docs_that_list_its_keys(capsys, tmp_path):
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("sagemaker_price_multiplyer: 0.9\n")
    status, _, err = run(capsys, "--requests-per-hour", "1", "--overrides", str(overrides))
    assert status == 2
    assert "sagemaker_price_multiplyer: unknown key" in err
    assert "docs/planner.md#overrides-your-region-your-discount-your-measurements lists every key" in err
    assert "model_configs/README.md" not in err
    headings = (REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8").splitlines()
    assert "## Overrides: your region, your discount, your measurements" in headings  # the anchor exists


def test_help_in_docs_matches_the_tool():
    help_text = subprocess.run(
        [sys.executable, "-m", "planner", "--help"],
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert help_text.strip() in (REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8")


def test_guide_corrections_in_docs_match_the_tool(capsys):
    _, out, _ = run(capsys, "--guide")
    assert out.strip() in Path(REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8")


def test_docs_example_and_chart_match_the_tool(capsys, tmp_path):
    chart = tmp_path / "chart.svg"
    compare = ["--compare", "mistral-7b", "mixtral-8x7b", "claude-sonnet-5-5", "claude-haiku-5-5"]
    status, out, _ = run(capsys, *ISSUE_QUESTION, *compare, "--chart", str(chart))
    assert status == 0
    docs = REPO_ROOT / "docs"
    assert out.replace(str(chart), "docs/planner-cost-chart.svg").strip() in (docs / "planner.md").read_text(encoding="utf-8")
    assert chart.read_text(encoding="utf-8") == (docs / "planner-cost-chart.svg").read_text(encoding="utf-8")


def test_unwritable_chart_exits_2(capsys, tmp_path):
    chart = tmp_path / "missing-dir" / "cost.svg"
    status, out, err = run(capsys, "--requests-per-hour", "1", "--chart", str(chart))
    assert (status, out) == (2, "")
    assert err == f"error: --chart {chart}: cannot write the file (No such file or directory)\n"


def test_bedrock_docs_quote_the_planners_scenario_2_figures(capsys):
    """docs/bedrock.md's corrected migration figures are the ones `--guide` prints (README and docs must not disagree)."""
    _, out, _ = run(capsys, "--guide")
    bedrock_docs = " ".join((REPO_ROOT / "docs" / "bedrock.md").read_text(encoding="utf-8").split())  # unwrapped
    for planner_figure, docs_figure in [
        ("$1,027.84 (1 x ml.g5.xlarge) vs $18.25/month", "USD 18.25 a month at 100 requests a day (98% less"),
        ("vs $1,825.00/month", "USD 1,825 at 10,000 a day (78% more"),
        ("break even at 235 req/hour (5,632/day)", "break even at 235 requests an hour (5,632 a day)"),
        ("vs $13.38/month", "USD 13.38 a month at 100 requests a day"),
        ("vs $1,338.33/month", "USD 1,338.33 at 10,000 (30% more"),
        ("break even at 320 req/hour (7,680/day)", "breaks even with it at 320 requests an hour (7,680 a day)"),
    ]:
        assert planner_figure in out
        assert docs_figure in bedrock_docs
    assert "USD 1,027.84 a month" in bedrock_docs


def test_include_retired_lists_the_retired_models_marked(capsys):
    status, out, _ = run(capsys, *ISSUE_QUESTION, "--include-retired")
    assert status == 0
    table = out.split("\n\n")[1]
    assert "claude-3-sonnet    Bedrock (retired)" in table
    assert "Recommendation: Claude" not in out or "retired" not in out.split("Recommendation:")[1].splitlines()[0]
