"""``./tasks.sh deploy-local MODEL [-c key=value ...]`` and ``./tasks.sh destroy-local``.

deploy-local starts moto (with ``local_aws.moto_extension``) on a free 127.0.0.1 port, or reuses the
one it started before, then runs the pinned CDK CLI for real against it: ``cdk bootstrap`` once,
then ``cdk deploy -c model=MODEL``. It verifies every resource of the synthesized template with
boto3 (``local_aws.verify``), prints a summary and leaves the emulator running for you to explore.
destroy-local runs ``cdk destroy``, checks that nothing of the stack is left and stops the emulator.

Nothing reaches AWS: every AWS_* variable of your environment is dropped (profiles, credentials,
endpoints), the CLI and boto3 get dummy credentials and every endpoint is http://127.0.0.1:PORT.
The only local-only CLI options are ``--method=direct`` (moto's change-set updates are unreliable),
the output folder and bootstrap's ``--app ""`` (no needless synth); the templates are the ones
``cdk deploy`` sends to a real account.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import fcntl
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV, run_cli
from llm_config.deployment import DEFAULT_MODEL, DeploymentSpec, deployment_from_context
from llm_config.errors import brief
from local_aws import PORT_TAKEN
from local_aws.verify import (
    DYNAMIC_REFERENCE,
    ClientFactory,
    Deployed,
    VerificationError,
    leftovers,
    retained_physical_ids,
    verify_stack,
)
from migration.live import instance_pools, read_live_endpoint
from migration.preflight import hosting_findings, read_live_stack
from migration.sequence import Finding, check_transition
from routing.errors import RoutingInputError
from routing.preflight import check_router
from routing.router_spec import RouterSpec, router_from_context

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
STATE_FILE = STATE_DIR / "moto.json"
ACCOUNT = "123456789012"  # moto's default account
DUMMY_SECRET_VALUE = "hf_local-rehearsal-dummy-token"  # not a credential: a placeholder, by design
DUMMY_SECRET_DESCRIPTION = "local rehearsal dummy"
CLI_QUIET = {
    **CDK_CLI_OFFLINE_ENV,
    "NODE_NO_WARNINGS": "1",
    "npm_config_update_notifier": "false",
}


@dataclass(frozen=True)
class Emulator:
    """A running moto server this module started."""

    pid: int
    port: int
    region: str
    standin_port: int = 0  # the model runtimes' protocol stand-in (local_aws.protocol_standin), same process

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def standin_url(self) -> str:
        return f"http://127.0.0.1:{self.standin_port}"


def dummy_aws_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: os.environ) without any AWS_* or CDK account variable (profiles, keys, endpoints), with
    dummy credentials, no AWS config files, and no HTTP(S)_PROXY for 127.0.0.1: for the CLI and the emulator."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(("AWS_", "CDK_DEFAULT_"))}
    env.update(CLI_QUIET)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name), "127.0.0.1"]))
    return env


def local_environment(emulator: Emulator, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``dummy_aws_environment(base)`` pointed at the emulator."""
    return {
        **dummy_aws_environment(base),
        "AWS_REGION": emulator.region,
        "AWS_DEFAULT_REGION": emulator.region,
        "AWS_ENDPOINT_URL": emulator.url,
        # The CLI hands CloudFormation a template URL built from this endpoint.
        "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": emulator.url,
    }


