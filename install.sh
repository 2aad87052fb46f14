#!/usr/bin/env bash
# Runs the AxonFlow stack on this machine, without Docker. See ./install.sh --help.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

state="$repo/.axonflow"
agent_port=${AXONFLOW_AGENT_PORT:-8080}
orchestrator_port=${AXONFLOW_ORCHESTRATOR_PORT:-8081}
services=(orchestrator agent) # start order; stop runs it backwards

usage() {
    cat <<'EOF'
Usage: ./install.sh [start|stop|status|db|--help]

  start (default)  PostgreSQL: uses DATABASE_URL when it is set, else runs a project-local cluster
                   (data in .axonflow/pgdata, or as root /var/lib/axonflow-local/<hash>/pgdata when the
                   postgres user cannot reach the repository; installed with apt-get when missing).
                   Then `cargo build --release --bins`, and starts axonflow-orchestrator and axonflow-agent
                   in the background (logs in .axonflow/logs/, pids in .axonflow/run/), waits for
                   GET /health on both and prints the URLs and an example request.
                   Running it again is harmless: a running service is left alone, unless its binary was
                   rebuilt since it started, in which case it is restarted.
  stop             stops the agent, the orchestrator and the project-local PostgreSQL cluster
                   (never a server reached through DATABASE_URL).
  status           what runs, with URLs.
  db               starts only the project-local PostgreSQL cluster and prints
                   `export DATABASE_URL=...` (e.g. eval "$(./install.sh db)"; cargo test).

Environment:
  DATABASE_URL                   external Postgres (its role must be able to run migrations)
  AXONFLOW_AGENT_PORT            agent port, default 8080
  AXONFLOW_ORCHESTRATOR_PORT     orchestrator port, default 8081
  RUST_LOG                       default info
  AXONFLOW_BIND_ADDRESS          address both services listen on; default 127.0.0.1 (this machine only).
                                 Set 0.0.0.0 to serve other machines, behind a firewall or TLS proxy.
  ORCHESTRATOR_URL, AUDIT_FALLBACK_PATH
                                 agent settings; default http://127.0.0.1:<orchestrator port> and
                                 .axonflow/audit/audit_fallback.jsonl
  AXONFLOW_INTERNAL_SERVICE_SECRET
                                 shared by both services; default: made once, kept in
                                 .axonflow/internal_service_secret
  OPENAI_API_KEY                 the orchestrator's server-side key for Proxy Mode (POST /api/request)
  Every other variable (OPENAI_BASE_URL, DEPLOYMENT_MODE, ...) reaches both services unchanged.
EOF
}

service_port() {
    case $1 in
        agent) printf '%s\n' "$agent_port" ;;
        orchestrator) printf '%s\n' "$orchestrator_port" ;;
    esac
}

# Prints the pid of the running service NAME (pid file names a live axonflow-NAME process).
service_pid() {
    local name=$1 pid_file="$state/run/$1.pid" pid cmd
    [ -f "$pid_file" ] || return 1
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    # A stale pid file can name an unrelated process: the command line must mention axonflow-NAME
    # (as the program, or as the script an interpreter runs).
    if [ -r "/proc/$pid/cmdline" ]; then
        cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 2) || return 1
        printf '%s\n' "$cmd" | grep -Eq "(^|/)axonflow-$name\$" || return 1
    fi
    printf '%s\n' "$pid"
}

mask_url() {
    printf '%s\n' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'
}

# The project-local cluster directories: the one in the repository, and the fallback used as root when
# the postgres user cannot reach the repository.
repo_cluster_dir() { printf '%s\n' "$state/pgdata"; }
fallback_cluster_dir() {
    printf '/var/lib/axonflow-local/%s/pgdata\n' "$(printf '%s' "$repo" | sha256sum | cut -c1-12)"
}

choose_cluster_dir() {
    local dir fallback
    dir=$(repo_cluster_dir)
    fallback=$(fallback_cluster_dir)
    if [ -f "$dir/PG_VERSION" ]; then
        printf '%s\n' "$dir"
    elif [ "$(id -u)" -eq 0 ] && [ -f "$fallback/PG_VERSION" ]; then
        printf '%s\n' "$fallback"
    elif pg_dir_usable "$dir"; then
        printf '%s\n' "$dir"
    elif [ "$(id -u)" -eq 0 ]; then
        log "the postgres system user cannot reach $state (a parent directory is not searchable by it):"
        log "keeping the PostgreSQL cluster in $fallback instead"
        printf '%s\n' "$fallback"
    else
        die "cannot create $dir"
    fi
}

