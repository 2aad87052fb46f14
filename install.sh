#!/usr/bin/env bash
# Runs the AxonFlow stack on this machine: the Docker Compose bundle in compose/ (with the OpenTelemetry
# Collector, Tempo, Prometheus and Grafana) where a Docker engine runs, else natively, without Docker.
# See ./install.sh --help.
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
compose_dir="$repo/compose"
compose_env="$compose_dir/.env"
compose_cmd=() # `docker compose` or `docker-compose`, set by find_compose

usage() {
    cat <<'EOF'
Usage: ./install.sh [start|stop|status|db|--help]

  start (default)  With Docker (a running engine and `docker compose` or `docker-compose`), unless
                   AXONFLOW_NATIVE=1: the bundle in compose/ (Postgres, agent, orchestrator, OpenTelemetry
                   Collector, Tempo, Prometheus, Grafana). On the first run compose/.env is made from
                   compose/.env.example with fresh secrets; DEPLOYMENT_MODE=enterprise (environment or
                   compose/.env) adds compose/docker-compose.enterprise.yml. Builds the image, starts the
                   bundle, waits until every service is healthy and prints the URLs (Grafana dashboard:
                   http://localhost:3001/d/decision-mode-traces).
                   Without Docker, natively:
                   PostgreSQL: uses DATABASE_URL when it is set, else runs a project-local cluster
                   (data in .axonflow/pgdata, or as root /var/lib/axonflow-local/<hash>/pgdata when the
                   postgres user cannot reach the repository; installed with apt-get when missing).
                   Then `cargo build --release --bins`, and starts axonflow-orchestrator and axonflow-agent
                   in the background (logs in .axonflow/logs/, pids in .axonflow/run/), waits for
                   GET /health on both and prints the URLs and an example request.
                   Running it again is harmless: a running service is left alone, unless its binary was
                   rebuilt since it started, in which case it is restarted.
                   Then Prometheus, when the `prometheus` program is installed (Debian/Ubuntu package
                   prometheus): on 127.0.0.1:9090, scraping both services, configuration and data in
                   .axonflow/prometheus/. The collector, Tempo and Grafana need Docker.
  stop             stops the Docker bundle (its data stays in Docker volumes), or the agent, the
                   orchestrator, Prometheus and the project-local PostgreSQL cluster
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
  AXONFLOW_PROMETHEUS_PORT       native Prometheus port, default 9090
  Every other variable (OPENAI_BASE_URL, DEPLOYMENT_MODE, ...) reaches both services unchanged.

Docker bundle:
  AXONFLOW_NATIVE=1              run natively even where Docker runs
  compose/.env                   its settings and secrets (ports, publish address, keys); variables of
                                 the environment take precedence over it
  AXONFLOW_COMPOSE_TIMEOUT       seconds to wait for every service to be healthy, default 300
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

# Prints the pid of the Prometheus this script started (the pid file names a live process that reads
# the configuration generated in .axonflow/prometheus/).
prometheus_pid() {
    local pid_file="$state/run/prometheus.pid" pid cmd
    [ -f "$pid_file" ] || return 1
    pid=$(cat "$pid_file" 2>/dev/null) || return 1
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        cmd=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        case $'\n'$cmd$'\n' in
            *$'\n'"--config.file=$state/prometheus/prometheus.yml"$'\n'*) ;;
            *) return 1 ;;
        esac
    fi
    printf '%s\n' "$pid"
}

write_prometheus_config() {
    cat >"$1.tmp" <<YAML
# Generated by ./install.sh (native path): scrapes GET /metrics of the agent and the orchestrator.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: axonflow-agent
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$agent_port"]
        labels:
          service: axonflow-agent
  - job_name: axonflow-orchestrator
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$orchestrator_port"]
        labels:
          service: axonflow-orchestrator
YAML
    mv "$1.tmp" "$1"
}

