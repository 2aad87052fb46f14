#!/usr/bin/env bash
# Load test: starts a fast mock upstream and the release agent, then measures the latency the agent adds
# (agent minus direct-to-mock, p50 and p99) and requests/s at concurrency 1, 8 and 32, once per audit
# mode (compliance: every row committed before the answer; performance: queued and batched), and
# checks that every answered request left exactly one audit row (audit rows/s = agent requests/s).
#
#   ./bench/load.sh                      # throwaway Postgres cluster, 5 s per level, both modes
#   SECONDS_PER_LEVEL=10 CONCURRENCY=1,8,32,64 MODES=performance ./bench/load.sh
#   DATABASE_URL=postgres://... ./bench/load.sh   # use an existing server (fresh databases are created)
#   AGENT_ENV="AXONFLOW_AUDIT_FLUSH_MS=5" ./bench/load.sh
#   MODES=performance,traced ./bench/load.sh   # traced: performance mode exporting every span over
#                                        # OTLP to the mock (which accepts /v1/traces), side by side
#   ./bench/load.sh isolation            # p50/p99 of small requests alone and while 1 MB prompts are in
#                                        # flight (LARGE_WORKERS=2, LARGE_BYTES=1000000, CONCURRENCY=8)
#   ./bench/load.sh proxy                # Proxy Mode (agent -> orchestrator -> mock) next to the OpenAI
#                                        # endpoint (agent -> mock) and the mock alone (CONCURRENCY=1,8)
#   ./bench/load.sh routed               # the OpenAI endpoint without X-Provider-Key: routed through a
#                                        # registered provider (stored sealed key) to the mock
#   ./bench/load.sh stream               # streamed answers with output policies enforcing: added time to
#                                        # the first content event and per event (CONCURRENCY=1,8), then
#                                        # the agent's memory while it holds STREAMS=1000 slow streams
#
# Every process it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

bench=${1:-overhead}
case $bench in overhead | isolation | proxy | routed | stream) ;; *) die "unknown benchmark $bench (overhead, isolation, proxy, routed or stream)" ;; esac
seconds_per_level=${SECONDS_PER_LEVEL:-5}
case $bench in
    isolation) concurrency=${CONCURRENCY:-8} ;;
    proxy | stream) concurrency=${CONCURRENCY:-1,8} ;;
    *) concurrency=${CONCURRENCY:-1,8,32} ;;
esac
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
kek=$(python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())')
modes=${MODES:-compliance,performance}
work=$(mktemp -d /tmp/axonflow-load.XXXXXX)
chmod 755 "$work"
pids=()
cluster_dir=""

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ -n "$cluster_dir" ]; then
        pg_cluster_stop "$cluster_dir" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

log "building release binaries"
cargo build --release --locked -q --bins
cargo build --release --locked -q -p axonflow-agent --example loadgen

if [ -z "${DATABASE_URL:-}" ]; then
    cluster_dir="$work/pgdata"
    port=$(free_port)
    pg_cluster_start "$cluster_dir" "$port"
    admin_url="postgres://axonflow@127.0.0.1:$port/axonflow"
else
    admin_url=$DATABASE_URL
fi
target/release/examples/loadgen mock >"$work/mock.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    mock_url=$(sed -n 's/^mock listening on //p' "$work/mock.out")
    [ -n "$mock_url" ] && break
    sleep 0.1
done
[ -n "${mock_url:-}" ] || die "mock upstream did not start: $(cat "$work/mock.out")"

metric() {
    curl -fsS "http://127.0.0.1:$agent_port/metrics" | sed -n "s/^$1 //p"
}