# Starts (or reuses) the project-local cluster; prints its DATABASE_URL.
start_local_postgres() {
    local dir port port_file="$state/pg.port"
    dir=$(choose_cluster_dir)
    if port=$(pg_cluster_port "$dir"); then
        : # already running: keep its port
    else
        port=$(cat "$port_file" 2>/dev/null || true)
        case $port in '' | *[!0-9]*) port=$(free_port) ;; esac
        if ! port_is_free "$port"; then
            local taken=$port
            port=$(free_port)
            log "port $taken (saved in $port_file) is in use by another program: PostgreSQL moves to $port"
        fi
    fi
    printf '%s\n' "$port" >"$port_file"
    printf '%s\n' "$dir" >"$state/pg.dir"
    pg_cluster_start "$dir" "$port"
    log "PostgreSQL: 127.0.0.1:$port (data in $dir, log in $dir.run/postgres.log)"
    pg_url "$port"
}

stop_local_postgres() {
    local dir failed=0
    for dir in "$(repo_cluster_dir)" "$(fallback_cluster_dir)"; do
        if pg_cluster_running "$dir"; then
            if pg_cluster_stop "$dir"; then
                log "stopped the project-local PostgreSQL cluster ($dir)"
            else
                log "could not stop the PostgreSQL cluster in $dir"
                failed=1
            fi
        fi
    done
    return "$failed"
}

wait_healthy() {
    local name=$1 port=$2 log_file=$3 pid deadline=$((SECONDS + 60))
    pid=$(cat "$state/run/$name.pid")
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "axonflow-$name exited; last lines of $log_file:"
            tail -n 30 "$log_file" >&2
            return 1
        fi
        if http_ok "http://127.0.0.1:$port/health"; then return 0; fi
        sleep 0.5
    done
    log "axonflow-$name did not answer GET /health on port $port within 60 s; last lines of $log_file:"
    tail -n 30 "$log_file" >&2
    return 1
}

# start_service NAME BINARY [VAR=VALUE...]: the service runs detached (own session), with the caller's
# environment plus the given variables.
start_service() {
    local name=$1 binary=$2 port pid pid_file="$state/run/$1.pid" log_file="$state/logs/$1.log"
    shift 2
    port=$(service_port "$name")
    if pid=$(service_pid "$name"); then
        if [ "$binary" -nt "$pid_file" ]; then
            log "axonflow-$name (pid $pid) runs an older build: restarting it"
            stop_service "$name"
        else
            if http_ok "http://127.0.0.1:$port/health"; then
                log "axonflow-$name already runs (pid $pid) and is healthy: left as is"
            else
                log "axonflow-$name already runs (pid $pid) but GET /health on port $port fails: left as is"
            fi
            return 0
        fi
    fi
    rm -f "$pid_file"
    port_is_free "$port" 0.0.0.0 ||
        die "port $port (axonflow-$name) is in use by another program: free it or set AXONFLOW_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')_PORT"
    printf '==== %s: starting %s on port %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$binary" "$port" >>"$log_file"
    local detach=()
    command -v setsid >/dev/null 2>&1 && detach=(setsid)
    # The child writes its own pid (exec keeps it), so the pid file is right whatever setsid does.
    # shellcheck disable=SC2016
    "${detach[@]}" nohup bash -c 'echo "$$" >"$0"; exec "$@"' "$pid_file" \
        env "$@" PORT="$port" "$binary" >>"$log_file" 2>&1 </dev/null &
    local i
    for i in $(seq 50); do
        [ -s "$pid_file" ] && break
        [ "$i" -eq 50 ] && die "axonflow-$name did not start (see $log_file)"
        sleep 0.1
    done
    wait_healthy "$name" "$port" "$log_file" || die "axonflow-$name did not start"
    log "axonflow-$name is healthy on port $port (pid $(cat "$pid_file"), log $log_file)"
}

stop_service() {
    local name=$1 pid i
    if ! pid=$(service_pid "$name"); then
        rm -f "$state/run/$name.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        if [ "$i" -eq 100 ]; then
            log "axonflow-$name (pid $pid) ignored SIGTERM for 10 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    rm -f "$state/run/$name.pid"
    log "stopped axonflow-$name (pid $pid)"
}

prepare_state() {
    _pg_mkdir "$state" || die "cannot create $state"
    # As root, the postgres user must be able to search .axonflow to reach .axonflow/pgdata.
    if [ "$(id -u)" -eq 0 ]; then chmod go+x "$state"; fi
    mkdir -p "$state/run" "$state/logs" "$state/audit"
}

