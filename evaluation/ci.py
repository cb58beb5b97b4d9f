"""The optional CI gate between the A/B phase and the shift (docs/ci-cd.md, docs/evaluation.md).

When a deployment file moves an endpoint to the ``shift`` phase (all traffic to the candidate), the endpoint is
still in the A/B phase: both variants serve. Before that deploy, both CI setups can run the harness on both
variants and stop when the candidate is worse; this module builds that one command for both of them. It imports
nothing but the deployment spec, so the pipeline's synth does not load the harness.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_config.deployment import DeploymentSpec

# What "worse" means, unless the test set's owner changes it here: slower than its latency budget, any failed
# request beyond 1%, or a quality score 0.05 below the model it replaces.
SHIFT_GATES = ("p90 > budget", "error_rate > 1%", "{candidate}: quality < [{model}] - 0.05")


def shift_gate_command(
    spec: DeploymentSpec, *, region: str, tests: str, python: str = "python", role_arn: str | None = None
) -> list[str] | None:
    """``python -m evaluation ...`` for a deployment that shifts traffic to its candidate, else None.

    ``--no-stream``: InvokeEndpoint only, the one runtime action the CI roles may call (no time to first token)."""
    if spec.candidate is None or spec.phase != "shift":
        return None
    model = f"{spec.endpoint_name}/{spec.model.key}"
    candidate = f"{spec.endpoint_name}/{spec.candidate.key}"
    command = [python, "-m", "evaluation", "--tests", tests, "--target", model, "--target", candidate, "--region", region]
    command += ["--no-stream", "--no-progress", "--out", f"evaluation-results/{spec.endpoint_name}"]
    for condition in SHIFT_GATES:
        command += ["--fail-if", condition.format(model=model, candidate=candidate)]
    return [*command, "--role-arn", role_arn] if role_arn else command


def shift_gate_commands(
    specs: Sequence[DeploymentSpec], *, region: str, tests: str, python: str = "python", role_arn: str | None = None
) -> list[list[str]]:
    commands = (shift_gate_command(s, region=region, tests=tests, python=python, role_arn=role_arn) for s in specs)
    return [command for command in commands if command is not None]
