#!/usr/bin/env bash
# The test command (CI runs it through .ci/run). Needs only the Rust toolchain and python3:
#   1. PostgreSQL: a throwaway cluster on a free loopback port (PostgreSQL is apt-installed if missing),
#      removed on exit, unless DATABASE_URL is set (its role must be allowed to CREATE DATABASE).
#   2. .venv with tests/compat/requirements.txt (reinstalled only when that file changes).
#   3. tests/node/node_modules: node >= 18 and npm (the nodejs and npm apt packages are installed if
#      missing), `npm ci` only when tests/node/package-lock.json changes.
#   4. cargo build --workspace --bins --examples --locked
#   5. cargo test --workspace --locked [ARGS...]
#   6. pytest tests/compat (official openai and axonflow SDKs) against the debug binaries, and the
#      terminal portal driven in tmux (the tmux apt package is installed if missing).
#   7. node --test in tests/node (official openai Node SDK) against the debug binaries.
#   8. pytest tests/observability: the Compose bundle rendered by docker-compose 1.29 and held to the
#      contract, and every PromQL query of grafana/dashboards/ evaluated in a real Prometheus scraping
#      the debug binaries (the docker-compose and prometheus apt packages are installed if missing).
#
# Usage: ./install/test.sh [-- CARGO_TEST_ARGS...]     e.g. ./install/test.sh -- gateway
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

case "${1:-}" in
    -h | --help)
        sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    --) shift ;;
esac
cargo_test_args=("$@")

work=""
cluster_dir=""
summary=()
started=$SECONDS

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [ -n "$cluster_dir" ]; then
        pg_cluster_stop "$cluster_dir" || log "could not stop the throwaway cluster in $cluster_dir"
    fi
    if [ -n "$work" ]; then rm -rf "$work"; fi
    if [ "${#summary[@]}" -gt 0 ]; then
        log "summary:"
        local line
        for line in "${summary[@]}"; do log "  $line"; done
    fi
    if [ "$status" -eq 0 ]; then
        log "all stages passed in $((SECONDS - started))s"
    else
        log "FAILED (exit $status) after $((SECONDS - started))s"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run_stage NAME COMMAND...: runs COMMAND in a subshell with errexit, records "PASS/FAIL NAME (Ns)",
# exits with the command's status when it fails.
run_stage() {
    local name=$1 t0=$SECONDS status
    shift
    log "==> $name"
    set +e
    (
        set -e
        "$@"
    )
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then
        summary+=("PASS  $name ($((SECONDS - t0))s)")
        log "PASS  $name ($((SECONDS - t0))s)"
    else
        summary+=("FAIL  $name ($((SECONDS - t0))s, exit $status)")
        log "FAIL  $name ($((SECONDS - t0))s, exit $status)"
        exit "$status"
    fi
}

# Starts the throwaway cluster in $cluster_dir; writes its port to $work/port. Retries on another port
# when the chosen one was taken between free_port and the server start.
start_throwaway_cluster() {
    local attempt port
    for attempt in 1 2 3; do
        port=$(free_port)
        # fsync off: the cluster is deleted at exit anyway.
        if (pg_cluster_start "$cluster_dir" "$port" fsync=off synchronous_commit=off full_page_writes=off); then
            printf '%s\n' "$port" >"$work/port"
            return 0
        fi
        port_is_free "$port" || {
            log "port $port was taken meanwhile (attempt $attempt); retrying on another port"
            continue
        }
        return 1
    done
    return 1
}