def client_environment(emulator: Emulator, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a client app (llm_client, the example agent) runs with: ``dummy_aws_environment(base)``, every AWS API
    at the emulator except the model runtimes, which go to the protocol stand-in, and the project's .venv first on
    PATH."""
    env = dummy_aws_environment(base)
    env.update(
        AWS_REGION=emulator.region,
        AWS_DEFAULT_REGION=emulator.region,
        AWS_ENDPOINT_URL=emulator.url,
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=emulator.standin_url,
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=emulator.standin_url,
        PATH=os.pathsep.join(filter(None, [str(ROOT / ".venv" / "bin"), env.get("PATH")])),
    )
    return env


def client_factory(emulator: Emulator) -> ClientFactory:
    """boto3 clients for the emulator: explicit endpoint, dummy credentials, no proxy; no AWS_PROFILE or config file
    of the environment applies (a session that reads neither)."""
    return functools.partial(_emulator_client, emulator.url, emulator.region)


@functools.lru_cache(maxsize=64)
def _emulator_client(url: str, region: str, service: str) -> Any:
    # One client per emulator and service for the process: creating one costs 35 ms of CPU (botocore loads and
    # validates the service model), and a rehearsal asks for one a hundred times. boto3 clients are thread-safe.
    isolated = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    session = boto3.Session(
        botocore_session=isolated, aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    return session.client(service, endpoint_url=url, config=Config(proxies={}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorError(RuntimeError):
    """The emulator could not be started or found; the message says what to do."""


def start_emulator(region: str, log_path: Path, port: int | None = None, timeout: float = 30.0) -> Emulator:
    """Start ``python -m local_aws.server`` (moto and the runtimes' protocol stand-in) in its own session (so Ctrl-C
    on a deploy leaves it running). A free port can be taken by another program before the server binds it: then
    the server exits with ``server.PORT_TAKEN`` and this tries fresh ports (unless ``port`` was asked for)."""
    for attempt in range(1 if port else 3):
        try:
            return _start_emulator(region, log_path, port or free_port(), timeout)
        except _PortTaken as taken:
            if port or attempt == 2:
                raise EmulatorError(f"{taken}; see {log_path}") from None
    raise AssertionError("unreachable")


class _PortTaken(EmulatorError):
    pass


def _start_emulator(region: str, log_path: Path, port: int, timeout: float) -> Emulator:
    standin_port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # --state-file and --region only mark the command line, so that a damaged state file can be recovered (recover_state).
    command = [sys.executable, "-m", "local_aws.server", "--port", str(port), "--standin-port", str(standin_port)]
    command += ["--region", region, "--state-file", str(STATE_FILE)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dummy_aws_environment(),
            start_new_session=True,
        )
    emulator = Emulator(pid=process.pid, port=port, region=region, standin_port=standin_port)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if process.returncode == PORT_TAKEN:
                    raise _PortTaken(f"port {port} or {standin_port} of 127.0.0.1 is taken by another program")
                raise EmulatorError(f"the local AWS emulator exited with status {process.returncode}; see {log_path}")
            if is_up(emulator):
                return emulator
            time.sleep(0.2)
    except KeyboardInterrupt:  # no state file names it yet: stop it rather than leave it running unknown
        stop_emulator(emulator)
        raise
    stop_emulator(emulator)
    raise EmulatorError(f"the local AWS emulator did not answer on {emulator.url} within {timeout:.0f}s; see {log_path}")


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_up(emulator: Emulator) -> bool:
    try:
        with _NO_PROXY_OPENER.open(f"{emulator.url}/moto-api/data.json", timeout=2):
            return True
    except OSError:
        return False


def stop_emulator(emulator: Emulator) -> None:
    """Stop the emulator (started by this process or an earlier one)."""
    stop_session(emulator.pid)


def stop_session(pid: int) -> None:
    """SIGTERM the process ``pid`` and every process of the session it leads (it was started with
    ``start_new_session``), SIGKILL them after 5 s."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(50):
        with contextlib.suppress(ChildProcessError):  # not our child: another command started it
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):  # the leader has gone; a child that ignored SIGTERM has not
        os.killpg(pid, signal.SIGKILL)


def cdk(args: Sequence[str], emulator: Emulator, output_dir: Path) -> None:
    """Run the pinned CDK CLI against the emulator, showing its output but for what the summary prints better."""
    command = [str(ROOT / "node_modules/.bin/cdk"), *args, "--output", str(output_dir), "--no-notices"]
    print(f"==> cdk {' '.join(args)}", flush=True)
    run_streamed(command, local_environment(emulator), cli_lines)


def run_streamed(command: Sequence[str], env: Mapping[str, str], keep: Callable[[Iterable[str]], Iterable[str]]) -> None:
    """Run ``command`` showing the lines ``keep`` keeps; CalledProcessError if it fails.

    It runs in a session of its own, so a Ctrl-C (or any error here) stops it and every process it started (the CDK
    CLI runs the app and node helpers) instead of leaving them deploying with nobody watching.
    """
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        with process.stdout:
            for line in keep(process.stdout):
                print(line, end="", flush=True)
        process.wait()
    except BaseException:
        stop_session(process.pid)
        raise
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, list(command))


_STACK_OUTPUT = re.compile(r"^[A-Za-z0-9-]+\.[A-Za-z0-9]+ = ")


def cli_lines(lines: Iterable[str]) -> Iterator[str]:
    """The CLI's lines without its "Outputs:" block, the "Stack ARN:" header and the bare ARN under it (on stdout, for
    scripts): the deploy summary prints each output and the stack ARN as labelled lines."""
    for line in lines:
        text = line.strip()
        if text in ("Outputs:", "Stack ARN:") or _STACK_OUTPUT.match(text) or text.startswith("arn:aws:cloudformation:"):
            continue
        yield line


def bootstrap(emulator: Emulator, output_dir: Path) -> None:
    """Run the real ``cdk bootstrap`` unless this emulator already has the bootstrap stack."""
    stacks = client_factory(emulator)("cloudformation").list_stacks()["StackSummaries"]
    if any(
        s["StackName"] == "CDKToolkit" and s["StackStatus"].endswith("_COMPLETE") and s["StackStatus"] != "DELETE_COMPLETE"
        for s in stacks
    ):
        return
    # --app "": the environment is explicit, so the CLI need not synthesize cdk.json's app (the default model) first.
    cdk(["bootstrap", f"aws://{ACCOUNT}/{emulator.region}", "--app", ""], emulator, output_dir)


