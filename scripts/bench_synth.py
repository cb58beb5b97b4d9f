"""Prints `cdk synth` wall time of one model against an empty CDK app, and the warm `./tasks.sh test` time.

Usage: .venv/bin/python scripts/bench_synth.py [--repeat N] [MODEL ...] [--suite]   (or ./tasks.sh bench ...)

Each MODEL (default mistral-7b) and the empty app synthesize with the same CLI, flags and environment, in
alternating runs (empty, model, empty, model, ...), so a machine that slows down mid-run slows both alike; the
table gives medians and the ratio of the model's median to the empty app's (goal: at most 1.2, GOAL_RATIO), for the
wall time and for the CPU time of the whole process tree (CLI, app, jsii's Node), which other jobs on a shared
machine disturb far less than the wall time.
--suite also runs `./tasks.sh test` twice and prints the second (warm: mypy's cache built, packages installed)
run's wall time (goal: under 3 minutes, SUITE_GOAL_SECONDS). It takes minutes and every core: run it on an idle
machine.

Figures, not pass/fail: speed goals live here, never in a test that fails on a slow day.
"""

from __future__ import annotations

import argparse
import os
import resource
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
GOAL_RATIO = 1.2  # one model's synth against an empty app's, same CLI (issue 26)
SUITE_GOAL_SECONDS = 180  # a warm ./tasks.sh test on the 2-core reference machine
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


def time_synth(extra_args: list[str]) -> tuple[float, float]:
    """One `cdk synth`: its wall time and the CPU time of its process tree (every process in it is waited for)."""
    with tempfile.TemporaryDirectory() as outdir:
        cpu_before = _children_cpu()
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
        wall = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"cdk synth {' '.join(extra_args)} failed:\n{result.stderr}")
    return wall, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def row(label: str, runs: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _ in runs]
    cpu = statistics.median(cpu for _, cpu in runs)
    return f"{label:<24} {statistics.median(walls):>9.2f} {min(walls):>7.2f} {max(walls):>7.2f} {cpu:>12.2f}"


def ratios(model: list[tuple[float, float]], empty: list[tuple[float, float]]) -> tuple[float, float]:
    """The model's median over the empty app's: wall time, CPU time."""

    def median(runs: list[tuple[float, float]], field: int) -> float:
        return statistics.median(run[field] for run in runs)

    return median(model, 0) / median(empty, 0), median(model, 1) / median(empty, 1)


def time_suite() -> float:
    """The wall time of a warm `./tasks.sh test`: one run warms (installs, mypy's cache), the second is timed."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        result = subprocess.run([str(REPO_ROOT / "tasks.sh"), "test", "-q"], cwd=REPO_ROOT, env=ENV, check=False)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            sys.exit("./tasks.sh test failed: the suite's time counts only when it passes")
    return times[-1]


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=["mistral-7b"], help="model keys (default: mistral-7b)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per target, alternating (default 5)")
    parser.add_argument("--suite", action="store_true", help="also time a warm ./tasks.sh test (minutes)")
    parser.add_argument(
        "--no-builtin-validation",
        action="store_true",
        help="CDK_VALIDATION=false for both apps: skip aws-cdk-lib's built-in template validator (README.md, Speed)",
    )
    return parser


def main() -> int:
    args = arguments().parse_args()
    if args.no_builtin_validation:
        ENV["CDK_VALIDATION"] = "false"

    empty_app = Path(tempfile.mkdtemp()) / "empty_app.py"
    empty_app.write_text(EMPTY_APP)
    empty_args = ["--app", f"{sys.executable} {empty_app}"]
    validation = "off" if args.no_builtin_validation else "on"
    print(f"cdk synth wall time, {args.repeat} alternating runs each, {os.cpu_count()} CPUs, built-in validation {validation}")
    print(f"{'target':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'median CPU s':>12}")
    for model in args.models:
        empty: list[tuple[float, float]] = []
        synth: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            empty.append(time_synth(empty_args))
            synth.append(time_synth(["-c", f"model={model}"]))
        print(row("empty CDK app", empty))
        print(row(f"-c model={model}", synth))
        wall_ratio, cpu_ratio = ratios(synth, empty)
        print(f"{'':<24} ratio of medians {wall_ratio:.2f} wall, {cpu_ratio:.2f} CPU (goal: at most {GOAL_RATIO})")
    if args.suite:
        warm = time_suite()
        print(f"warm ./tasks.sh test: {warm:.0f} s (goal: under {SUITE_GOAL_SECONDS} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