prepare_venv() {
    local requirements="$repo/tests/compat/requirements.txt" venv="$repo/.venv" stamp want version
    [ -f "$requirements" ] || die "$requirements is missing"
    if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >"$work/venv.log" 2>&1; then
            cat "$work/venv.log" >&2
            grep -qi ensurepip "$work/venv.log" || die "python3 -m venv failed"
            log "python3 -m venv failed for lack of ensurepip: installing python3-venv with apt-get"
            version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
            _apt_install python3-venv || _apt_install "python$version-venv" ||
                die "could not install python3-venv"
            rm -rf "$venv"
            python3 -m venv "$venv" || die "python3 -m venv failed"
        fi
    fi
    stamp="$venv/.requirements.sha256"
    want="$(sha256sum "$requirements" | cut -d ' ' -f 1) $("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
    if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
        log ".venv is up to date with tests/compat/requirements.txt"
        return 0
    fi
    rm -f "$stamp"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    printf '%s\n' "$want" >"$stamp"
}

# tmux for tests/compat/test_portal_tmux.py (the portal runs in a detached session): installed with
# apt-get when missing.
ensure_tmux() {
    command -v tmux >/dev/null 2>&1 && return 0
    log "tmux is missing: installing tmux with apt-get"
    _apt_install --no-install-recommends tmux || die "could not install tmux (apt-get install tmux)"
}

run_compat() {
    local target log_dir status
    ensure_tmux
    target=$(cargo_target_dir "$repo")
    [ -x "$target/debug/axonflow-agent" ] || die "$target/debug/axonflow-agent was not built"
    [ -x "$target/debug/axonflow-orchestrator" ] || die "$target/debug/axonflow-orchestrator was not built"
    [ -x "$target/debug/axonflow-portal" ] || die "$target/debug/axonflow-portal was not built"
    log_dir="$target/compat-logs/$(date -u +%Y%m%dT%H%M%SZ)-$$"
    mkdir -p "$log_dir"
    log "compat logs: $log_dir"
    set +e
    AXONFLOW_AGENT_BIN="$target/debug/axonflow-agent" \
        AXONFLOW_PORTAL_BIN="$target/debug/axonflow-portal" \
        AXONFLOW_ORCHESTRATOR_BIN="$target/debug/axonflow-orchestrator" \
        AXONFLOW_MOCK_PROVIDERS_BIN="$target/debug/examples/mock_providers" \
        AXONFLOW_TEST_LOG_DIR="$log_dir" \
        PYTHONDONTWRITEBYTECODE=1 \
        .venv/bin/python -m pytest -q -p no:cacheprovider tests/compat
    status=$?
    set -e
    [ "$status" -ne 5 ] || die "pytest collected no tests in tests/compat"
    return "$status"
}

# Node and npm for tests/node: installed with apt-get when either is missing; node must be 18 or newer.
ensure_node() {
    local major
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        log "node or npm is missing: installing nodejs and npm with apt-get"
        _apt_install nodejs npm || die "could not install nodejs and npm (apt-get install nodejs npm)"
    fi
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || major=0
    [ "${major:-0}" -ge 18 ] ||
        die "tests/node needs node 18 or newer, found $(node --version 2>/dev/null || echo none)"
}

prepare_node_modules() {
    local dir="$repo/tests/node" lock stamp want
    lock="$dir/package-lock.json"
    [ -f "$lock" ] || die "$lock is missing"
    ensure_node
    stamp="$dir/node_modules/.axonflow-package-lock.sha256"
    want="$(sha256sum "$lock" | cut -d ' ' -f 1) $(node --version)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
        log "tests/node/node_modules is up to date with tests/node/package-lock.json"
        return 0
    fi
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    printf '%s\n' "$want" >"$stamp"
}

