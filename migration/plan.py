"""`./tasks.sh plan-migration` (`python -m migration plan` with the project's .venv): show a deployment spec's phase,
what its deploy changes, the cost before and after, and whether the step is safe (migration.sequence); optionally run
that one deploy.

The state before the deploy comes from the live endpoint (`--live`, boto3, read-only) or from the previous spec
(`--previous FILE`, offline, e.g. the deployment file as it was in the last commit). docs/migrations.md is the runbook.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_config import ConfigError, ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV
from llm_config.context_keys import check_context_keys
from llm_config.deployment import CONTEXT_KEYS, FLAGS_SOURCE, MIGRATION_FIELDS, DeploymentSpec, deployment_from_context
from migration.live import LiveEndpoint, read_live_endpoint
from migration.preflight import preflight
from migration.sequence import (
    EndpointState,
    Finding,
    VariantState,
    check_transition,
    hourly_usd,
    state_after,
    state_from_spec,
)
from routing.errors import RoutingInputError
from routing.preflight import check_router
from routing.router_spec import ROUTER_CONTEXT_KEYS, RouterSpec, router_from_context

Clients = Callable[[str], tuple[Any, Any]]  # region -> (sagemaker client, application-autoscaling client)
AwsClients = Callable[[str, str | None], Callable[[str], Any]]  # (region, role ARN) -> service name -> client
CDK = str(Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "cdk")
CDK_OFFLINE = CDK_CLI_OFFLINE_ENV


def boto3_clients(region: str) -> tuple[Any, Any]:
    import boto3

    return boto3.client("sagemaker", region_name=region), boto3.client("application-autoscaling", region_name=region)


def aws_clients(region: str, role_arn: str | None) -> Callable[[str], Any]:
    """boto3 clients of ``region``, as ``role_arn`` if given."""
    import boto3

    session = boto3.Session(region_name=region)
    if role_arn:
        credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="llm-preflight")["Credentials"]
        session = boto3.Session(
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
    client: Callable[[str], Any] = session.client
    return client


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: Clients = boto3_clients,
    run: Callable[..., Any] = subprocess.run,
    aws: AwsClients = aws_clients,
) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return check_main(args, aws)
    if args.deploy and not args.live:
        print("error: --deploy needs --live: the step is checked against the endpoint as it is", file=sys.stderr)
        return 2
    try:
        registry = load_registry()
        context = _context(args)
        spec = deployment_from_context(context.get, os.environ, registry)
        if not isinstance(spec.model, SageMakerModelConfig):
            raise ConfigError("-c model", None, f"{spec.model.key} is a Bedrock model", "plans are for SageMaker endpoints")
        before, source, status = _before(args, spec, registry, clients)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: cannot read endpoint {context.get('endpoint') or '(from the spec)'} live: {error}", file=sys.stderr)
        return 2
    findings = check_transition(before, spec) if source else []
    if status and status != "InService":
        findings.append(Finding("error", f"the endpoint is {status}: wait until it is InService before the next deploy"))
    print(render(spec, registry, before, source, findings))
    if any(f.severity == "error" for f in findings):
        return 1
    if args.deploy:
        command = [CDK, "deploy", *(arg for key, value in context.items() for arg in ("-c", f"{key}={value}"))]
        print("running: " + " ".join(command), flush=True)
        return int(run(command, check=False, env={**os.environ, **CDK_OFFLINE}).returncode)
    return 0


def check_main(args: argparse.Namespace, aws: AwsClients) -> int:
    """`check`: the preflight (migration.preflight) of one spec against the live stage; 1 when it refuses. A router
    (docs/routing.md) is checked by its routes: each must exist in the region and be an endpoint or Bedrock model."""
    try:
        context = _context(args)
        router = router_from_context(context.get, os.environ)
        if router is not None:
            return check_router_main(router, args, aws)
        spec = deployment_from_context(context.get, os.environ, load_registry())
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        make = aws(spec.region, args.role_arn)
        findings = preflight(spec, make("cloudformation"), lambda: (make("sagemaker"), make("application-autoscaling")))
    except (BotoCoreError, ClientError) as error:
        print(f"error: cannot read stack {spec.stack_name} or its endpoint in {spec.region}: {error}", file=sys.stderr)
        return 2
    print(f"preflight of {spec.source} (stack {spec.stack_name}, {spec.region}, phase {spec.phase}):")
    print("\n".join(f"{f.severity.upper()}: {f.message}" for f in findings) or "check: safe")
    return 1 if any(f.severity == "error" for f in findings) else 0


def check_router_main(router: RouterSpec, args: argparse.Namespace, aws: AwsClients) -> int:
    print(f"preflight of router {router.name} (stack {router.stack_name}, {router.region}):")
    try:
        lines = check_router(aws(router.region, args.role_arn)("ssm"), router, args.deployment)
    except RoutingInputError as error:
        print(f"ERROR: {error}")
        return 1
    print("\n".join(lines) + "\ncheck: safe")
    return 0


# How users run each command: plan through tasks.sh (it needs the project's .venv), check as CI runs it.
PLAN_COMMAND = "./tasks.sh plan-migration"
CHECK_COMMAND = "python -m migration check"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m migration", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser(
        "plan",
        prog=PLAN_COMMAND,
        help="show the phase, the changes, the cost and the safety of the deploy of one spec",
        description="Give the spec as a deployment file (--deployment) or as the same -c flags `cdk deploy` takes.",
    )
    plan.add_argument("--deployment", metavar="FILE", help="a deployment file, as for cdk deploy -c deployment=FILE")
    plan.add_argument(
        "-c", dest="context", action="append", default=[], metavar="KEY=VALUE", help="a spec flag, e.g. -c candidate_weight=10"
    )
    plan.add_argument(
        "--previous",
        metavar="[REV:]FILE",
        help="the deployment file before this change: check the step offline against it. REV:FILE (e.g. "
        "HEAD~1:deployments/chat.yaml) reads the file and the model configs at that git revision, so model-config "
        "edits show; FILE alone uses today's model configs",
    )
    plan.add_argument(
        "--live",
        action="store_true",
        help="read the endpoint and its scalable targets with boto3 (AWS credentials; read-only) and check against them",
    )
    plan.add_argument("--deploy", action="store_true", help="with --live: if the check passes, run `cdk deploy` for this spec")
    check = commands.add_parser(
        "check",
        help="before a deploy: refuse a change of hosting kind, a stack that cannot take an update, an unsafe step,"
        " a router whose routes do not exist",
        description="Reads the live stack and endpoint (read-only AWS credentials); exit 1 when the deploy must not run.",
    )
    check.add_argument("--deployment", metavar="FILE", help="a deployment file, as for cdk deploy -c deployment=FILE")
    check.add_argument("-c", dest="context", action="append", default=[], metavar="KEY=VALUE", help="a spec flag")
    check.add_argument("--role-arn", help="assume this role first (CI: the stage's CDK lookup role, read-only)")
    return parser


def _context(args: argparse.Namespace) -> dict[str, str]:
    context: dict[str, str] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-c {item}", None, "expected KEY=VALUE", "e.g. -c candidate_weight=10")
        context[key] = value
    keys = CONTEXT_KEYS if args.command == "plan" else (*CONTEXT_KEYS, *ROUTER_CONTEXT_KEYS)
    check_context_keys(
        context, keys, PLAN_COMMAND if args.command == "plan" else CHECK_COMMAND, "README.md"
    )  # a typo must not plan the default
    if args.deployment:
        context["deployment"] = args.deployment
    return context


def git_show(revision: str, path: str) -> bytes:
    """``git show REV:PATH`` in the repository: a file as it was at that revision."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=root, capture_output=True, check=False)
    if result.returncode != 0:
        raise ConfigError(f"--previous {revision}:{path}", None, result.stderr.decode(errors="replace").strip(), "give REV:FILE")
    return result.stdout


