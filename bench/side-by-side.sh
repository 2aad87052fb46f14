#!/usr/bin/env bash
# Side by side, in one run: what the agent adds to an LLM call next to the floor any Rust gateway pays
# on this stack. An external load generator (oha) drives, in turn and at each load level:
#   mock       nginx answering a fixed chat completion (its own process): the direct call
#   forwarder  bench/forwarder, a bare axum + reqwest forwarder to the mock (no policy, audit or log)
#   agent      the release agent in performance mode (or the mode named), every system policy on,
#              audit on, default log level, forwarding to the mock with the caller's key
# with a 1.5 KB two-message request, at: one request at a time back to back; one at a time paced at
# 100 req/s (an idle core sleeps between calls, as at a user's moderate load); 200 req/s over 8
# connections; and as fast as 32 connections go. "Added" is the target's latency minus the mock's at
# the same level. Then pre-check and decide at 200 req/s; each agent next to an adversary (one
# request at a time at 50 req/s while two connections send 30 KB texts dense with quotes, the
# costliest to judge); the agent's CPU per request at saturation (Postgres' too), and its memory
# idle, under load and over a soak of SOAK_REQUESTS requests (from the end of its first tenth, a
# warm-up, to its end).
# Every answered agent call must leave exactly one audit row.
#
#   ./bench/side-by-side.sh                         # 10 s per level, 1M-request soak
#   SECONDS_PER_LEVEL=5 SOAK_REQUESTS=0 ./bench/side-by-side.sh
#   MODES=performance,compliance ./bench/side-by-side.sh   # one agent column per audit mode
#   MOCK=loadgen ./bench/side-by-side.sh            # the in-repo mock (own process) instead of nginx
#   BASELINE_AGENT=/path/to/axonflow-agent ./bench/side-by-side.sh   # another build of the agent
#                                                   # (performance mode) as one more column: before/after
#   ROUNDS=3 ./bench/side-by-side.sh                # every level, pre-check and decide 3 times over;
#                                                   # each figure is the median of the rounds
#
# Needs oha (`cargo install oha --locked`; OHA=/path/to/oha) and, for MOCK=nginx (the default when
# it is installed), nginx (Debian: nginx-light). Every process listens on 127.0.0.1 and is stopped
# on exit.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=install/lib.sh
source "$repo/install/lib.sh"

seconds=${SECONDS_PER_LEVEL:-10}
rounds=${ROUNDS:-1}
soak_requests=${SOAK_REQUESTS:-1000000}
modes=${MODES:-performance}
oha=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
[ -x "$oha" ] || die "oha not found: cargo install oha --locked (or OHA=/path/to/oha)"
nginx=$(command -v nginx || echo /usr/sbin/nginx)
mock_kind=${MOCK:-$([ -x "$nginx" ] && echo nginx || echo loadgen)}
case $mock_kind in nginx | loadgen) ;; *) die "MOCK: nginx or loadgen" ;; esac
[ "$mock_kind" = loadgen ] || [ -x "$nginx" ] || die "nginx not found (Debian: apt-get install nginx-light), or MOCK=loadgen"

work=$(mktemp -d /tmp/axonflow-side.XXXXXX)
chmod 755 "$work"
pids=()
cluster_dir=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -z "$cluster_dir" ] || pg_cluster_stop "$cluster_dir" || true
    rm -rf "$work"
}
trap cleanup EXIT

log "building release binaries"
cargo build --release --locked -q -p axonflow-agent -p axonflow-bench-forwarder --bins
[ "$mock_kind" = nginx ] || cargo build --release --locked -q -p axonflow-agent --example loadgen

key=sk-bench-side-by-side
completion='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Orders usually arrive within three to five working days. Your confirmation email has a tracking link; if it does not show movement by Friday, reply here and we will open a claim with the carrier."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":312,"completion_tokens":41,"total_tokens":353}}'

# The request: a system prompt and a user turn of ordinary support text, 1.5 KB in all.
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
system = ("You are the support assistant of an outdoor clothing shop. Answer in two or three short sentences, "
          "in a friendly tone. You can explain delivery times, returns, exchanges, sizing and care instructions. "
          "Never promise refunds or discounts yourself: offer to hand the conversation to a colleague instead. "
          "If a question is about something other than the shop, say politely that you can only help with orders. "
          "Standard delivery takes three to five working days, express delivery one to two. Returns are free within "
          "thirty days; exchanges can be made in any of our shops or by post with the prepaid label in the parcel.")
