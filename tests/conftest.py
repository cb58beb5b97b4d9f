"""Shared fixtures: the model registry and synthesized templates, each built once per session."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App, Stage, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from cfnlint.api import ManualArgs, lint
from cfnlint.config import ConfigMixIn
from cfnlint.rules import Match, RulesCollection
from cfnlint.runner import Runner

from llm_config import ModelRegistry, load_registry
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV
from llm_config.deployment import deployment_from_context
from stacks.app_factory import add_deployment, build_stack

if TYPE_CHECKING:
    from local_aws.rehearsal import Emulator

# The tests never see the caller's AWS settings (profile, keys, region, endpoints, config files, instance or
# container credentials): a test that needs credentials sets dummy ones, and one that forgot fails instead.
for _name in [name for name in os.environ if name.startswith("AWS_")]:
    del os.environ[_name]
os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SAGEMAKER_MODELS = ["mistral-7b", "mixtral-8x7b", "llama2-7b", "llama2-13b", "llama2-70b", "mistral-7b-v0-3"]
# Bedrock configs that deploy today, and the guide's four that Bedrock has retired (refused with the lifecycle message).
BEDROCK_MODELS = [
    *("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"),  # current
    *("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"),  # superseded, still served by Bedrock
]
RETIRED_BEDROCK_MODELS = ["claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-sonnet"]
# The day every test synth judges Bedrock lifecycles on, so a model retiring later never breaks the suite.
SYNTH_TODAY = date(2026, 12, 1)

# Synth never depends on who runs it: no account, a fixed region unless a test sets one.
NEUTRAL_ENVIRON: dict[str, str] = {}


@cache
def _cfn_lint_rules() -> RulesCollection:
    """cfn-lint's default rules, loaded once per process: ``lint()`` without ``rules`` loads them again on every
    call (0.4 s, as long as linting a template). cfn-lint's own CLI shares one collection across templates too."""
    return Runner(ConfigMixIn(regions=["us-east-1"])).rules


def cfn_lint(template: Mapping[str, Any] | str, region: str = "us-east-1") -> list[Match]:
    """cfn-lint's errors and warnings for ``template`` (a template dict or its JSON) deployed in ``region``."""
    text = template if isinstance(template, str) else json.dumps(template)
    matches: list[Match] = lint(text, rules=_cfn_lint_rules(), config=ManualArgs(regions=[region]))
    return matches


def client_parameter(template: Template, endpoint: str) -> dict[str, Any]:
    """The properties of the SSM parameter clients read, ``/llm-endpoints/<endpoint>`` (not the hosting lock)."""
    [parameter] = template.find_resources("AWS::SSM::Parameter", {"Properties": {"Name": f"/llm-endpoints/{endpoint}"}}).values()
    properties: dict[str, Any] = parameter["Properties"]
    return properties


def only(template: Template, resource_type: str) -> dict[str, Any]:
    """The properties of the template's one resource of ``resource_type`` (fails unless exactly one)."""
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    properties: dict[str, Any] = next(iter(resources.values()))["Properties"]
    return properties


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    return load_registry()


# The feature flags and settings the CLI passes from cdk.json: without them the tests would
# synthesize templates that differ from what `cdk synth` produces.
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


def synth_template(context: dict[str, Any], outdir: Path, registry: ModelRegistry | None = None) -> dict[str, Any]:
    """Synthesize the app as `cdk synth -c ...` would (cdk-nag AwsSolutions included), plus the NIST 800-53 R5 pack."""
    app = App(context={**CDK_JSON_CONTEXT, **context}, outdir=str(outdir))
    stack = add_deployment(app, NEUTRAL_ENVIRON, registry, today=SYNTH_TODAY)
    # Every endpoint template the suite builds also passes the NIST 800-53 R5 pack (AwsSolutions runs on every
    # synth; NIST has the SageMaker endpoint rules): a finding fails synth like any other.
    Validations.of(app).add_plugins(NIST80053R5Checks(app))
    return dict(Template.from_stack(stack).to_json())


def _mixtral_on_four_gpus(tmp_path_factory: pytest.TempPathFactory, fallbacks: str) -> Callable[..., Template]:
    config_dir = tmp_path_factory.mktemp("four-gpu") / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / "mixtral-8x7b.yaml"
    text = path.read_text().replace("type: ml.g6e.xlarge ", "type: ml.g5.12xlarge ")
    text = text.replace("fallback_types: [ml.g6e.2xlarge, ml.g6e.4xlarge]", f"fallback_types: {fallbacks}")
    path.write_text(text.replace("amount_usd: 150", "amount_usd: 400"))  # one ml.g5.12xlarge is $170/day
    registry = load_registry(config_dir)
    assert registry.models["mixtral-8x7b"].instance.type == "ml.g5.12xlarge"  # type: ignore[union-attr]

    def _synth(**context: Any) -> Template:
        return Template.from_json(synth_template(context, tmp_path_factory.mktemp("cdk.out"), registry))

    return _synth


@pytest.fixture(scope="session")
def four_gpu_synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Template]:
    """``synth`` with mixtral-8x7b on ml.g5.12xlarge (4 x A10G), no fallback: no shipped config needs several GPUs any
    more, but what depends on the GPU count (sharding, metrics normalised per GPU) must still be right when one does."""
    return _mixtral_on_four_gpus(tmp_path_factory, "[]")