def _previous_spec(previous: str, registry: ModelRegistry, show: Callable[[str, str], bytes]) -> DeploymentSpec:
    """``FILE``: the file with today's model configs. ``REV:FILE`` (e.g. HEAD~1:deployments/chat.yaml): the file and
    the model configs as they were at git revision REV, so an edit to a model config (an autoscaled variant's
    instance type, which SageMaker refuses to change) shows as a change."""
    revision, sep, path = previous.partition(":")
    if not sep:
        return deployment_from_context({"deployment": previous}.get, os.environ, registry)
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        configs = Path(tmp) / "model_configs"
        configs.mkdir()
        for config in sorted((root / "model_configs").glob("*.yaml")):
            with contextlib.suppress(ConfigError):  # a config added since then did not exist then
                (configs / config.name).write_bytes(show(revision, f"model_configs/{config.name}"))
        file = Path(tmp) / Path(path).name
        file.write_bytes(show(revision, path))
        then = load_registry(configs)
        return deployment_from_context({"deployment": str(file)}.get, os.environ, then)


def _before(
    args: argparse.Namespace, spec: DeploymentSpec, registry: ModelRegistry, clients: Clients
) -> tuple[EndpointState | None, str | None, str | None]:
    """The state before the deploy, a label saying where it came from (None: unknown), and the live status."""
    if args.live:
        sagemaker, autoscaling = clients(spec.region)
        live: LiveEndpoint = read_live_endpoint(spec.endpoint_name, sagemaker, autoscaling)
        return live.state, "live endpoint" if live.state is not None else "live: no such endpoint", live.status
    if args.previous:
        previous = _previous_spec(args.previous, registry, git_show)
        if previous.endpoint_name != spec.endpoint_name:
            raise ConfigError(
                args.previous,
                "endpoint",
                f"is {previous.endpoint_name}, not {spec.endpoint_name}",
                "compare specs of one endpoint",
            )
        label = f"previous spec {args.previous} (initial instance counts"
        if ":" not in args.previous:
            label += "; today's model configs: give REV:FILE to see config edits"
        return state_from_spec(previous), label + ")", None
    return None, None, None