user = ("Hi! I ordered a blue waterproof jacket last Tuesday together with two pairs of hiking socks, and the "
        "order page still says it is being prepared. The confirmation said it would ship within two days. "
        "I am leaving for a walking holiday in the mountains at the end of next week and I really need the "
        "jacket by then. Could you tell me what the usual delivery time is at the moment, whether the order "
        "can be sent by express instead, and how I can follow the parcel once it has left your warehouse? "
        "Also, if the jacket turns out to be too small, can I exchange it for the next size up in a shop, or "
        "does it have to go back by post? Thanks a lot for your help, and sorry for all the questions at once.")
chat = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": 200, "temperature": 0.2}
body = json.dumps(chat, separators=(",", ":"))
assert 1400 <= len(body) <= 1700, len(body)
open(f"{work}/chat.json", "w").write(body)
open(f"{work}/pre-check.json", "w").write(json.dumps({"client_id": "bench", "user_token": "bench-user", "query": user, "context": {"model": "gpt-4o-mini"}}))
open(f"{work}/decide.json", "w").write(json.dumps({"stage": "llm", "query": user}))
# The adversary's request: 30 KB of `' or '` in one message, the costliest text to judge measured
# (each quote judges what follows it), under the 32 KB a caller may evaluate inline.
adversary = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ("' or '" * 5000)[:30000]}]}
open(f"{work}/adversary.json", "w").write(json.dumps(adversary))
EOF

cluster_dir="$work/pgdata"
pg_port=$(free_port)
pg_cluster_start "$cluster_dir" "$pg_port"
admin_url="postgres://axonflow@127.0.0.1:$pg_port/axonflow"

mock_port=$(free_port)
if [ "$mock_kind" = nginx ]; then
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_max_body_size 1m;
    server {
        listen 127.0.0.1:$mock_port;
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '$completion';
        }
    }
}
EOF
    "$nginx" -c "$work/nginx/nginx.conf" -p "$work/nginx" >"$work/mock.out" 2>&1 &
    mock_pid=$!
else
    PORT=$mock_port target/release/examples/loadgen mock >"$work/mock.out" 2>&1 &
    mock_pid=$!
fi
pids+=("$mock_pid")
mock_url="http://127.0.0.1:$mock_port/v1"
for _ in $(seq 50); do
    curl -fsS -o /dev/null -H 'Content-Type: application/json' -d @"$work/chat.json" "$mock_url/chat/completions" 2>/dev/null && break
    sleep 0.1
done
curl -fsS -o /dev/null -H 'Content-Type: application/json' -d @"$work/chat.json" "$mock_url/chat/completions" ||
    die "mock did not answer: $(cat "$work/mock.out")"

forwarder_port=$(free_port)
UPSTREAM="$mock_url" PORT=$forwarder_port target/release/bare-forwarder >"$work/forwarder.out" 2>&1 &
forwarder_pid=$!
pids+=("$forwarder_pid")
forwarder_url="http://127.0.0.1:$forwarder_port/v1"

secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
declare -A agent_pid agent_url agent_db
IFS=',' read -r -a mode_list <<<"$modes"
for mode in "${mode_list[@]}"; do
    case $mode in performance | compliance) ;; *) die "MODES: performance or compliance, not $mode" ;; esac
done
if [ -n "${BASELINE_AGENT:-}" ]; then
    [ -x "$BASELINE_AGENT" ] || die "BASELINE_AGENT=$BASELINE_AGENT is not an executable"
    mode_list+=(baseline)
    modes="$modes,baseline"
