#!/usr/bin/env bash
# One entry point for everything a user or CI runs. Each task installs what it needs first
# (Python packages into .venv from the pinned requirements, the pinned CDK CLI into node_modules),
# so it works on a fresh machine with only Python 3.11+, Node 20+ and npm. `./tasks.sh TASK --help`
# describes one task, its arguments and defaults.
#
#   ./tasks.sh deploy-local [MODEL] [-c KEY=VALUE ...]
#                                install, start a local AWS emulator (moto) on 127.0.0.1, deploy the stack of
#                                MODEL (default mistral-7b) or of -c deployment=FILE into it with the real CDK CLI,
#                                verify every resource with boto3; the emulator keeps running (docs/local-deploy.md)
#   ./tasks.sh status-local      what is deployed in the running emulator: stacks, endpoints, variants, alarms
#   ./tasks.sh destroy-local     destroy those stacks, check nothing is left, stop the emulator
#   ./tasks.sh run-local CMD ..  run CMD as a client app of the running emulator: AWS APIs at moto, the model
#                                runtimes at a protocol stand-in (not a model), e.g. python examples/agent.py
#   ./tasks.sh synth [MODEL] [-c KEY=VALUE ...]
#                                install, then synthesize the stack of MODEL (default mistral-7b) or of
#                                -c deployment=FILE, and summarise it; any `cdk deploy` -c flag works
#   ./tasks.sh test [PYTEST ARGS]
#                                install, then lint (ruff, mypy) and run the test suite on every core
#   ./tasks.sh plan ARGS         install, then run the cost planner (./tasks.sh plan --help lists ARGS)
#   ./tasks.sh plan-migration .. install, then check the next migration deploy (docs/migrations.md)
#   ./tasks.sh simulate ARGS     install, then replay traffic against a deployment's scaling (./tasks.sh simulate
#                                --help; docs/capacity.md)
#   ./tasks.sh bench             install, then print synth time per model and for an empty CDK app
#   ./tasks.sh evaluate ARGS     install, then compare targets on a test set (./tasks.sh evaluate --help;
#                                --local: against the running local rehearsal; docs/evaluation.md)
#   ./tasks.sh setup             install only
#   ./tasks.sh setup-locked      install only the runtime packages, from requirements.lock with pip --require-hashes
#                                (CI jobs that hold deploy credentials), and the CDK CLI from package-lock.json
#   ./tasks.sh lock              regenerate requirements.lock (pip-tools in a throwaway venv; needs PyPI)
set -euo pipefail
cd "$(dirname "$0")"

# Synth, tests and lint never reach the network: no CLI telemetry, notices or version checks.
export CDK_DISABLE_CLI_TELEMETRY=1 CDK_DISABLE_VERSION_CHECK=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 npm_config_update_notifier=false

# The model a task uses when given neither a MODEL nor -c model=/-c deployment=: the app's own default
# (llm_config/deployment.py DEFAULT_MODEL), so `./tasks.sh synth` and `npx cdk synth` build the same stack. For help only.
DEFAULT_MODEL=mistral-7b