run_node_tests() {
    local target log_dir pg_dir=""
    target=$(cargo_target_dir "$repo")
    [ -x "$target/debug/axonflow-agent" ] || die "$target/debug/axonflow-agent was not built"
    [ -x "$target/debug/examples/mock_providers" ] || die "$target/debug/examples/mock_providers was not built"
    # The harness creates its database with psql: the one on PATH, else PostgreSQL's bin directory.
    command -v psql >/dev/null 2>&1 || pg_dir=$(pg_bindir)
    log_dir="$target/node-logs/$(date -u +%Y%m%dT%H%M%SZ)-$$"
    mkdir -p "$log_dir"
    log "node test logs: $log_dir"
    cd "$repo/tests/node"
    AXONFLOW_AGENT_BIN="$target/debug/axonflow-agent" \
        AXONFLOW_ORCHESTRATOR_BIN="$target/debug/axonflow-orchestrator" \
        AXONFLOW_MOCK_PROVIDERS_BIN="$target/debug/examples/mock_providers" \
        AXONFLOW_TEST_LOG_DIR="$log_dir" \
        PG_BINDIR="$pg_dir" \
        npm test --silent
}

# docker-compose (renders the Compose bundle without a Docker engine) and Prometheus (evaluates the
# dashboards' queries): installed with apt-get when missing, without recommended packages (which would
# bring a Docker engine and exporters).
ensure_observability_tools() {
    local missing=()
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    if [ -z "${PROMETHEUS_BIN:-}" ] && ! command -v prometheus >/dev/null 2>&1; then missing+=(prometheus); fi
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "${missing[*]} missing: installing with apt-get"
    _apt_install --no-install-recommends "${missing[@]}" ||
        die "could not install ${missing[*]} (apt-get install ${missing[*]})"
}

run_observability() {
    local target log_dir status
    ensure_observability_tools
    target=$(cargo_target_dir "$repo")
    [ -x "$target/debug/axonflow-agent" ] || die "$target/debug/axonflow-agent was not built"
    [ -x "$target/debug/axonflow-orchestrator" ] || die "$target/debug/axonflow-orchestrator was not built"
    log_dir="$target/observability-logs/$(date -u +%Y%m%dT%H%M%SZ)-$$"
    mkdir -p "$log_dir"
    log "observability test logs: $log_dir"
    set +e
    AXONFLOW_AGENT_BIN="$target/debug/axonflow-agent" \
        AXONFLOW_ORCHESTRATOR_BIN="$target/debug/axonflow-orchestrator" \
        AXONFLOW_TEST_LOG_DIR="$log_dir" \
        PROMETHEUS_BIN="${PROMETHEUS_BIN:-$(command -v prometheus)}" \
        PYTHONDONTWRITEBYTECODE=1 \
        .venv/bin/python -m pytest -q -p no:cacheprovider tests/observability
    status=$?
    set -e
    [ "$status" -ne 5 ] || die "pytest collected no tests in tests/observability"
    return "$status"
}

command -v cargo >/dev/null 2>&1 || die "cargo is required: install the Rust toolchain (https://rustup.rs)"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

work=$(mktemp -d /tmp/axonflow-test.XXXXXX)
chmod 755 "$work" # as root, the postgres user must reach $work/pgdata

if [ -z "${DATABASE_URL:-}" ]; then
    cluster_dir="$work/pgdata"
    run_stage "postgres: throwaway cluster" start_throwaway_cluster
    DATABASE_URL=$(pg_url "$(cat "$work/port")")
    export DATABASE_URL
    log "DATABASE_URL=$DATABASE_URL"
else
    export DATABASE_URL
    log "using DATABASE_URL from the environment"
fi

run_stage "python: .venv (tests/compat/requirements.txt)" prepare_venv
run_stage "node: tests/node/node_modules (package-lock.json)" prepare_node_modules
run_stage "cargo build --workspace --bins --examples --locked" \
    cargo build --workspace --bins --examples --locked
run_stage "cargo test --workspace --locked${cargo_test_args[*]:+ ${cargo_test_args[*]}}" \
    cargo test --workspace --locked "${cargo_test_args[@]}"
run_stage "pytest tests/compat (official openai and axonflow SDKs)" run_compat
run_stage "node --test tests/node (official openai Node SDK)" run_node_tests
run_stage "observability: Compose bundle and dashboard queries in Prometheus" run_observability
