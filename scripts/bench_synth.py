"""Prints `cdk synth` wall time per model config and for an empty CDK app, on this machine.

Usage: .venv/bin/python scripts/bench_synth.py [--repeat N] [MODEL ...]   (or ./tasks.sh bench)

Figures, not pass/fail: speed goals live here, never in a test that fails on a slow day.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: scripts/ is on the path, the project is not

from llm_config.cli_env import CDK_CLI_OFFLINE_ENV  # noqa: E402

CLI = REPO_ROOT / "node_modules" / ".bin" / "cdk"
EMPTY_APP = """import aws_cdk as cdk
app = cdk.App()
stack = cdk.Stack(app, "Empty", analytics_reporting=False)
cdk.CfnWaitConditionHandle(stack, "Placeholder")  # CloudFormation refuses a stack without resources
app.synth()
"""
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    **CDK_CLI_OFFLINE_ENV,
}


def time_synth(extra_args: list[str], repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as outdir:
            started = time.perf_counter()
            result = subprocess.run(
                [str(CLI), "synth", "--quiet", "--output", outdir, *extra_args],
                cwd=REPO_ROOT,
                env=ENV,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,  # the app's cost line on every run would bury the table
                text=True,
            )
            timings.append(time.perf_counter() - started)
            if result.returncode != 0:
                sys.exit(f"cdk synth {' '.join(extra_args)} failed:\n{result.stderr}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=["mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per target (default 3)")
    args = parser.parse_args()

    empty_app = Path(tempfile.mkdtemp()) / "empty_app.py"
    empty_app.write_text(EMPTY_APP)
    targets = [("empty CDK app", ["--app", f"{sys.executable} {empty_app}"])]
    targets += [(f"-c model={model}", ["-c", f"model={model}"]) for model in args.models]
    print(f"cdk synth wall time, {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"{'target':<24} {'median s':>9} {'min s':>7} {'max s':>7}")
    for label, extra_args in targets:
        timings = time_synth(extra_args, args.repeat)
        print(f"{label:<24} {statistics.median(timings):>9.2f} {min(timings):>7.2f} {max(timings):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