# Starts (or reuses, with its configuration reloaded) the native Prometheus; prints its port. Status 1
# with a message when the prometheus program is missing or does not start: the stack runs without it.
start_prometheus() {
    local binary pid port dir="$state/prometheus" pid_file="$state/run/prometheus.pid"
    local log_file="$state/logs/prometheus.log" port_file="$state/prometheus.port" i
    if ! binary=$(command -v prometheus); then
        log "Prometheus is not installed (Debian/Ubuntu: apt-get install prometheus): metrics are not recorded;"
        log "GET /metrics on the agent and the orchestrator answers all the same"
        return 1
    fi
    mkdir -p "$dir/data"
    write_prometheus_config "$dir/prometheus.yml"
    if pid=$(prometheus_pid); then
        port=$(cat "$port_file" 2>/dev/null || true)
        kill -HUP "$pid" 2>/dev/null || true
        log "Prometheus already runs (pid $pid): configuration reloaded"
        printf '%s\n' "$port"
        return 0
    fi
    rm -f "$pid_file"
    port=${AXONFLOW_PROMETHEUS_PORT:-9090}
    if ! port_is_free "$port"; then
        local taken=$port
        port=$(free_port)
        log "port $taken is in use by another program: Prometheus moves to $port (or set AXONFLOW_PROMETHEUS_PORT)"
    fi
    printf '==== %s: starting %s on 127.0.0.1:%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$binary" "$port" >>"$log_file"
    local detach=()
    command -v setsid >/dev/null 2>&1 && detach=(setsid)
    # shellcheck disable=SC2016
    "${detach[@]}" nohup bash -c 'echo "$$" >"$0"; exec "$@"' "$pid_file" \
        "$binary" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --storage.tsdb.retention.time=15d --web.listen-address="127.0.0.1:$port" \
        >>"$log_file" 2>&1 </dev/null &
    for i in $(seq 60); do
        if [ -s "$pid_file" ] && ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            log "Prometheus exited; last lines of $log_file:"
            tail -n 20 "$log_file" >&2
            rm -f "$pid_file"
            return 1
        fi
        if http_ok "http://127.0.0.1:$port/-/ready"; then
            printf '%s\n' "$port" >"$port_file"
            log "Prometheus is ready on 127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
            printf '%s\n' "$port"
            return 0
        fi
        [ "$i" -eq 60 ] || sleep 0.5
    done
    log "Prometheus did not answer GET /-/ready on port $port within 30 s (see $log_file): left running"
    printf '%s\n' "$port" >"$port_file"
    return 1
}

stop_prometheus() {
    local pid i
    if ! pid=$(prometheus_pid); then
        rm -f "$state/run/prometheus.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        if [ "$i" -eq 100 ]; then
            log "Prometheus (pid $pid) ignored SIGTERM for 10 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    rm -f "$state/run/prometheus.pid"
    log "stopped Prometheus (pid $pid)"
}

# ---- Docker Compose bundle (compose/) ----

# Status 0 when a Docker engine answers; sets compose_cmd to `docker compose` or `docker-compose`.
# With a reason on stderr when Docker is installed but cannot be used.
find_compose() {
    command -v docker >/dev/null 2>&1 || return 1
    local probe=(docker info)
    command -v timeout >/dev/null 2>&1 && probe=(timeout 20 docker info)
    if ! "${probe[@]}" >/dev/null 2>&1; then
        log "docker is installed but no Docker engine answers (docker info)"
        return 1
    fi
    if docker compose version >/dev/null 2>&1; then
        compose_cmd=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        compose_cmd=(docker-compose)
    else
        log "Docker runs but neither the compose plugin (docker compose) nor docker-compose is installed"
        return 1
    fi
}

# Status 0 when start should bring up the Docker bundle.
use_docker() {
    case ${AXONFLOW_NATIVE:-} in 1 | true | yes) return 1 ;; esac
    if find_compose; then return 0; fi
    command -v docker >/dev/null 2>&1 && log "running natively instead"
    return 1
}

# The value of NAME: from the environment, else from compose/.env, else DEFAULT.
bundle_setting() {
    local name=$1 default=${2:-} value=""
    value=${!name:-}
    if [ -z "$value" ] && [ -f "$compose_env" ]; then
        value=$(sed -n "s/^$name=//p" "$compose_env" | tail -n 1)
    fi
    printf '%s\n' "${value:-$default}"
}

# Runs docker compose on the bundle: compose/.env, the base file, the enterprise overlay when
# DEPLOYMENT_MODE=enterprise.
compose() {
    local files=(-f "$compose_dir/docker-compose.yml")
    if [ "$(bundle_setting DEPLOYMENT_MODE community)" = enterprise ]; then
        files+=(-f "$compose_dir/docker-compose.enterprise.yml")
    fi
    "${compose_cmd[@]}" --env-file "$compose_env" -p "$(bundle_setting COMPOSE_PROJECT_NAME axonflow)" \
        "${files[@]}" "$@"
}

# compose/.env on the first run: compose/.env.example with every empty secret filled (mode 600).
ensure_compose_env() {
    [ -f "$compose_env" ] && return 0
    command -v python3 >/dev/null 2>&1 || die "python3 is required"
    (umask 077 && python3 - "$compose_dir/.env.example" "$compose_env.tmp" <<'PY') || die "could not write $compose_env"
import base64, secrets, sys
fresh = {
    "POSTGRES_PASSWORD": secrets.token_hex(24),
    "AXONFLOW_INTERNAL_SERVICE_SECRET": secrets.token_hex(32),
    "AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    "ADMIN_API_KEY": secrets.token_hex(24),
    "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16),
}
lines = []
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    name, sep, value = line.partition("=")
    if sep and not line.startswith("#") and name in fresh and not value:
        line = f"{name}={fresh[name]}"
    lines.append(line)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("\n".join(lines) + "\n")
PY
    mv "$compose_env.tmp" "$compose_env"
    log "made compose/.env from compose/.env.example with fresh secrets (keep it; the Postgres volume uses its password)"
}