@pytest.fixture(scope="session")
def mixed_pools_synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Template]:
    """``synth`` with mixtral-8x7b on ml.g5.12xlarge (4 GPUs) falling back to ml.g6e.2xlarge and ml.g6e.4xlarge (1 GPU
    each): instance pools of different GPU counts (docs/instance-pools.md)."""
    return _mixtral_on_four_gpus(tmp_path_factory, "[ml.g6e.2xlarge, ml.g6e.4xlarge]")


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Template]]:
    """``synth(model="mixtral", ...)`` returns the assertions Template; each context synthesizes once per test run,
    also when pytest-xdist spreads the tests over several processes (they share the templates on disk)."""
    cache: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    shared = _shared_dir(tmp_path_factory, "templates")

    def _synth(**context: Any) -> Template:
        key = tuple(sorted(context.items()))
        if key not in cache:
            name = hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:32]
            cache[key] = _once(shared / f"{name}.json", lambda: synth_template(context, tmp_path_factory.mktemp("cdk.out")))
        return Template.from_json(cache[key])

    yield _synth


# The regions every SageMaker model must synthesize clean in: the main partition (with its own-account
# registries in ap-east-1), China and GovCloud.
MATRIX_REGIONS = ["us-east-1", "eu-west-1", "ap-east-1", "cn-north-1", "us-gov-west-1"]


@pytest.fixture(scope="session")
def region_matrix(registry: ModelRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Every SageMaker model's template in every MATRIX_REGIONS region, keyed by (model, region).

    One App with a Stage per region holds all the stacks, so the CDK and cdk-nag run once for the lot (a synth
    per pair would cost minutes of CPU), and once per test run across pytest-xdist workers. cdk-nag findings
    fail the synth, as in `cdk synth`.
    """

    def build() -> dict[str, Any]:
        app = App(context=CDK_JSON_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        stacks = {}
        for region in MATRIX_REGIONS:
            stage = Stage(app, f"Region{region.replace('-', '')}")
            for key in SAGEMAKER_MODELS:
                context = {"model": key, "region": region}
                spec = deployment_from_context(context.get, NEUTRAL_ENVIRON, registry)
                stacks[f"{key} {region}"] = build_stack(stage, spec, registry)
        app.synth()
        return {pair: dict(Template.from_stack(stack).to_json()) for pair, stack in stacks.items()}

    templates = _once(_shared_dir(tmp_path_factory, "region-matrix") / "templates.json", build)
    return {(pair.split(" ")[0], pair.split(" ")[1]): template for pair, template in templates.items()}


# The one run of app.py as the CDK CLI runs it that several tests inspect (stdout, stderr, the template it writes).
APP_RUN_CONTEXT = {"model": "mixtral", "endpoint": "chat"}


@pytest.fixture(scope="session")
def app_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``app.py`` run once per test run with APP_RUN_CONTEXT: returncode, stdout, stderr and the template files."""

    def run() -> dict[str, Any]:
        outdir = tmp_path_factory.mktemp("app-run")
        result = run_app_as_the_cli(REPO_ROOT, outdir, **APP_RUN_CONTEXT)
        templates = {path.name: path.read_text() for path in sorted(outdir.glob("*.template.json"))}
        return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr, "templates": templates}

    return _once(_shared_dir(tmp_path_factory, "app-run") / "mixtral-chat.json", run)


def run_app_as_the_cli(project: Path, outdir: Path, **context: str) -> subprocess.CompletedProcess[str]:
    """Run app.py the way the CLI does: context in CDK_CONTEXT_JSON, output in CDK_OUTDIR."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))},
        **CDK_CLI_OFFLINE_ENV,
        "CDK_CONTEXT_JSON": json.dumps({**CDK_JSON_CONTEXT, **context}),
        "CDK_OUTDIR": str(outdir),
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )


# The context keys the CDK CLI adds to cdk.json's (read from CDK_CONTEXT_JSON as `cdk synth` 2.1148 runs the app):
# with them an in-process App writes what the CLI's run of app.py writes (tests/test_local_deploy.py compares).
CDK_CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:disable-version-reporting": True,  # cdk.json: "versionReporting": false
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}


def synth_in_process(context: Sequence[str], emulator: Emulator, output_dir: Path) -> tuple[str, dict[str, Any]]:
    """What `cdk synth CONTEXT --output DIR` writes, from app.py's own factory in this process's warm jsii runtime.

    The rehearsal's ``synthesize`` for the end-to-end tests: the real CLI costs ~5 s of CPU a synth (Node, the CLI, a
    new Python and jsii), this about 1 s. ``cdk deploy --app DIR`` still deploys the assembly with the real CLI; the
    CLI sets CDK_DEFAULT_REGION from the emulator's AWS_REGION, the only variable app.py reads.
    """
    from local_aws.rehearsal import read_assembly  # boto3 and the rest only in the workers that deploy

    flags = dict(flag.split("=", 1) for flag in context[1::2])  # ["-c", "k=v", ...], as the CLI parses them
    app = App(context={**CDK_JSON_CONTEXT, **CDK_CLI_CONTEXT, **flags}, outdir=str(output_dir))
    add_deployment(app, {"CDK_DEFAULT_REGION": emulator.region})
    app.synth()
    return read_assembly(output_dir)


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this test run that every pytest-xdist worker sees: the workers' base folders share a parent."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    path.mkdir(exist_ok=True)
    return path


def _once(path: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``build()``'s result, computed by the first process that asks and read from ``path`` by the others."""
    with (path.parent / f"{path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        result = build()
        path.write_text(json.dumps(result))
        return result


# The end-to-end tests (real CDK CLI, moto server) take most of the suite's time. They run first, so that pytest-xdist
# hands them out one per worker while the short tests fill the gaps, instead of one starting last on an idle machine.
E2E_MARKER = "e2e"


LONGEST_FIRST = ("test_local_deploy.py", "test_pipeline.py")  # a minute or more of CPU each on 2 cores


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def order(item: pytest.Item) -> tuple[bool, bool]:
        return item.get_closest_marker(E2E_MARKER) is None, item.path.name not in LONGEST_FIRST

    items.sort(key=order)  # stable: otherwise in file order