def create_dummy_secrets(emulator: Emulator, template: Mapping[str, Any]) -> list[str]:
    """Create each Secrets Manager secret the template resolves (a gated model's Hugging Face token) that
    the emulator lacks, with a dummy value; return the names created."""
    client = client_factory(emulator)("secretsmanager")
    existing = {s["Name"] for s in client.list_secrets()["SecretList"]}
    created = sorted(set(_secret_names(json.dumps(template))) - existing)
    for name in created:
        client.create_secret(Name=name, SecretString=DUMMY_SECRET_VALUE, Description=DUMMY_SECRET_DESCRIPTION)
    return created


def _secret_names(text: str) -> list[str]:
    return [ref.split(":SecretString", 1)[0] for service, ref in DYNAMIC_REFERENCE.findall(text) if service == "secretsmanager"]


def _deployed_stack(emulator: Emulator, output_dir: Path) -> list[str]:
    """The stack of the assembly in ``output_dir``, if it exists in the emulator."""
    if not (output_dir / "manifest.json").exists():
        return []
    name = _stack_artifact(output_dir)[0]
    live = client_factory(emulator)("cloudformation").list_stacks()["StackSummaries"]
    return [name] if any(s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE" for s in live) else []


def _stack_artifact(output_dir: Path) -> tuple[str, Path]:
    manifest = json.loads((output_dir / "manifest.json").read_text())
    (stack,) = [a for a in manifest["artifacts"].values() if a.get("type") == "aws:cloudformation:stack"]
    return str(stack.get("displayName") or stack["properties"].get("stackName")), output_dir / stack["properties"]["templateFile"]


def read_assembly(output_dir: Path) -> tuple[str, dict[str, Any]]:
    """The name and template of the one stack of the cloud assembly in ``output_dir``."""
    stack_name, template_file = _stack_artifact(output_dir)
    return stack_name, json.loads(template_file.read_text())


def synth(context: Sequence[str], emulator: Emulator, output_dir: Path) -> tuple[str, dict[str, Any]]:
    """The real ``cdk synth``: the cloud assembly of ``context`` in ``output_dir``; its stack's name and template."""
    cdk(["synth", "--quiet", *context], emulator, output_dir)
    return read_assembly(output_dir)


# What writes the cloud assembly that deploy() hands to `cdk deploy --app DIR`: synth (the CLI) unless a caller passes
# another. The tests pass one that runs the same app in their own warm jsii process (a CLI synth costs ~5 s of CPU).
Synthesize = Callable[[Sequence[str], Emulator, Path], tuple[str, dict[str, Any]]]


def deploy(context: Sequence[str], emulator: Emulator, output_dir: Path, synthesize: Synthesize = synth) -> Deployed:
    """Bootstrap if needed, deploy the one stack ``context`` describes, verify it and print a summary."""
    started = time.monotonic()
    bootstrap(emulator, output_dir)
    stack_name, template = synthesize(context, emulator, output_dir)
    secrets = create_dummy_secrets(emulator, template)
    for name in secrets:
        print(f"==> created Secrets Manager secret {name} in the emulator with a DUMMY value (gated model token)")
    cdk(
        ["deploy", *context, "--app", str(output_dir), "--method=direct", "--require-approval", "never", "--progress", "events"],
        emulator,
        output_dir,
    )
    make_client = client_factory(emulator)
    deployed = Deployed.load(make_client, stack_name, template)
    results = verify_stack(deployed)
    stack = make_client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = stack.get("Outputs", [])
    print(f"\nDeployed {stack_name} into the local AWS emulator at {emulator.url} in {time.monotonic() - started:.0f}s.")
    print(f"  stack ARN {stack['StackId']}")
    print(f"Verified with boto3, resource by resource ({len(results)} of {len(template['Resources'])}):")
    for result in results:
        print(f"  ok {result.resource_type:<46} {result.detail}")
    for output in outputs:
        print(f"  output {output['OutputKey']} = {output['OutputValue']}")
    for physical_id in retained_physical_ids(deployed):
        print(f"  note: {physical_id} has DeletionPolicy Retain: destroy keeps it, here and in AWS")
    return deployed


def destroy(stack_name: str, emulator: Emulator, assembly_dir: Path) -> None:
    """The real ``cdk destroy`` of one stack, from the cloud assembly it was deployed from. An endpoint stack has
    termination protection: destroy-local is the explicit request, so it turns the protection off first, which
    is the step docs/operations.md gives for AWS."""
    cloudformation = client_factory(emulator)("cloudformation")
    with contextlib.suppress(cloudformation.exceptions.ClientError):  # already gone: cdk destroy says so
        if cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0].get("EnableTerminationProtection"):
            print(f"==> turning off termination protection of {stack_name}: you asked to destroy it", flush=True)
            cloudformation.update_termination_protection(StackName=stack_name, EnableTerminationProtection=False)
    cdk(["destroy", "--app", str(assembly_dir), "--force", stack_name], emulator, assembly_dir)


