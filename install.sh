#!/usr/bin/env bash
# Runs the AxonFlow stack on this machine without Docker:
#   ./install.sh [start]   PostgreSQL (project-local cluster unless DATABASE_URL is set), release build,
#                          agent and orchestrator in the background; waits for /health.
#   ./install.sh stop      stops what start started (not an external DATABASE_URL server).
#   ./install.sh status    what runs, and where.
# Running start twice is harmless: running services are left alone, except that a service whose binary
# was rebuilt since it started is restarted.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

state="$repo/.axonflow"
agent_port=${AXONFLOW_AGENT_PORT:-8080}
orchestrator_port=${AXONFLOW_ORCHESTRATOR_PORT:-8081}

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

# Where the project-local cluster lives: .axonflow/pgdata, or (as root, when the postgres user cannot
# reach the repository) a directory under /var/lib named after the repository path.
cluster_dir() {
    if [ -f "$state/pg.dir" ]; then cat "$state/pg.dir"; return; fi
    local dir="$state/pgdata"
    if ! pg_dir_usable "$dir" 2>/dev/null; then
        rmdir "$dir" 2>/dev/null || true
        dir="/var/lib/axonflow-local/$(printf '%s' "$repo" | sha256sum | cut -c1-12)/pgdata"
        mkdir -p "$(dirname "$dir")"
        chmod 755 /var/lib/axonflow-local "$(dirname "$dir")"
        log "the postgres user cannot reach $state; keeping the cluster in $dir"
    fi
    printf '%s\n' "$dir" | tee "$state/pg.dir"
}

pid_alive() {
    local pid_file=$1
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

wait_healthy() {
    local name=$1 port=$2 pid_file=$3 log_file=$4
    for _ in $(seq 120); do
        if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
        if ! pid_alive "$pid_file"; then
            log "$name exited; last lines of $log_file:"
            tail -n 30 "$log_file" >&2
            return 1
        fi
        sleep 0.5
    done
    log "$name is not healthy after 60 s; last lines of $log_file:"
    tail -n 30 "$log_file" >&2
    return 1
}

start_service() {
    local name=$1 port=$2 binary="$repo/target/release/$1"
    local pid_file="$state/run/$name.pid" log_file="$state/logs/$name.log"
    shift 2
    if pid_alive "$pid_file"; then
        if [ "$binary" -nt "$pid_file" ]; then
            log "$name was rebuilt: restarting it"
            stop_service "$name"
        else
            log "$name already runs (pid $(cat "$pid_file"))"
            return 0
        fi
    fi
    env "$@" PORT="$port" "$binary" >>"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
    disown || true
    wait_healthy "$name" "$port" "$pid_file" "$log_file" || die "$name did not start"
    log "$name is healthy on port $port (pid $(cat "$pid_file"), log $log_file)"
}

stop_service() {
    local name=$1 pid_file="$state/run/$1.pid" pid
    if ! pid_alive "$pid_file"; then rm -f "$pid_file"; return 0; fi
    pid=$(cat "$pid_file")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pid_file"
    log "stopped $name"
}

start() {
    command -v cargo >/dev/null 2>&1 || die "cargo is required (install the Rust toolchain)"
    command -v curl >/dev/null 2>&1 || {
        log "installing curl"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
    }
    mkdir -p "$state/run" "$state/logs" "$state/audit"
    local database_url
    if [ -n "${DATABASE_URL:-}" ]; then
        database_url=$DATABASE_URL
        log "using DATABASE_URL from the environment"
    else
        local dir port
        dir=$(cluster_dir)
        if [ -f "$state/pg.port" ]; then port=$(cat "$state/pg.port"); else
            port=$(free_port)
            echo "$port" >"$state/pg.port"
        fi
        pg_cluster_start "$dir" "$port"
        database_url="postgres://axonflow@127.0.0.1:$port/axonflow"
        log "PostgreSQL runs on 127.0.0.1:$port (data in $dir)"
    fi
    log "building release binaries (the first build takes a few minutes)"
    cargo build --release --locked --bins
    start_service axonflow-orchestrator "$orchestrator_port" \
        DATABASE_URL="$database_url" RUST_LOG="${RUST_LOG:-info}"
    start_service axonflow-agent "$agent_port" \
        DATABASE_URL="$database_url" RUST_LOG="${RUST_LOG:-info}" \
        ORCHESTRATOR_URL="${ORCHESTRATOR_URL:-http://127.0.0.1:$orchestrator_port}" \
        AUDIT_FALLBACK_PATH="${AUDIT_FALLBACK_PATH:-$state/audit/audit_fallback.jsonl}"
    cat <<MSG

AxonFlow is running.
  agent:        http://localhost:$agent_port   (OpenAI-compatible: http://localhost:$agent_port/v1)
  orchestrator: http://localhost:$orchestrator_port
  database:     $database_url
  logs:         $state/logs/

Try it:
  curl -s http://localhost:$agent_port/health
  curl -s http://localhost:$agent_port/v1/chat/completions \\
    -H 'Content-Type: application/json' -H "X-Provider-Key: \$OPENAI_API_KEY" \\
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}]}'

Stop it with ./install.sh stop
MSG
}

stop() {
    stop_service axonflow-agent
    stop_service axonflow-orchestrator
    if [ -f "$state/pg.dir" ]; then
        pg_cluster_stop "$(cat "$state/pg.dir")"
        log "stopped the project-local PostgreSQL cluster"
    fi
}

status() {
    local name port
    for name in axonflow-agent axonflow-orchestrator; do
        port=$agent_port
        [ "$name" = axonflow-orchestrator ] && port=$orchestrator_port
        if pid_alive "$state/run/$name.pid"; then
            echo "$name: running (pid $(cat "$state/run/$name.pid")), http://localhost:$port"
        else
            echo "$name: stopped"
        fi
    done
    if [ -f "$state/pg.port" ]; then
        echo "postgres: project-local cluster on 127.0.0.1:$(cat "$state/pg.port") ($(cat "$state/pg.dir" 2>/dev/null))"
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
