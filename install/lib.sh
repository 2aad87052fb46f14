#!/usr/bin/env bash
# Shared helpers for install.sh, install/test.sh and bench/load.sh: logging, free ports, and a
# project-run PostgreSQL cluster. Sourcing this file has no side effects.

log() { printf '[axonflow] %s\n' "$*" >&2; }
die() { printf '[axonflow] error: %s\n' "$*" >&2; exit 1; }

# A TCP port that is free on 127.0.0.1 right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        die "need root to run: $*"
    fi
}

# Directory holding initdb/pg_ctl/postgres; installs PostgreSQL with apt when none is found.
pg_bindir() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] && command -v initdb >/dev/null 2>&1; then
        dir=$(dirname "$(readlink -f "$(command -v initdb)")")
    fi
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        log "PostgreSQL not found: installing it with apt-get"
        command -v apt-get >/dev/null 2>&1 || die "no PostgreSQL and no apt-get: install PostgreSQL or set DATABASE_URL"
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
        [ -n "$dir" ] || die "PostgreSQL installation failed"
    fi
    printf '%s\n' "$dir"
}

# The account that owns and runs the cluster: postgres when we are root (the server refuses root).
_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        fi
        printf 'postgres\n'
    else
        id -un
    fi
}

_pg_run() {
    local user=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# True when the cluster user can create and use DIR (every parent must be traversable).
pg_dir_usable() {
    local dir=$1 user
    user=$(_pg_user)
    [ "$(id -u)" -ne 0 ] && return 0
    mkdir -p "$dir"
    chown "$user" "$dir"
    _pg_run "$user" test -w "$dir" -a -x "$dir"
}

# Starts (initialising if needed) a cluster in DATA_DIR listening on 127.0.0.1:PORT, then makes sure
# role `axonflow` (superuser: tests create databases) and database `axonflow` exist. Idempotent.
# URL afterwards: postgres://axonflow@127.0.0.1:PORT/axonflow
pg_cluster_start() {
    local data_dir=$1 port=$2 bindir user run_dir
    bindir=$(pg_bindir)
    user=$(_pg_user)
    run_dir="$data_dir.run"
    mkdir -p "$data_dir" "$run_dir"
    if [ "$(id -u)" -eq 0 ]; then chown "$user" "$data_dir" "$run_dir"; fi
    chmod 700 "$data_dir"
    if [ ! -f "$data_dir/PG_VERSION" ]; then
        _pg_run "$user" "$bindir/initdb" -D "$data_dir" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=trust >"$run_dir/initdb.log" 2>&1 \
            || _pg_run "$user" "$bindir/initdb" -D "$data_dir" -U postgres -E UTF8 --locale=C \
                --auth-local=trust --auth-host=trust >"$run_dir/initdb.log" 2>&1 \
            || die "initdb failed: $(tail -n 20 "$run_dir/initdb.log")"
    fi
    if ! _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
        _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" -l "$run_dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $run_dir -c max_connections=300" start >/dev/null \
            || die "PostgreSQL did not start: $(tail -n 20 "$run_dir/postgres.log")"
    fi

    for _ in $(seq 60); do
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        sleep 0.5
    done
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" || die "PostgreSQL is not ready on port $port"
    local psql=("$bindir/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
    if [ "$("${psql[@]}" -Atc "SELECT 1 FROM pg_roles WHERE rolname = 'axonflow'")" != 1 ]; then
        "${psql[@]}" -c "CREATE ROLE axonflow LOGIN SUPERUSER" >/dev/null
    fi
    if [ "$("${psql[@]}" -Atc "SELECT 1 FROM pg_database WHERE datname = 'axonflow'")" != 1 ]; then
        "${psql[@]}" -c "CREATE DATABASE axonflow OWNER axonflow" >/dev/null
    fi
}

# Stops the cluster in DATA_DIR (fast shutdown); harmless when it is not running.
pg_cluster_stop() {
    local data_dir=$1 bindir user
    [ -f "$data_dir/PG_VERSION" ] || return 0
    bindir=$(pg_bindir)
    user=$(_pg_user)
    if _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
        _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
}

# psql from the cluster's bin dir (the client may not be on PATH).
pg_psql() {
    "$(pg_bindir)/psql" "$@"
}