def delete_dummy_secrets(emulator: Emulator) -> None:
    secrets = client_factory(emulator)("secretsmanager")
    for secret in secrets.list_secrets()["SecretList"]:
        if secret.get("Description") == DUMMY_SECRET_DESCRIPTION:
            secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


# --- state file and commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    pid: int
    port: int
    region: str
    stacks: dict[str, str] = field(default_factory=dict)  # stack name -> cloud assembly it was deployed from
    retained: tuple[str, ...] = ()  # physical ids with DeletionPolicy Retain
    standin_port: int = 0

    @property
    def emulator(self) -> Emulator:
        return Emulator(pid=self.pid, port=self.port, region=self.region, standin_port=self.standin_port)


def read_state() -> State | None:
    """The state file's record, or None when there is none. A damaged file (cut short, edited by hand) is set aside
    and the emulator recovered from its process (``recover_state``): it must never leave a running emulator that
    destroy-local cannot find."""
    try:
        text = STATE_FILE.read_text()
    except FileNotFoundError:
        return None
    try:
        return parse_state(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        return recover_state(f"{type(error).__name__}: {brief(str(error))}")


def parse_state(data: Any) -> State:
    """The State a state file's JSON holds; ValueError, KeyError or TypeError if it is not one."""
    numbers = [data["pid"], data["port"], data.get("standin_port", 0)]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers) or not data["pid"]:
        raise ValueError("pid and ports must be numbers")
    stacks, retained = data.get("stacks", {}), data.get("retained", [])
    if not isinstance(data["region"], str) or not isinstance(stacks, dict) or not isinstance(retained, list):
        raise TypeError("region, stacks or retained has the wrong type")
    return State(
        data["pid"],
        data["port"],
        data["region"],
        {str(k): str(v) for k, v in stacks.items()},
        tuple(map(str, retained)),
        data.get("standin_port", 0),
    )


def recover_state(problem: str) -> State | None:
    """Set a damaged state file aside and rebuild the record from the emulator that names it on its command line
    (``_start_emulator`` puts ``--state-file`` there): its pid, ports and region, and the stacks it holds whose
    cloud assembly is still in ``.local/assemblies``. What cannot be rebuilt (retained resources) is said."""
    damaged = STATE_FILE.with_name(STATE_FILE.name + ".damaged")
    os.replace(STATE_FILE, damaged)
    print(f"warning: {STATE_FILE} was damaged ({problem}); kept it as {damaged.name}", file=sys.stderr)
    found = running_emulators()
    for other in found[1:]:
        print(
            f"warning: another emulator of this checkout runs as pid {other.pid}: stop it with kill {other.pid}", file=sys.stderr
        )
    if not found:
        print("  no emulator of this checkout is running: nothing to recover", file=sys.stderr)
        return None
    emulator = found[0]
    live = client_factory(emulator)("cloudformation").list_stacks()["StackSummaries"]
    names = {s["StackName"] for s in live if s["StackStatus"] != "DELETE_COMPLETE"} - {"CDKToolkit"}
    assemblies = {}
    for manifest in sorted((STATE_DIR / "assemblies").glob("*/manifest.json")):
        with contextlib.suppress(ValueError, KeyError, OSError):
            assemblies[_stack_artifact(manifest.parent)[0]] = str(manifest.parent)
    stacks = {name: assemblies[name] for name in sorted(names) if name in assemblies}
    state = State(emulator.pid, emulator.port, emulator.region, stacks, (), emulator.standin_port)
    write_state(state)
    print(
        f"  recovered the emulator at {emulator.url} (pid {emulator.pid}) with {', '.join(stacks) or 'no stack'} from"
        " its process; resources kept by DeletionPolicy Retain are no longer known, so destroy-local reports them",
        file=sys.stderr,
    )
    for name in sorted(names - set(stacks)):
        print(f"  {name} runs in it but its cloud assembly is gone: destroy-local will report what it leaves", file=sys.stderr)
    return state


_SERVER_COMMAND = re.compile(
    r"^\s*(?P<pid>[0-9]+) (?P<python>\S+) -m local_aws\.server --port (?P<port>[0-9]+) --standin-port (?P<standin>[0-9]+)"
    r" --region (?P<region>\S+) --state-file (?P<state>.+?)\s*$"
)


def running_emulators() -> list[Emulator]:
    """The emulators started for this state file (``ps`` works alike on Linux and macOS)."""
    listing = subprocess.run(["ps", "-ww", "-A", "-o", "pid=", "-o", "args="], capture_output=True, text=True, check=False).stdout
    matches = [_SERVER_COMMAND.match(line) for line in listing.splitlines()]
    return [
        Emulator(int(m["pid"]), int(m["port"]), m["region"], int(m["standin"]))
        for m in matches
        if m and m["state"] == str(STATE_FILE) and int(m["pid"]) != os.getpid()
    ]