start() {
    command -v cargo >/dev/null 2>&1 || die "cargo is required: install the Rust toolchain (https://rustup.rs)"
    command -v python3 >/dev/null 2>&1 || die "python3 is required"
    prepare_state
    local name port
    for name in "${services[@]}"; do
        port=$(service_port "$name")
        if ! service_pid "$name" >/dev/null && ! port_is_free "$port" 0.0.0.0; then
            die "port $port (axonflow-$name) is in use by another program: free it or set AXONFLOW_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')_PORT"
        fi
    done

    local database_url
    if [ -n "${DATABASE_URL:-}" ]; then
        database_url=$DATABASE_URL
        log "using DATABASE_URL from the environment: $(mask_url "$database_url")"
    else
        database_url=$(start_local_postgres)
    fi

    log "building the release binaries (cargo build --release --bins; the first build takes a while)"
    cargo build --release --bins
    local bin_dir
    bin_dir="$(cargo_target_dir "$repo")/release"

    # Loopback unless the operator asks otherwise: community mode has no client authentication.
    local bind_address=${AXONFLOW_BIND_ADDRESS:-127.0.0.1}
    # Agent and orchestrator sign their calls to each other (Proxy Mode, forwarded routes) with one
    # secret: the operator's, or one made once and kept in the state directory (mode 600).
    local secret=${AXONFLOW_INTERNAL_SERVICE_SECRET:-}
    if [ -z "$secret" ]; then
        if [ ! -s "$state/internal_service_secret" ]; then
            (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$state/internal_service_secret")
        fi
        secret=$(cat "$state/internal_service_secret")
    fi
    start_service orchestrator "$bin_dir/axonflow-orchestrator" \
        DATABASE_URL="$database_url" RUST_LOG="${RUST_LOG:-info}" AXONFLOW_BIND_ADDRESS="$bind_address" \
        AXONFLOW_INTERNAL_SERVICE_SECRET="$secret" AGENT_URL="${AGENT_URL:-http://127.0.0.1:$agent_port}"
    start_service agent "$bin_dir/axonflow-agent" \
        DATABASE_URL="$database_url" RUST_LOG="${RUST_LOG:-info}" AXONFLOW_BIND_ADDRESS="$bind_address" \
        AXONFLOW_INTERNAL_SERVICE_SECRET="$secret" \
        ORCHESTRATOR_URL="${ORCHESTRATOR_URL:-http://127.0.0.1:$orchestrator_port}" \
        AUDIT_FALLBACK_PATH="${AUDIT_FALLBACK_PATH:-$state/audit/audit_fallback.jsonl}"

    cat <<EOF

AxonFlow is running.
  agent:         http://localhost:$agent_port   (OpenAI-compatible base URL: http://localhost:$agent_port/v1)
  orchestrator:  http://localhost:$orchestrator_port
  listening on:  $bind_address (AXONFLOW_BIND_ADDRESS)
  database:      $(mask_url "$database_url")
  logs:          $state/logs/

Try it:
  curl -s http://localhost:$agent_port/health
  curl -s http://localhost:$agent_port/v1/chat/completions -H 'Content-Type: application/json' -H "X-Provider-Key: \$OPENAI_API_KEY" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}]}'

./install.sh status shows what runs; ./install.sh stop stops it.
EOF
}

stop() {
    local i status=0
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        stop_service "${services[i]}"
    done
    stop_local_postgres || status=1
    return "$status"
}

status() {
    local name pid port health dir pg_port
    for name in "${services[@]}"; do
        port=$(service_port "$name")
        if pid=$(service_pid "$name"); then
            health="healthy"
            http_ok "http://127.0.0.1:$port/health" || health="not answering GET /health"
            printf 'axonflow-%-13s running (pid %s, %s)  http://localhost:%s\n' "$name" "$pid" "$health" "$port"
        else
            printf 'axonflow-%-13s stopped\n' "$name"
        fi
    done
    for dir in "$(repo_cluster_dir)" "$(fallback_cluster_dir)"; do
        if pg_port=$(pg_cluster_port "$dir"); then
            printf 'postgres (local)       running  %s  (data in %s)\n' "$(pg_url "$pg_port")" "$dir"
            return 0
        fi
    done
    if [ -n "${DATABASE_URL:-}" ]; then
        printf 'postgres               DATABASE_URL=%s (external, not managed here)\n' "$(mask_url "$DATABASE_URL")"
    else
        printf 'postgres (local)       stopped\n'
    fi
}

db() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required"
    prepare_state
    local url
    url=$(start_local_postgres)
    printf 'export DATABASE_URL=%s\n' "$url"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    db) db ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