def render(
    spec: DeploymentSpec, registry: ModelRegistry, before: EndpointState | None, source: str | None, findings: list[Finding]
) -> str:
    lines = [f"endpoint {spec.endpoint_name} ({spec.region}, stack {spec.stack_name}) from {spec.source}: phase {spec.phase}"]
    lines += _component_lines(spec) if spec.scale_to_zero else _variant_lines(spec)
    if spec.scale_to_zero:
        lines.append("guardrails: none (a scale-to-zero endpoint's inference components update in place)")
    elif spec.uses_guardrails:
        g = spec.guardrails
        lines.append(
            f"guardrails: blue/green {g.traffic_routing}, {g.wait_interval_seconds} s baking, old fleet kept "
            f"{g.termination_wait_seconds} s, timeout {g.maximum_execution_timeout_seconds} s, "
            f"rollback on {', '.join(g.rollback_alarms)} of every variant"
        )
    else:
        lines.append(
            f"guardrails: none in a {spec.phase} deploy (a split's first deploy adds the candidate, a retire removes a "
            "variant): SageMaker's default all-at-once blue/green update"
        )
    after = state_after(before, spec)
    if source is None:
        lines.append("before: unknown (pass --live or --previous FILE to check the step); cost at initial instance counts:")
        lines.append(f"  {_cost(hourly_usd(after, registry))}")
    else:
        lines.append(f"before ({source}):")
        lines += [f"  {_describe(v)}" for v in (before or {}).values()] or ["  no endpoint"]
        lines.append("this deploy:")
        lines += [f"  {change}" for change in _changes(before or {}, after)] or ["  no variant changes (config only)"]
        label = "cost while every copy runs (scales to zero: $0 while idle)" if spec.scale_to_zero else "cost"
        lines.append(f"{label}: {_cost(hourly_usd(before or {}, registry))} -> {_cost(hourly_usd(after, registry))}")
    lines += [f"{f.severity.upper()}: {f.message}" for f in findings] or (["check: safe"] if source else [])
    if before is not None and any(f.severity == "error" for f in findings):
        # The refused deploy never happens: what may follow is what may follow the endpoint as it is.
        steps = steps_from_state(before, spec, registry)
        lines.append(f"next, from the endpoint as it is ({source}):" if steps else "next: fix the step above")
    else:
        steps = next_steps(spec)
        lines.append("next:")
    lines += [f"  {label}: {command}" for label, command in steps]
    return "\n".join(lines)


def _variant_lines(spec: DeploymentSpec) -> list[str]:
    lines = [f"  {'variant':<16}{'instance':<20}{'weight':>7}  autoscaling"]
    for plan in spec.variants:
        scaling = (
            f"{plan.model.scaling.min_instances}-{plan.model.scaling.max_instances} instances"
            if plan.autoscaled
            else "none (drained)"
        )
        instances = f"{plan.model.instance.initial_count} x {plan.model.instance.type}"
        lines.append(f"  {plan.name:<16}{instances:<20}{plan.weight:>6}%  {scaling}")
    return lines


def _component_lines(spec: DeploymentSpec) -> list[str]:
    host = spec.variants[0].model.instance.type
    lines = [f"  {'inference component':<32}{'weight':>7}  copies (on {host}, scaling to zero)"]
    for plan in spec.variants:
        copies = "autoscaled, 0 when idle" if plan.autoscaled else "0 (drained)"
        lines.append(f"  {spec.component_name_of(plan.name):<32}{plan.weight:>6}%  {copies}")
    return lines