run_mode() {
    local mode=$1 performance=false database database_url agent_pid rows answered otel=""
    [ "$mode" = performance ] && performance=true
    if [ "$mode" = traced ]; then
        performance=true
        otel="OTEL_EXPORTER_OTLP_ENDPOINT=${mock_url%/v1} OTEL_BSP_SCHEDULE_DELAY=200"
    fi
    database="axonflow_load_${mode}_$$"
    pg_psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null
    database_url="${admin_url%/*}/$database"
    agent_port=$(free_port)
    orchestrator_url=http://127.0.0.1:1
    if [ "$bench" = proxy ] || [ "$bench" = routed ]; then
        orchestrator_port=$(free_port)
        orchestrator_url="http://127.0.0.1:$orchestrator_port"
        env DATABASE_URL="$database_url" PORT="$orchestrator_port" AXONFLOW_BIND_ADDRESS=127.0.0.1 \
            OPENAI_BASE_URL="$mock_url" OPENAI_API_KEY=sk-load-test AXONFLOW_INTERNAL_SERVICE_SECRET="$secret" \
            AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY="$kek" RUST_LOG=warn target/release/axonflow-orchestrator >"$work/orchestrator_$mode.log" 2>&1 &
        pids+=($!)
    fi
    # shellcheck disable=SC2086
    env DATABASE_URL="$database_url" PORT="$agent_port" AXONFLOW_BIND_ADDRESS=127.0.0.1 OPENAI_BASE_URL="$mock_url" \
        ORCHESTRATOR_URL="$orchestrator_url" AXONFLOW_INTERNAL_SERVICE_SECRET="$secret" \
        AXONFLOW_PROVIDER_KEY_ENCRYPTION_KEY="$kek" RUST_LOG=warn AUDIT_FALLBACK_PATH="$work/audit_fallback_$mode.jsonl" AXONFLOW_RATE_LIMIT_RPM=100000000 \
        AGENT_PERFORMANCE_MODE=$performance AXONFLOW_MAX_IN_FLIGHT=4096 \
        AXONFLOW_OUTPUT_POLICIES="$([ "$bench" = stream ] && echo enforce || echo log)" $otel ${AGENT_ENV:-} \
        target/release/axonflow-agent >"$work/agent_$mode.log" 2>&1 &
    agent_pid=$!
    pids+=("$agent_pid")
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$agent_port/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$agent_port/health" >/dev/null || die "agent did not start: $(tail -20 "$work/agent_$mode.log")"
    if [ "$bench" = proxy ] || [ "$bench" = routed ]; then
        for _ in $(seq 100); do
            curl -fsS "http://127.0.0.1:$agent_port/health" | grep -q '"available":true' && break
            sleep 0.1
        done
    fi
    if [ "$bench" = routed ]; then
        curl -fsS -o /dev/null -H 'Content-Type: application/json' "http://127.0.0.1:$agent_port/api/v1/llm-providers" \
            -d "{\"name\":\"mock\",\"type\":\"openai\",\"endpoint\":\"$mock_url\",\"model\":\"gpt-4o-mini\",\"api_key\":\"sk-load-test\"}" ||
            die "could not register the mock as a provider"
    fi

    log "$mode mode, $bench: ${seconds_per_level}s per level, concurrency $concurrency, $(nproc) cores shared by load generator, mock, agent and Postgres"
    if [ "$bench" = proxy ]; then
        target/release/examples/loadgen proxy \
            --direct "$mock_url/chat/completions" \
            --chat "http://127.0.0.1:$agent_port/v1/chat/completions" \
            --proxy "http://127.0.0.1:$agent_port/api/request" \
            --concurrency "$concurrency" --seconds "$seconds_per_level" | tee "$work/result_$mode.txt"
    elif [ "$bench" = stream ]; then
        target/release/examples/loadgen stream \
            --direct "$mock_url/chat/completions" \
            --agent "http://127.0.0.1:$agent_port/v1/chat/completions" \
            --concurrency "$concurrency" --seconds "$seconds_per_level" | tee "$work/result_$mode.txt"
        local streams=${STREAMS:-1000} before during held
        before=$(awk '/^VmRSS/ {print $2}' "/proc/$agent_pid/status")
        target/release/examples/loadgen hold --agent "http://127.0.0.1:$agent_port/v1/chat/completions" \
            --streams "$streams" --seconds 3 >"$work/hold_$mode.txt" 2>&1 &
        local hold_pid=$!
        for _ in $(seq 300); do
            grep -q '^holding' "$work/hold_$mode.txt" && break
            sleep 0.1
        done
        during=$(awk '/^VmRSS/ {print $2}' "/proc/$agent_pid/status")
        held=$(sed -n 's/^holding \([0-9]*\) streams/\1/p' "$work/hold_$mode.txt")
        wait "$hold_pid" || true
        log "memory: agent RSS ${before} kB idle, ${during} kB holding ${held:-0} open streams: $(( (during - before) / ${held:-1} )) kB per stream"
        answered=$(sed -n 's/^answered by the agent: //p' "$work/result_$mode.txt")
        echo "answered by the agent: $((answered + ${held:-0}))" >>"$work/result_$mode.txt"
    elif [ "$bench" = isolation ]; then
        target/release/examples/loadgen isolation \
            --agent "http://127.0.0.1:$agent_port/v1/chat/completions" \
            --concurrency "$concurrency" --seconds "$seconds_per_level" \
            --large-workers "${LARGE_WORKERS:-2}" --large-bytes "${LARGE_BYTES:-1000000}" | tee "$work/result_$mode.txt"
    else
        routed=()
        [ "$bench" = routed ] && routed=(--routed)
        target/release/examples/loadgen run "${routed[@]}" \
            --direct "$mock_url/chat/completions" \
            --agent "http://127.0.0.1:$agent_port/v1/chat/completions" \
            --concurrency "$concurrency" --seconds "$seconds_per_level" | tee "$work/result_$mode.txt"
    fi
    for _ in $(seq 100); do
        [ "$(metric axonflow_audit_queue_depth)" = 0 ] && [ "$(metric axonflow_audit_journal_backlog)" = 0 ] && break
        sleep 0.1
    done
    rows=$(pg_psql -qAt "$database_url" -c "SELECT count(*) FROM llm_call_audits")
    answered=$(sed -n 's/^answered by the agent: //p' "$work/result_$mode.txt" | tail -1)
    log "$mode mode: $answered calls answered, $rows audit rows; journaled $(metric axonflow_audit_rows_journaled_total), queue-full fallbacks $(metric axonflow_audit_queue_full_total)"
    [ "$rows" = "$answered" ] || die "$mode mode: $answered answered calls but $rows audit rows"
    kill "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
}

IFS=',' read -r -a mode_list <<<"$modes"
for mode in "${mode_list[@]}"; do
    case $mode in compliance | performance | traced) run_mode "$mode" ;; *) die "MODES: unknown mode $mode" ;; esac
done