def write_state(state: State) -> None:
    """Replace the state file in one step (a reader never sees half of it; a crash leaves the old or the new one)."""
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    partial = STATE_FILE.with_name(f"{STATE_FILE.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n")
    os.replace(partial, STATE_FILE)


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the rehearsal's lock: one deploy-local or destroy-local at a time per checkout, so two never start two
    emulators (only one of which the state file could name). The lock is the OS's (flock): it ends with the process,
    so a killed command leaves no stale lock. The emulator does not inherit it (Popen closes other descriptors)."""
    lock = STATE_FILE.with_name(STATE_FILE.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("==> waiting for another deploy-local or destroy-local of this checkout to finish", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def assembly_dir(context: Sequence[str]) -> Path:
    """One cloud assembly per context, so destroy-local can destroy every stack deployed from it."""
    return STATE_DIR / "assemblies" / re.sub(r"[^A-Za-z0-9.=-]+", "_", "_".join(context[1::2]))


def context_flags(model: str | None, extra: Sequence[str]) -> list[str]:
    """The deploy's -c flags: MODEL (or the app's default, unless the flags name a model or a deployment file) and
    ``extra``. MODEL with -c model=, -c deployment= or -c router= is refused: the CLI would silently deploy the last
    one."""
    named = [key for key in (item.split("=", 1)[0] for item in extra) if key in ("model", "deployment", "router")]
    if model and named:
        raise ConfigError(
            f"-c {named[0]}",
            None,
            f"conflicts with MODEL {model!r}: a deploy names its model once",
            f"drop MODEL or -c {named[0]}=",
        )
    flags = ["-c", f"model={model or DEFAULT_MODEL}"] if model or not named else []
    for item in extra:
        flags += ["-c", item]
    return flags


def validate(context: Sequence[str]) -> DeploymentSpec | RouterSpec:
    """The spec the app will build from ``context``, checked as the app checks it (ConfigError on bad input), before
    anything starts: a bad model or flag must not cost an emulator start and a bootstrap."""
    values: dict[str, str] = {}
    for item in context[1::2]:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-c {item}", None, "expected KEY=VALUE", "e.g. -c endpoint=chat")
        if key in values:  # the CLI keeps the last one without a word
            raise ConfigError(f"-c {key}", None, "is given twice", "give it once")
        values[key] = value
    router = router_from_context(values.get, {})  # a router (docs/routing.md) or a router file
    if router is not None:
        return router
    registry = load_registry()
    spec = deployment_from_context(values.get, {}, registry)
    if isinstance(spec.model, SageMakerModelConfig):
        registry.image_for(spec.model)  # the region's image, as the stack resolves it
    return spec


def hosting_refusals(spec: DeploymentSpec, emulator: Emulator) -> list[str]:
    """The hosting-kind check CI runs before a deploy (migration.preflight), against the emulator's stack."""
    stack = read_live_stack(spec.stack_name, client_factory(emulator)("cloudformation"))
    return [finding.message for finding in hosting_findings(spec, stack) if finding.severity == "error"]


def migration_findings(spec: DeploymentSpec, emulator: Emulator) -> list[Finding]:
    """`./tasks.sh plan-migration --live`'s check of this deploy against the endpoint in the emulator: moto accepts
    steps SageMaker refuses (removing a scaled variant), so the rehearsal refuses them as AWS would."""
    if not isinstance(spec.model, SageMakerModelConfig):
        return []
    make_client = client_factory(emulator)
    live = read_live_endpoint(spec.endpoint_name, make_client("sagemaker"), make_client("application-autoscaling"))
    return check_transition(live.state, spec)


def router_refusal(spec: RouterSpec, state: State | None, context: Sequence[str]) -> str | None:
    """The live preflight of a router (``python -m migration check``'s), against the emulator: its routes must be
    deployed there first."""
    if state is None:
        return f"router {spec.name}: no local emulator runs, so its routes {spec.weak} and {spec.strong} are not deployed"
    source = next((item.split("=", 1)[1] for item in context[1::2] if item.startswith("deployment=")), None)
    try:
        check_router(client_factory(state.emulator)("ssm"), spec, source)
    except RoutingInputError as error:
        return str(error)
    return None