fi
for mode in "${mode_list[@]}"; do
    database="axonflow_side_${mode}_$$"
    pg_psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null
    agent_db[$mode]="${admin_url%/*}/$database"
    port=$(free_port)
    binary=target/release/axonflow-agent
    [ "$mode" = baseline ] && binary=$BASELINE_AGENT
    # shellcheck disable=SC2086
    env DATABASE_URL="${agent_db[$mode]}" PORT="$port" AXONFLOW_BIND_ADDRESS=127.0.0.1 OPENAI_BASE_URL="$mock_url" \
        ORCHESTRATOR_URL=http://127.0.0.1:1 AXONFLOW_INTERNAL_SERVICE_SECRET="$secret" \
        AUDIT_FALLBACK_PATH="$work/audit_fallback_$mode.jsonl" AXONFLOW_RATE_LIMIT_RPM=100000000 \
        AGENT_PERFORMANCE_MODE=$([ "$mode" = compliance ] && echo false || echo true) AXONFLOW_MAX_IN_FLIGHT=4096 \
        ${AGENT_ENV:-} "$binary" >"$work/agent_$mode.log" 2>&1 &
    agent_pid[$mode]=$!
    pids+=("${agent_pid[$mode]}")
    agent_url[$mode]="http://127.0.0.1:$port"
done
for mode in "${mode_list[@]}"; do
    for _ in $(seq 100); do
        curl -fsS "${agent_url[$mode]}/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fsS "${agent_url[$mode]}/health" >/dev/null || die "agent ($mode) did not start: $(tail -20 "$work/agent_$mode.log")"
done
for _ in $(seq 50); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d @"$work/chat.json" \
        "$forwarder_url/chat/completions" 2>/dev/null && break
    sleep 0.1
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system, clock ticks) of a process, or of the postmaster and its backends.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local total=0 pid postmaster
    postmaster=$(pgrep -f "postgres -D $cluster_dir" | head -1)
    for pid in $postmaster $(pgrep -P "$postmaster"); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# One oha run: name, URL, body file, connections, rate (0: as fast as it goes), seconds.
run() {
    local name=$1 url=$2 body=$3 connections=$4 rate=$5 duration=$6 pid=${7:-} pace=()
    [ "$rate" = 0 ] || pace=(-q "$rate")
    local cpu_before=0 pg_before
    [ -z "$pid" ] || cpu_before=$(cpu_ticks "$pid")
    pg_before=$(pg_ticks)
    "$oha" --no-tui --output-format json -w -z "${duration}s" -c "$connections" "${pace[@]}" -m POST \
        -H "Authorization: Bearer $key" -H "X-Provider-Key: $key" -T application/json -D "$body" "$url" >"$work/$name.json"
    local cpu_after=0
    [ -z "$pid" ] || cpu_after=$(cpu_ticks "$pid")
    printf '{"cpu_ticks": %s, "pg_ticks": %s, "rss_kb": %s}\n' "$((cpu_after - cpu_before))" "$(($(pg_ticks) - pg_before))" \
        "$([ -z "$pid" ] && echo 0 || rss_kb "$pid")" >"$work/$name.cpu.json"
}

levels=("c1:1:0" "paced:1:100" "r200:8:200" "sat:32:0")
for mode in "${mode_list[@]}"; do
    echo "{\"rss_idle_kb\": $(rss_kb "${agent_pid[$mode]}")}" >"$work/agent_$mode.idle.json"
done
# A short warm-up of every target so that pools and caches are filled before anything is timed.
run warm_mock "$mock_url/chat/completions" "$work/chat.json" 8 0 1
run warm_forwarder "$forwarder_url/chat/completions" "$work/chat.json" 8 0 1
for mode in "${mode_list[@]}"; do
    run "warm_agent_$mode" "${agent_url[$mode]}/v1/chat/completions" "$work/chat.json" 8 0 1
