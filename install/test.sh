#!/usr/bin/env bash
# The test command: everything the tests need, from a machine with only the Rust toolchain and python3.
# 1. PostgreSQL: a throwaway cluster on a free loopback port (apt-installed if missing), removed on exit,
#    unless DATABASE_URL is set (its role must be allowed to CREATE DATABASE).
# 2. .venv with the pinned official openai SDK and pytest (tests/compat/requirements.txt).
# 3. cargo build, cargo test --workspace (unit + black-box tests against fresh databases).
# 4. The compatibility suite (tests/compat) driving the built agent binary.
# Extra arguments are passed to `cargo test` (e.g. ./install/test.sh -- gateway).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

cargo_args=()
if [ "${1:-}" = "--" ]; then shift; fi
cargo_args+=("$@")

started=$(date +%s)
stage() { log "[$(($(date +%s) - started))s] $*"; }

work=$(mktemp -d /tmp/axonflow-test.XXXXXX)
chmod 755 "$work"
cluster_dir=""
cleanup() {
    local status=$?
    if [ -n "$cluster_dir" ]; then pg_cluster_stop "$cluster_dir" || true; fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
    stage "starting a throwaway PostgreSQL cluster"
    cluster_dir="$work/pgdata"
    port=$(free_port)
    pg_cluster_start "$cluster_dir" "$port"
    export DATABASE_URL="postgres://axonflow@127.0.0.1:$port/axonflow"
else
    stage "using DATABASE_URL from the environment"
fi

stage "preparing .venv (tests/compat/requirements.txt)"
requirements="tests/compat/requirements.txt"
if [ ! -x .venv/bin/python ]; then
    rm -rf .venv
    if ! python3 -m venv .venv >/dev/null 2>&1; then
        log "python3 -m venv failed: installing python3-venv"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv
        python3 -m venv .venv
    fi
fi
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$wanted" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
    printf '%s\n' "$wanted" >.venv/.requirements.sha256
fi

stage "cargo build"
cargo build --workspace --bins --examples --locked

stage "cargo test"
cargo test --workspace --locked "${cargo_args[@]}"

stage "compatibility suite (official openai SDK)"
log_dir="$repo/target/compat-logs/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$log_dir"
AXONFLOW_AGENT_BIN="$repo/target/debug/axonflow-agent" \
AXONFLOW_ORCHESTRATOR_BIN="$repo/target/debug/axonflow-orchestrator" \
AXONFLOW_TEST_LOG_DIR="$log_dir" \
    .venv/bin/python -m pytest -q -p no:cacheprovider tests/compat

stage "all tests passed"