def deploy_command(
    state: State | None, context: list[str], spec: DeploymentSpec | RouterSpec, synthesize: Synthesize = synth
) -> int:
    region = spec.region
    if state and state.region != region:
        print(f"error: the running emulator is for {state.region}; run ./tasks.sh destroy-local first", file=sys.stderr)
        return 2
    if isinstance(spec, RouterSpec):
        refusal = router_refusal(spec, state, context)
        if refusal:
            print(f"error: {refusal}", file=sys.stderr)
            print(
                "Nothing was deployed: deploy the routes first (./tasks.sh deploy-local -c endpoint=ROUTE ...), as"
                " python -m migration check requires against AWS (docs/routing.md).",
                file=sys.stderr,
            )
            return 1
    elif state is not None:
        refusals = hosting_refusals(spec, state.emulator)
        for message in refusals:
            print(f"error: {message}", file=sys.stderr)
        if refusals:
            print(
                "Nothing was deployed: the emulator is as it was (./tasks.sh destroy-local still tears it down).",
                file=sys.stderr,
            )
            return 1
        findings = migration_findings(spec, state.emulator)
        for finding in findings:
            print(f"{finding.severity}: {finding.message}", file=sys.stderr)
        if any(f.severity == "error" for f in findings):
            print(
                "error: refused, as ./tasks.sh plan-migration --live refuses it against AWS (moto would accept the"
                " deploy, SageMaker would not). The safe order: docs/migrations.md; see what runs: ./tasks.sh status-local",
                file=sys.stderr,
            )
            return 1
    started_here = state is None
    if state is None:
        emulator = start_emulator(region, STATE_DIR / "moto.log")
        state = State(pid=emulator.pid, port=emulator.port, region=region, standin_port=emulator.standin_port)
        write_state(state)
        print(f"==> started the local AWS emulator (moto) at {emulator.url}, pid {emulator.pid}")
    output_dir = assembly_dir(context)
    try:
        deployed = deploy(context, state.emulator, output_dir, synthesize)
    except BaseException as error:  # a stack that failed verification is still deployed: destroy-local must know it
        recorded = _record_stacks(state, output_dir)
        if not isinstance(error, KeyboardInterrupt):  # Ctrl-C: main() says the state file records the emulator
            _after_failure(recorded, started_here)
        raise
    stacks = _record_stacks(state, output_dir).stacks
    retained = tuple(dict.fromkeys((*state.retained, *retained_physical_ids(deployed))))
    write_state(replace(state, stacks=stacks, retained=retained))
    print(f"\nThe emulator keeps running at {state.emulator.url} (dummy credentials). What is deployed: ./tasks.sh status-local")
    print("Tear down: ./tasks.sh destroy-local. From Python, with that URL and region (docs/local-deploy.md):")
    print(
        f"  AWS_ENDPOINT_URL={state.emulator.url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        f' AWS_DEFAULT_REGION={state.region} .venv/bin/python -c "import boto3;'
        f" print(boto3.client('sagemaker').list_endpoints()['Endpoints'])\""
    )
    endpoint = spec.name if isinstance(spec, RouterSpec) else deployed.stack_name.removeprefix("llm-")
    print(f"The model runtimes answer through a protocol stand-in (not a model) at {state.emulator.standin_url}:")
    print(f"  ./tasks.sh run-local python -m llm_client {endpoint} 'Hello'")
    # The example agent's tool needs a model that can call tools; a router skips a route that cannot.
    if isinstance(spec, RouterSpec) or calls_tools(deployed.template, endpoint):
        print(f"  ./tasks.sh run-local python examples/agent.py --endpoint {endpoint} 'What is 1.408 times 730?'")
    return 0