done
for round in $(seq "$rounds"); do
    # Rounds after the first are prefixed; the table takes each figure's median over the rounds.
    prefix=$([ "$round" = 1 ] || echo "r${round}_")
    [ "$rounds" = 1 ] || log "round $round of $rounds"
    for level in "${levels[@]}"; do
        IFS=: read -r name connections rate <<<"$level"
        log "level $name: $connections connection(s), $([ "$rate" = 0 ] && echo 'as fast as they go' || echo "$rate req/s"), ${seconds}s per target"
        run "${prefix}${name}_mock" "$mock_url/chat/completions" "$work/chat.json" "$connections" "$rate" "$seconds" "$mock_pid"
        run "${prefix}${name}_forwarder" "$forwarder_url/chat/completions" "$work/chat.json" "$connections" "$rate" "$seconds" "$forwarder_pid"
        for mode in "${mode_list[@]}"; do
            run "${prefix}${name}_agent_$mode" "${agent_url[$mode]}/v1/chat/completions" "$work/chat.json" "$connections" "$rate" "$seconds" "${agent_pid[$mode]}"
        done
    done
    for mode in "${mode_list[@]}"; do
        log "pre-check and decide ($mode) at 200 req/s over 8 connections"
        run "${prefix}precheck_agent_$mode" "${agent_url[$mode]}/api/policy/pre-check" "$work/pre-check.json" 8 200 "$seconds" "${agent_pid[$mode]}"
        run "${prefix}decide_agent_$mode" "${agent_url[$mode]}/api/v1/decide" "$work/decide.json" 8 200 "$seconds" "${agent_pid[$mode]}"
        log "agent ($mode) next to an adversary: one request at a time at 50 req/s while 2 connections send 30 KB texts dense with quotes"
        "$oha" --no-tui --output-format json -w -z "$((seconds + 1))s" -c 2 -m POST -H "Authorization: Bearer $key" \
            -H "X-Provider-Key: $key" -T application/json -D "$work/adversary.json" "${agent_url[$mode]}/v1/chat/completions" \
            >"$work/${prefix}adversary_on_$mode.json" &
        adversary_pid=$!
        sleep 0.5
        run "${prefix}guarded_agent_$mode" "${agent_url[$mode]}/v1/chat/completions" "$work/chat.json" 1 50 "$seconds" "${agent_pid[$mode]}"
        wait "$adversary_pid"
    done
done
soak_mode=${mode_list[0]}
if [ "$soak_requests" -gt 0 ]; then
    # The first tenth warms the allocator and the pools up; memory is compared over the rest.
    warmup=$((soak_requests / 10))
    log "soak: $soak_requests requests over 32 connections to the agent ($soak_mode), memory measured after the first $warmup"
    soak_part() {
        "$oha" --no-tui --output-format json -n "$1" -c 32 -m POST -H "Authorization: Bearer $key" \
            -H "X-Provider-Key: $key" -T application/json -D "$work/chat.json" "${agent_url[$soak_mode]}/v1/chat/completions" >"$2"
    }
    if [ "$warmup" -gt 0 ]; then soak_part "$warmup" "$work/soak_warmup.json"; fi
    echo "{\"rss_before_kb\": $(rss_kb "${agent_pid[$soak_mode]}"), \"warmup\": $warmup}" >"$work/soak.before.json"
    soak_part "$((soak_requests - warmup))" "$work/soak.json"
    echo "{\"rss_after_kb\": $(rss_kb "${agent_pid[$soak_mode]}")}" >"$work/soak.after.json"
fi

# Every answered chat call left one audit row (the queue drained first).
for mode in "${mode_list[@]}"; do
    for _ in $(seq 100); do
        depth=$(curl -fsS "${agent_url[$mode]}/metrics" | sed -n 's/^axonflow_audit_queue_depth //p')
        [ "$depth" = 0 ] && break
        sleep 0.1
    done
    rows=$(pg_psql -qAt "${agent_db[$mode]}" -c "SELECT count(*) FROM llm_call_audits WHERE source = 'openai_gateway'")
    answered=$(python3 - "$work" "$mode" "$soak_mode" <<'EOF'
import glob, json, os, sys
work, mode, soak_mode = sys.argv[1:]
files = glob.glob(f"{work}/*_agent_{mode}.json")
for part in ("soak_warmup", "soak"):
    if mode == soak_mode and os.path.exists(f"{work}/{part}.json"):
        files.append(f"{work}/{part}.json")
total = 0
for path in files:
    if "precheck" in path or "decide" in path:
        continue
    total += json.load(open(path))["statusCodeDistribution"].get("200", 0)
# The adversary's calls are refused by policy, and audited like every decision.
for path in glob.glob(f"{work}/*adversary_on_{mode}.json"):
    total += sum(json.load(open(path))["statusCodeDistribution"].values())
print(total)
EOF
    )
    echo "{\"rows\": $rows, \"answered\": $answered}" >"$work/audit_$mode.json"
done

python3 "$repo/bench/side_by_side_table.py" "$work" "$modes" "$soak_mode" "$(nproc)" "$mock_kind" "$rounds"