setup() {
  # A task's --help needs no install when one exists (and must not start one, e.g. from the docs test).
  if [ "$help_only" = 1 ] && [ -x .venv/bin/python ] && [ -x node_modules/.bin/cdk ]; then return 0; fi
  local python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "error: Python 3.11 or newer is required (found $("$python" --version 2>&1))" >&2; exit 1; }
  local wanted
  wanted=$(cat requirements.txt requirements-dev.txt constraints.txt llm_client/pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing the pinned Python packages into .venv (first run: 2-3 min on 2 cores, most of it downloads)"
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    # Progress: one line per 25 packages pip resolves, then its install step. Some machines' pip config names
    # find-links folders that do not exist; that warning is noise here.
    .venv/bin/pip install --progress-bar off -r requirements-dev.txt -c constraints.txt \
      2> >(grep -v "^WARNING: Location" >&2) |
      awk '/^Collecting /{n++; if (n % 25 == 0) {print "    " n " packages resolved"; fflush()}}
           /^Installing collected packages/{print "    " n " packages resolved; installing them"; fflush()}'
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

PIP_TOOLS=pip-tools==7.6.2  # what generated requirements.lock

# Jobs that hold deploy credentials run only hash-checked code: a package whose file changed on the index
# fails the install instead of running with those credentials. npm ci checks package-lock.json's integrity hashes.
setup_locked() {
  local python=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
}

lock() {
  local python=${PYTHON:-python3}
  [ -x .venv-lock/bin/pip-compile ] || { "$python" -m venv .venv-lock && .venv-lock/bin/pip install --quiet "$PIP_TOOLS"; }
  local header
  header=$(sed -n '1,3p' requirements.lock)
  .venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
    --annotation-style=line --no-emit-index-url --no-emit-find-links -c constraints.txt -o requirements.lock requirements.txt
  { echo "$header"; cat requirements.lock; } > requirements.lock.tmp && mv requirements.lock.tmp requirements.lock
}

# Sets `flags`, the -c flags of a synth: -c model=MODEL if given, then the rest (no model: the app's default). The CDK
# CLI keeps the last of two values of a key without a word, so MODEL with -c model=/deployment=, or a key given
# twice, is refused, as deploy-local refuses it (local_aws/rehearsal.py).
synth_flags() {
  local model="" args=("$@") keys=" " i item key
  if [ ${#args[@]} -gt 0 ] && [[ ${args[0]} != -* ]]; then model=${args[0]}; args=("${args[@]:1}"); fi
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      -c | --context) item=${args[i + 1]-} ;;
      --context=*) item=${args[i]#--context=} ;;
      *) continue ;;
    esac
    key=${item%%=*}
    if [ -n "$model" ] && { [ "$key" = model ] || [ "$key" = deployment ]; }; then
      printf "error: -c %s: conflicts with MODEL '%s': a synth names its model once\n  fix: drop MODEL or -c %s=\n" \
        "$key" "$model" "$key" >&2
      exit 2
    fi
    if [[ $keys == *" $key "* ]]; then
      printf 'error: -c %s: is given twice\n  fix: give it once\n' "$key" >&2
      exit 2
    fi
    keys+="$key "
  done
  flags=()
  [ -z "$model" ] || flags+=(-c "model=$model")
  [ ${#args[@]} -eq 0 ] || flags+=("${args[@]}")
}

task_help() {
  case "$1" in
    synth) cat <<EOF
usage: ./tasks.sh synth [--dry-run] [MODEL] [-c KEY=VALUE ...]

Install, then run \`cdk synth --quiet\` for one stack (cdk-nag included) into cdk.out/ and summarise it
(resources, outputs, the estimated monthly cost).

  MODEL            a model key or alias (default: $DEFAULT_MODEL, as for npx cdk synth, unless -c model= or
                   -c deployment= is given)
  -c KEY=VALUE     any flag \`cdk deploy\` takes (README.md, "Deploying"), e.g. -c endpoint=chat,
                   -c region=eu-west-1, -c deployment=deployments/chat.yaml (then no MODEL)
  --dry-run        print the cdk command, install and run nothing

examples: ./tasks.sh synth claude-3-sonnet
          ./tasks.sh synth -c deployment=deployments/chat.yaml
EOF
      ;;
    test) cat <<'EOF'
usage: ./tasks.sh test [PYTEST ARGS ...]

Install, then ruff (lint and format check), mypy (strict; its first run builds .mypy_cache, later runs take
seconds) and pytest on every core (pytest-xdist, -n auto). PYTEST ARGS go to pytest, e.g.
  ./tasks.sh test tests/test_planner_cli.py -k overrides
  ./tasks.sh test -n 0        # one process (for a debugger)
EOF
      ;;
    setup-locked) cat <<'EOF'
usage: ./tasks.sh setup-locked

Create .venv if needed and install only the runtime Python packages, from requirements.lock with
pip --require-hashes --no-deps (every file's SHA-256 checked), and the CDK CLI with npm ci (package-lock.json's
integrity hashes). For CI jobs that hold deploy credentials (docs/ci-cd.md); tests need ./tasks.sh setup.
EOF
      ;;
    lock) cat <<'EOF'
usage: ./tasks.sh lock

Regenerate requirements.lock from requirements.txt with constraints.txt's versions and every file's hash
(pip-compile --generate-hashes from pip-tools, installed once into .venv-lock). Reaches PyPI. Run it after
changing requirements.txt or constraints.txt; tests/test_workflows.py fails while the lock and the pins disagree.
EOF
      ;;
    setup) cat <<'EOF'
usage: ./tasks.sh setup

Create .venv and install the pinned Python packages (requirements*.txt, constraints.txt), and the pinned CDK
CLI into node_modules (package-lock.json). Every other task does this first; it is skipped when nothing changed.
EOF
      ;;
    *) return 1 ;;
  esac
}

task=${1:-help}
shift || true
help_only=0
for arg in "$@"; do
  case "$arg" in -h | --help) help_only=1 ;; esac
done
case "$task" in setup | setup-locked | lock | synth | test)
  for arg in "$@"; do
    case "$arg" in -h | --help) task_help "$task"; exit 0 ;; esac
  done ;;
esac
case "$task" in
  setup) setup ;;
  setup-locked) setup_locked ;;
  lock) lock ;;
  synth)
    dry_run=0
    if [ "${1-}" = --dry-run ]; then dry_run=1; shift; fi
    synth_flags "$@"
    if [ "$dry_run" = 1 ]; then echo "cdk synth --quiet ${flags[*]-}" | sed 's/ *$//'; exit 0; fi
    setup
    cdk synth --quiet ${flags[@]+"${flags[@]}"}
    .venv/bin/python scripts/summarize_synth.py cdk.out
    ;;
  deploy-local)
    setup
    .venv/bin/python -m local_aws.rehearsal deploy "$@"
    ;;
  status-local)
    setup
    .venv/bin/python -m local_aws.rehearsal status "$@"
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
    echo "==> ruff check, ruff format --check"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    echo "==> mypy (strict; the first run builds .mypy_cache: 1-2 min)"
    .venv/bin/mypy
    echo "==> pytest on every core (-n auto; the slow end-to-end tests start first)"
    .venv/bin/pytest -n auto "$@"
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
  simulate)
    setup
    .venv/bin/python -m simulator "$@"
    ;;
  help | -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) echo "error: unknown task '$task' (try: ./tasks.sh help)" >&2; exit 2 ;;
esac