def calls_tools(template: Mapping[str, Any], endpoint: str) -> bool:
    """Whether the stack's client parameter lets llm_client attach tools: every variant that gets traffic publishes
    ``tool_calling`` ``native`` or ``constrained`` (``none``, or ``false`` in parameters written before the three paths,
    means no tools); a Bedrock parameter (Claude calls tools) has no such field."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::SSM::Parameter" and properties.get("Name") == f"/llm-endpoints/{endpoint}":
            value = properties.get("Value")
            if isinstance(value, dict):  # Fn::Join around a reference (a role ARN) inside one of its JSON strings
                value = "".join(part if isinstance(part, str) else "ref" for part in value["Fn::Join"][1])
            published = json.loads(value)
            # A drained inference component (weight 0) gets no request, so its tools do not matter (llm_client's rule).
            served = [v for v in published.get("variants", [published]) if v.get("weight") != 0]
            return all(variant.get("tool_calling", True) not in (False, "none") for variant in served)
    return False


def _record_stacks(state: State, output_dir: Path) -> State:
    """``state`` plus the stack of ``output_dir`` if it exists in the emulator, written to the state file."""
    stacks = {**state.stacks, **{name: str(output_dir) for name in _deployed_stack(state.emulator, output_dir)}}
    write_state(replace(state, stacks=stacks))
    return replace(state, stacks=stacks)


def _after_failure(state: State, started_here: bool) -> None:
    """Never leave an emulator running unannounced: stop one this command started for nothing, else say it runs."""
    if started_here and not state.stacks:
        stop_emulator(state.emulator)
        STATE_FILE.unlink(missing_ok=True)
        print("Stopped the local AWS emulator this command started: nothing was deployed into it.", file=sys.stderr)
    else:
        print(
            f"The local AWS emulator keeps running at {state.emulator.url} with {', '.join(state.stacks) or 'no stack'}:"
            " ./tasks.sh status-local shows it, ./tasks.sh destroy-local removes it and stops the emulator.",
            file=sys.stderr,
        )


def status_command(state: State | None) -> int:
    """What the running emulator holds: stacks, endpoints with variants and weights (or inference components and their
    copies), alarms, client parameters."""
    if state is None:
        print("No local AWS emulator is running (./tasks.sh deploy-local starts one).")
        return 0
    make_client = client_factory(state.emulator)
    print(f"Local AWS emulator at {state.emulator.url}, region {state.region}, pid {state.pid} (.local/moto.json)")
    summaries = make_client("cloudformation").list_stacks()["StackSummaries"]
    live = sorted((s["StackName"], s["StackStatus"]) for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")
    print("stacks:")
    for name, status in live:
        origin = (
            "CDK bootstrap" if name == "CDKToolkit" else f"from {_relative(state.stacks[name])}" if name in state.stacks else ""
        )
        print(f"  {name}: {status}" + (f" ({origin})" if origin else ""))
    sagemaker = make_client("sagemaker")
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    print("endpoints:" if endpoints else "endpoints: none")
    for summary in sorted(endpoints, key=lambda e: e["EndpointName"]):
        endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        types = {v["VariantName"]: " or ".join(instance_pools(v)) for v in config["ProductionVariants"]}
        variants = endpoint.get("ProductionVariants", [])
        total = sum(v.get("CurrentWeight", 0.0) for v in variants) or 1.0
        print(f"  {endpoint['EndpointName']}: {endpoint['EndpointStatus']}")
        components = sagemaker.list_inference_components(EndpointNameEquals=endpoint["EndpointName"])["InferenceComponents"]
        for v in variants:
            count = v.get("CurrentInstanceCount", v.get("DesiredInstanceCount", 0))
            instances = f"{count} x {types.get(v['VariantName'], '?')}"
            hosted = sorted(c["InferenceComponentName"] for c in components if c["VariantName"] == v["VariantName"])
            if hosted or "CurrentWeight" not in v:  # a variant for inference components has no weight of its own
                print(f"    variant {v['VariantName']}: {instances}, hosts {len(hosted)} inference component(s)")
            else:
                print(f"    variant {v['VariantName']}: {100.0 * v['CurrentWeight'] / total:g}% of traffic, {instances}")
            for name in hosted:
                component = sagemaker.describe_inference_component(InferenceComponentName=name)
                copies = component["RuntimeConfig"]["CurrentCopyCount"]
                print(
                    f"      inference component {name}: {component['InferenceComponentStatus']}, {copies} "
                    f"cop{'y' if copies == 1 else 'ies'} of model {component['Specification'].get('ModelName', '?')}"
                )
    alarms = make_client("cloudwatch").describe_alarms()["MetricAlarms"]
    print(f"alarms: {len(alarms)}" + (" (no metrics in the emulator: they never leave their first state)" if alarms else ""))
    for alarm in sorted(alarms, key=lambda a: a["AlarmName"]):
        print(f"  {alarm['AlarmName']}: {alarm.get('StateValue', '?')}")
    parameters = make_client("ssm").get_parameters_by_path(Path="/llm-endpoints", Recursive=True)["Parameters"]
    print("client parameters:" if parameters else "client parameters: none")
    for parameter in sorted(parameters, key=lambda p: p["Name"]):
        hosting = json.loads(parameter["Value"]).get("hosting", "?") if parameter["Value"].startswith("{") else "?"
        print(f"  {parameter['Name']}: hosting {hosting}")
    return 0


def _relative(path: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(ROOT))
    return path


def run_command(state: State | None, command: Sequence[str]) -> int:
    """Run ``command`` as a client app of the emulator (``client_environment``); its exit status."""
    if state is None or not state.standin_port:
        print("error: no local emulator with the runtime stand-in is running: ./tasks.sh deploy-local first", file=sys.stderr)
        return 2
    if not command:
        print("error: give a command, e.g. ./tasks.sh run-local python examples/agent.py", file=sys.stderr)
        return 2
    env = client_environment(state.emulator)
    try:
        return subprocess.run(list(command), env=env, check=False).returncode
    except PermissionError:  # the shell's statuses: 126 not executable, 127 not found
        print(f"error: run-local: {command[0]}: not executable", file=sys.stderr)
        return 126
    except FileNotFoundError:
        names = {p.name for folder in env["PATH"].split(os.pathsep) if os.path.isdir(folder) for p in Path(folder).iterdir()}
        nearest = difflib.get_close_matches(command[0], sorted(names), n=1)
        hint = f"did you mean {nearest[0]}? " if nearest else ""
        print(f"error: run-local: {command[0]}: command not found", file=sys.stderr)
        print(f"  fix: {hint}e.g. ./tasks.sh run-local python -m llm_client ENDPOINT 'Hello'", file=sys.stderr)
        return 127


def destroy_command(state: State | None) -> int:
    if state is None:
        print("Nothing to destroy: no local emulator is running.")
        STATE_FILE.unlink(missing_ok=True)
        return 0
    try:
        for stack_name, assembly in reversed(state.stacks.items()):
            destroy(stack_name, state.emulator, Path(assembly))
        delete_dummy_secrets(state.emulator)
        left = leftovers(client_factory(state.emulator))
    finally:
        stop_emulator(state.emulator)
        STATE_FILE.unlink(missing_ok=True)
        print("Stopped the local AWS emulator.", flush=True)
    kept = [item for item in left if item.split(" ", 1)[1] in state.retained]
    for item in kept:
        print(f"  kept by DeletionPolicy Retain (AWS would keep it too): {item}")
    unexpected = [item for item in left if item not in kept]
    if unexpected:
        print("error: resources left after destroy:\n  " + "\n  ".join(unexpected), file=sys.stderr)
        return 1
    print(f"Destroyed {', '.join(state.stacks) or 'nothing'}; nothing else was left behind.")
    return 0


DEPLOY_EPILOG = f"""\
MODEL and -c model= name a model config's key or alias; -c deployment=FILE deploys a deployment file instead
(then give no MODEL). With none of them the model is {DEFAULT_MODEL}. Every -c flag of `cdk deploy` works
(README.md, "Deploying"); -c region= sets the emulator's region (default us-east-1). A deploy into a running
emulator is checked first as ./tasks.sh plan-migration --live checks it against AWS. -c router=NAME deploys a router
(docs/routing.md) whose routes must be deployed in the emulator first, as python -m migration check requires.

