"""The scripts run the way the README, tasks.sh and the workflows call them: as files, not as modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("script", ["bench_synth.py", "bedrock_lifecycle.py", "ci_stage.py", "smoke_test.py"])
def test_script_runs_as_a_file(script):
    result = subprocess.run(
        [sys.executable, f"scripts/{script}", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