def steps_from_state(before: EndpointState, spec: DeploymentSpec, registry: ModelRegistry) -> list[tuple[str, str]]:
    """The next steps of the phase ``before`` is in (its variants are model keys), for the endpoint of ``spec``."""
    flags = {"endpoint": spec.endpoint_name, "region": spec.region}
    if any(v.component for v in before.values()):
        flags["scale_to_zero"] = "true"  # the endpoint's kind, which every deploy must keep
    names = list(before)
    try:
        if len(names) == 1:
            running = names[0]
            wanted = [spec.candidate.key if spec.candidate else None, spec.model.key]
            candidate = next((key for key in wanted if key and key != running), "NEW_MODEL")
            command = " ".join(
                f"-c {k}={v}" for k, v in {**flags, "model": running, "candidate": candidate, "candidate_weight": 10}.items()
            )
            return [("start a migration (split)", f"npx cdk deploy {command}")]
        if len(names) == 2:
            model, other = names  # the endpoint config lists the serving model's variant first, then the candidate
            weight = before[other].weight_percent  # NaN on a component endpoint: the weights are the parameter's
            share = "10" if math.isnan(weight) else f"{weight:.0f}"
            context = {**flags, "model": model, "candidate": other, "candidate_weight": share}
            return next_steps(deployment_from_context(context.get, {}, registry))
    except ConfigError:  # a variant that is not one of our model keys: no command to suggest
        return []
    return []


def _describe(v: VariantState) -> str:
    scaling = "autoscaled" if v.autoscaled else "not autoscaled"
    share = "traffic share: the client parameter's" if math.isnan(v.weight_percent) else f"{v.weight_percent:g}% of traffic"
    if v.component:
        copies = f"{v.instance_count} cop{'y' if v.instance_count == 1 else 'ies'}"
        return f"{v.name}: inference component {v.component}, {copies} on {v.instance_type}, {share}, {scaling}"
    return f"{v.name}: {v.instance_count} x {v.instance_type}, {share}, {scaling}"


def _changes(before: EndpointState, after: EndpointState) -> list[str]:
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old is None and new is not None:
            changes.append(f"adds {_describe(new)}")
        elif new is None:
            changes.append(f"removes {name}")
        elif old is not None:
            if math.isnan(old.weight_percent):
                changes.append(f"{name}: weight {new.weight_percent:g}% (published in the client parameter)")
            elif old.weight_percent != new.weight_percent:
                changes.append(f"{name}: weight {old.weight_percent:g}% -> {new.weight_percent:g}%")
            if old.instance_type != new.instance_type:
                changes.append(f"{name}: instance type {old.instance_type} -> {new.instance_type}")
            if old.autoscaled != new.autoscaled:
                changes.append(f"{name}: " + ("autoscaling attached" if new.autoscaled else "autoscaling removed (drained)"))
    return changes


def _cost(hourly: float | None) -> str:
    return (
        "unknown (instance type not in the catalogue)"
        if hourly is None
        else f"${hourly:,.2f}/h (${hourly * HOURS_PER_MONTH:,.0f}/month)"
    )


def next_steps(spec: DeploymentSpec) -> list[tuple[str, str]]:
    """The commands of the phases that may follow this one (docs/migrations.md)."""

    def deploy(**flags: Any) -> str:
        if spec.source != FLAGS_SOURCE:  # CI deploys the reviewed file: say what to change in it
            present = {"candidate": spec.candidate, "candidate_weight": spec.candidate, "retire": spec.retire}
            dropped = [name for name in MIGRATION_FIELDS if present[name] and name not in flags]
            fields = ", ".join(f"{key}: {value}" for key, value in flags.items())
            removal = f" and remove {', '.join(dropped)}" if dropped else ""
            return f"in {spec.source} set {fields}{removal}; then npx cdk deploy -c deployment={spec.source}"
        # The region too: the next deploy must reach this stack whatever CDK_DEFAULT_REGION says then; and the
        # endpoint's kind, which a deploy must keep.
        flags = {"endpoint": spec.endpoint_name, "region": spec.region, **flags}
        if spec.scale_to_zero:
            flags["scale_to_zero"] = "true"
        return "npx cdk deploy " + " ".join(f"-c {key}={value}" for key, value in flags.items())

    model, candidate = spec.model.key, spec.candidate.key if spec.candidate else None
    if spec.phase == "serve":
        return [("start a migration (split)", deploy(model=model, candidate="NEW_MODEL", candidate_weight=10))]
    if spec.phase == "retire":
        return [("next change (guardrails return)", deploy(model=model))]
    if spec.phase == "split":
        return [
            ("shift all traffic", deploy(model=model, candidate=candidate, candidate_weight=100)),
            ("roll back", deploy(model=model, candidate=candidate, candidate_weight=0)),
        ]
    if spec.phase == "shift":
        return [
            ("finish", deploy(model=candidate, retire=model)),
            ("roll back", deploy(model=model, candidate=candidate, candidate_weight=0)),
        ]
    return [
        ("finish the rollback", deploy(model=model, retire=candidate)),
        ("try again", deploy(model=model, candidate=candidate, candidate_weight=10)),
    ]