examples:
  ./tasks.sh deploy-local mistral
  ./tasks.sh deploy-local -c endpoint=chat -c model=mistral -c candidate=mixtral -c candidate_weight=10
  ./tasks.sh deploy-local -c deployment=deployments/chat.yaml
  ./tasks.sh deploy-local -c router=assistant -c weak=chat -c strong=claude -c policy=POLICY   (routes deployed first)
"""


def main(argv: Sequence[str] | None = None, synthesize: Synthesize = synth) -> int:
    """The four commands; ``synthesize`` writes each deploy's cloud assembly (default: the real ``cdk synth``)."""
    parser = argparse.ArgumentParser(prog="./tasks.sh", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser(
        "deploy",
        prog="./tasks.sh deploy-local",
        help="deploy one stack into the local emulator",
        description="Start the local AWS emulator (or reuse the running one), deploy one stack into it with the real\n"
        "CDK CLI, and verify every resource with boto3. The emulator keeps running.",
        epilog=DEPLOY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy_parser.add_argument("model", nargs="?", metavar="MODEL", help=f"a model key or alias (default: {DEFAULT_MODEL})")
    deploy_parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="a cdk context flag, e.g. -c endpoint=chat"
    )
    deploy_parser.add_argument(
        "--dry-run", action="store_true", help="check the model and flags and say what would be deployed; start nothing"
    )
    commands.add_parser(
        "status",
        prog="./tasks.sh status-local",
        help="what the running emulator holds",
        description="Show what the running local emulator holds: stacks, endpoints with their variants and weights"
        " (or their inference components and copy counts), alarms and client parameters.",
    )
    commands.add_parser(
        "destroy",
        prog="./tasks.sh destroy-local",
        help="destroy the deployed stacks, check nothing is left, stop the emulator",
        description="Destroy every stack deploy-local deployed, check that nothing but what the templates retain is"
        " left, and stop the emulator.",
    )
    run_parser = commands.add_parser(
        "run",
        prog="./tasks.sh run-local",
        help="run a command as a client app of the running emulator",
        description="Run COMMAND with dummy credentials, every AWS API at the running emulator and the SageMaker and"
        " Bedrock runtimes at its protocol stand-in (not a model), .venv/bin first on PATH; exit with its status.",
    )
    run_parser.add_argument("run", nargs=argparse.REMAINDER, metavar="COMMAND")
    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            context = context_flags(args.model, args.context)
            spec = validate(context)  # the model, the flags and the region (a file's too), before an emulator starts
            if args.dry_run:
                print(f"would deploy {spec.stack_name} ({' '.join(context)}) into the local emulator in {spec.region}")
                return 0
            with exclusive():  # the state is read under the lock: a second deploy reuses the first one's emulator
                return deploy_command(running_state(), context, spec, synthesize)
        if args.command == "destroy":
            with exclusive():
                return destroy_command(running_state())
        if args.command == "run":
            return run_command(running_state(), args.run)
        return status_command(running_state())
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the state file already names the emulator and every stack deployed so far
        print(f"\ninterrupted: {STATE_FILE} records what is running; ./tasks.sh destroy-local removes it", file=sys.stderr)
        return 130
    except VerificationError as error:
        print(f"error: the local deploy does not match its template: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(error.cmd[:2])} failed with status {error.returncode}", file=sys.stderr)
        return 1


def running_state() -> State | None:
    """The state file's emulator if it answers."""
    state = read_state()
    return state if state and is_up(state.emulator) else None


if __name__ == "__main__":
    sys.exit(run_cli(main))
