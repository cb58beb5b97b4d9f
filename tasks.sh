#!/usr/bin/env bash
# One entry point for everything a user or CI runs. Each task installs what it needs first
# (Python packages into .venv from the pinned requirements, the pinned CDK CLI into node_modules),
# so it works on a fresh machine with only Python 3.11+, Node 20+ and npm.
#
#   ./tasks.sh deploy-local [MODEL] [-c KEY=VALUE ...]
#                                install, start a local AWS emulator (moto) on 127.0.0.1, deploy MODEL's stack
#                                into it with the real CDK CLI (default mixtral), verify every resource with boto3;
#                                the emulator keeps running (docs/local-deploy.md)
#   ./tasks.sh destroy-local     destroy that stack, check nothing is left, stop the emulator
#   ./tasks.sh run-local CMD ..  run CMD as a client app of the running emulator: AWS APIs at moto, the model
#                                runtimes at a protocol stand-in (not a model), e.g. python examples/agent.py
#   ./tasks.sh synth [MODEL]     install, then synthesize MODEL's stack (default mixtral) and summarise it
#   ./tasks.sh test              install, then lint (ruff, mypy) and run the test suite
#   ./tasks.sh plan ARGS         install, then run the cost planner (python -m planner ARGS; --help lists ARGS)
#   ./tasks.sh bench             install, then print synth time per model and for an empty CDK app
#   ./tasks.sh plan-migration .. install, then `python -m migration plan ..` (docs/migrations.md)
#   ./tasks.sh evaluate ARGS     install, then compare targets on a test set: python -m evaluation ARGS
#                                (--local: against the running local rehearsal; docs/evaluation.md)
#   ./tasks.sh setup             install only
set -euo pipefail
cd "$(dirname "$0")"

# Synth, tests and lint never reach the network: no CLI telemetry, notices or version checks.
export CDK_DISABLE_CLI_TELEMETRY=1 CDK_DISABLE_VERSION_CHECK=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 npm_config_update_notifier=false

setup() {
  local python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "error: Python 3.11 or newer is required (found $("$python" --version 2>&1))" >&2; exit 1; }
  local wanted
  wanted=$(cat requirements.txt requirements-dev.txt constraints.txt llm_client/pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing Python packages into .venv (first run: about a minute)"
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    # Some machines' pip config names find-links folders that do not exist; that warning is noise here.
    .venv/bin/pip install --quiet -r requirements-dev.txt -c constraints.txt 2> >(grep -v "^WARNING: Location" >&2)
    echo "$wanted" > .venv/.installed
  fi
  wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -x node_modules/.bin/cdk ] || [ "$(cat node_modules/.installed 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing the pinned AWS CDK CLI into node_modules"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    echo "$wanted" > node_modules/.installed
  fi
}

cdk() { node_modules/.bin/cdk "$@"; }

task=${1:-help}
shift || true
case "$task" in
  setup) setup ;;
  synth)
    setup
    model=${1:-mixtral}
    cdk synth --quiet -c model="$model" "${@:2}"
    .venv/bin/python scripts/summarize_synth.py cdk.out
    ;;
  deploy-local)
    setup
    .venv/bin/python -m local_aws.rehearsal deploy "$@"
    ;;
  destroy-local)
    setup
    .venv/bin/python -m local_aws.rehearsal destroy "$@"
    ;;
  run-local)
    setup
    .venv/bin/python -m local_aws.rehearsal run "$@"
    ;;
  test)
    setup
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
    .venv/bin/pytest "$@"
    ;;
  plan)
    setup
    .venv/bin/python -m planner "$@"
    ;;
  bench)
    setup
    .venv/bin/python scripts/bench_synth.py "$@"
    ;;
  plan-migration)
    setup
    .venv/bin/python -m migration plan "$@"
    ;;
  evaluate)
    setup
    .venv/bin/python -m evaluation "$@"
    ;;
  help|-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "error: unknown task '$task' (try: ./tasks.sh help)" >&2; exit 2 ;;
esac
