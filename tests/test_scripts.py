"""The scripts run the way the README, tasks.sh and the workflows call them: as files, not as modules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aws_cdk import App

from stacks.app_factory import add_deployment
from tests.conftest import CDK_JSON_CONTEXT, NEUTRAL_ENVIRON, REPO_ROOT


@pytest.mark.parametrize(
    "script", ["bench_synth.py", "bedrock_lifecycle.py", "ci_stage.py", "smoke_test.py", "bench_simulate.py"]
)
def test_script_runs_as_a_file(script):
    result = subprocess.run(
        [sys.executable, f"scripts/{script}", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


def test_synth_summary_shows_memory_latency_and_cost(tmp_path):
    """`./tasks.sh synth MODEL` ends with this summary: what each variant needs, how fast it answers, what it costs."""
    app = App(context={**CDK_JSON_CONTEXT, "model": "mixtral"}, outdir=str(tmp_path))
    add_deployment(app, NEUTRAL_ENVIRON)
    app.synth()
    result = subprocess.run(
        [sys.executable, "scripts/summarize_synth.py", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    variant = lines.index("variant mixtral-8x7b: 1 x ml.g6e.xlarge (1 x L40S 48 GB)")
    assert lines[variant + 1] == (
        "GPU memory: ~36.9 GB (26.3 GB weights + 8.6 GB KV cache + 2.0 GB overhead) of the 43.2 GB the engine may use"
    )
    assert lines[variant + 2] == (
        "reference request (2000 in + 300 out tokens): 9.6 s predicted (ceiling 7.3 s) at 4 concurrent requests; budget 10 s"
    )
    assert lines[variant + 3] == "cost: $1,905/month always-on (1 x $2.61/h x 730 h, us-east-1 on-demand)"
    assert lines[variant + 4] == "fallback pools: ml.g6e.2xlarge, ml.g6e.4xlarge (up to $2,741/month if the dearest serves)"