# The address the host reaches a published port on.
published_host() {
    local address
    address=$(bundle_setting AXONFLOW_PUBLISH_ADDRESS 127.0.0.1)
    case $address in 0.0.0.0 | '::' | '[::]' | '') printf '127.0.0.1\n' ;; *) printf '%s\n' "$address" ;; esac
}

# Health of a bundle service from Docker: healthy, starting, unhealthy, running (no healthcheck),
# exited, ... or missing.
container_health() {
    local id
    id=$(compose ps -q "$1" 2>/dev/null | head -n 1) || id=""
    if [ -z "$id" ]; then
        printf 'missing\n'
        return 0
    fi
    docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null ||
        printf 'missing\n'
}

# Waits until every service of the bundle is healthy: Docker's healthchecks, and from the host the
# agent's /health, Grafana's /api/health, Prometheus's /-/ready, Tempo's /ready and the collector's
# health_check extension (their images have no shell for a healthcheck).
wait_bundle_healthy() {
    local host agent_url grafana_url deadline name health pending=() failed="" failed_names=()
    host=$(published_host)
    agent_url="http://$host:$(bundle_setting AXONFLOW_AGENT_PORT 8080)"
    grafana_url="http://$host:$(bundle_setting GRAFANA_PORT 3001)"
    local -A url=(
        [agent]="$agent_url/health"
        [grafana]="$grafana_url/api/health"
        [prometheus]="http://127.0.0.1:$(bundle_setting PROMETHEUS_PORT 9090)/-/ready"
        [tempo]="http://127.0.0.1:$(bundle_setting TEMPO_PORT 3200)/ready"
        [otel-collector]="http://127.0.0.1:13133/"
    )
    pending=(postgres orchestrator agent otel-collector tempo prometheus grafana)
    deadline=$((SECONDS + ${AXONFLOW_COMPOSE_TIMEOUT:-300}))
    log "waiting for every service of the bundle to be healthy (up to ${AXONFLOW_COMPOSE_TIMEOUT:-300} s)"
    while [ "${#pending[@]}" -gt 0 ]; do
        local still=()
        for name in "${pending[@]}"; do
            health=$(container_health "$name")
            case $health in
                exited | dead | missing)
                    failed="$name ($health)"
                    failed_names=("$name")
                    break 2
                    ;;
            esac
            if [ -n "${url[$name]:-}" ]; then
                if [ "$health" != unhealthy ] && [ "$health" != starting ] && http_ok "${url[$name]}"; then
                    log "$name is healthy (${url[$name]})"
                    continue
                fi
            elif [ "$health" = healthy ]; then
                log "$name is healthy"
                continue
            fi
            still+=("$name")
        done
        pending=("${still[@]}")
        [ "${#pending[@]}" -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            failed="${pending[*]} (not healthy within ${AXONFLOW_COMPOSE_TIMEOUT:-300} s)"
            failed_names=("${pending[@]}")
            break
        fi
        sleep 2
    done
    [ -z "$failed" ] && return 0
    log "the bundle did not come up: $failed"
    compose ps >&2 || true
    for name in "${failed_names[@]}"; do
        log "last lines of $name's log:"
        compose logs --tail 30 "$name" >&2 || true
    done
    return 1
}

docker_start() {
    prepare_state
    local name
    for name in "${services[@]}"; do
        if service_pid "$name" >/dev/null; then
            die "the native axonflow-$name runs (./install.sh status): stop the native stack first (./install.sh stop), or keep it with AXONFLOW_NATIVE=1"
        fi
    done
    ensure_compose_env
    local project mode
    project=$(bundle_setting COMPOSE_PROJECT_NAME axonflow)
    mode=$(bundle_setting DEPLOYMENT_MODE community)
    printf '%s\n' "$project" >"$state/compose.project"
    log "starting the Docker Compose bundle (project $project, $mode mode; the first image build takes a while)"
    compose up -d --build
    wait_bundle_healthy || die "the Docker bundle is not healthy (docker compose -p $project ps; ./install.sh stop stops it)"

    local host shown grafana agent
    host=$(published_host)
    shown=$host
    [ "$host" = 127.0.0.1 ] && shown=localhost
    agent="http://$shown:$(bundle_setting AXONFLOW_AGENT_PORT 8080)"
    grafana="http://$shown:$(bundle_setting GRAFANA_PORT 3001)"
    cat <<EOF

AxonFlow is running in Docker (compose project $project, $mode mode).
  agent:         $agent   (OpenAI-compatible base URL: $agent/v1)
  Grafana:       $grafana   (user admin, password GRAFANA_ADMIN_PASSWORD in compose/.env)
  dashboard:     $grafana/d/decision-mode-traces
  Prometheus:    http://localhost:$(bundle_setting PROMETHEUS_PORT 9090)
  Tempo:         http://localhost:$(bundle_setting TEMPO_PORT 3200)   (traces arrive through the OpenTelemetry Collector)
  settings:      compose/.env (secrets, ports, publish address $(bundle_setting AXONFLOW_PUBLISH_ADDRESS 127.0.0.1))
  logs:          ${compose_cmd[*]} -p $project -f compose/docker-compose.yml logs -f

Try it:
  curl -s $agent/health
  curl -s $agent/v1/chat/completions -H 'Content-Type: application/json' -H "X-Provider-Key: \$OPENAI_API_KEY" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}]}'

./install.sh status shows what runs; ./install.sh stop stops it (the data stays in Docker volumes).
EOF
}

# Stops the bundle when install.sh started it or its project has containers; status 1 when it was
# started but Docker cannot be reached now.
docker_stop() {
    local marker="$state/compose.project" project
    if [ ! -f "$marker" ] && [ ! -f "$compose_env" ]; then return 0; fi
    project=$(cat "$marker" 2>/dev/null || bundle_setting COMPOSE_PROJECT_NAME axonflow)
    if ! find_compose 2>/dev/null; then
        if [ -f "$marker" ]; then
            log "the Docker bundle (project $project) was started, but Docker cannot be reached now: stop it with docker compose -p $project down"
            return 1
        fi
        return 0
    fi
    if [ -f "$compose_env" ] && [ -n "$(compose ps -q 2>/dev/null)" ]; then
        compose down
        log "stopped the Docker bundle (project $project; its data stays in Docker volumes)"
    fi
    rm -f "$marker"
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

    # Metrics history: Prometheus from the distribution's package, when installed. The rest of the
    # observability bundle (collector, Tempo, Grafana) comes only with Docker.
    local prometheus_port prometheus_line
    if prometheus_port=$(start_prometheus) && [ -n "$prometheus_port" ]; then
        prometheus_line="http://localhost:$prometheus_port   (scrapes both services' /metrics; data in $state/prometheus/)"
    else
        prometheus_line="not running (see above); GET /metrics on both services"
    fi

    cat <<EOF

AxonFlow is running.
  agent:         http://localhost:$agent_port   (OpenAI-compatible base URL: http://localhost:$agent_port/v1)
  orchestrator:  http://localhost:$orchestrator_port
  listening on:  $bind_address (AXONFLOW_BIND_ADDRESS)
  database:      $(mask_url "$database_url")
  logs:          $state/logs/
  prometheus:    $prometheus_line
  needs Docker:  the OpenTelemetry Collector, Tempo and Grafana (traces and the decisions dashboard) run
                 only in the Docker bundle (compose/): with a Docker engine, ./install.sh starts all of it.
                 Meanwhile OTEL_EXPORTER_OTLP_ENDPOINT can send both services' traces to a collector of
                 your own.

Try it:
  curl -s http://localhost:$agent_port/health
  curl -s http://localhost:$agent_port/v1/chat/completions -H 'Content-Type: application/json' -H "X-Provider-Key: \$OPENAI_API_KEY" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}]}'

./install.sh status shows what runs; ./install.sh stop stops it.
EOF
}

stop() {
    local i status=0
    docker_stop || status=1
    stop_prometheus
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do
        stop_service "${services[i]}"
    done
    stop_local_postgres || status=1
    return "$status"
}

status() {
    local name pid port health dir pg_port
    if [ -f "$state/compose.project" ] && find_compose 2>/dev/null && [ -f "$compose_env" ]; then
        printf 'Docker bundle (project %s):\n' "$(cat "$state/compose.project")"
        compose ps || true
        printf '  dashboard: http://localhost:%s/d/decision-mode-traces\n' "$(bundle_setting GRAFANA_PORT 3001)"
        return 0
    fi
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
    if pid=$(prometheus_pid); then
        port=$(cat "$state/prometheus.port" 2>/dev/null || true)
        health="ready"
        http_ok "http://127.0.0.1:$port/-/ready" || health="not answering GET /-/ready"
        printf 'prometheus             running (pid %s, %s)  http://localhost:%s\n' "$pid" "$health" "$port"
    else
        printf 'prometheus             stopped\n'
    fi
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
    start)
        if use_docker; then
            docker_start
        else
            start
        fi
        ;;
    stop) stop ;;
    status) status ;;
    db) db ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
esac
