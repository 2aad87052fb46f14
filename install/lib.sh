#!/usr/bin/env bash
# Shared helpers for install.sh, install/test.sh and bench/load.sh. Sourcing this file defines functions
# and nothing else (no variables, no side effects).
#
#   log MSG...                      one line on stderr, prefixed "[axonflow]"
#   die MSG...                      log "error: MSG" and exit 1 (only the subshell, inside $(...) or (...))
#   free_port                       prints a TCP port that is free on 127.0.0.1 (the kernel picks it)
#   port_is_free PORT [HOST]        status 0 when HOST:PORT (default 127.0.0.1) can be bound right now
#   http_ok URL                     status 0 when GET URL answers 2xx within 3 s (curl, else python3)
#   cargo_target_dir REPO           prints the absolute cargo target directory of the workspace in REPO
#   pg_bindir                       prints the bin directory (initdb, pg_ctl, psql...) of the newest
#                                   PostgreSQL found in PATH or /usr/lib/postgresql/*/bin; installs the
#                                   `postgresql` apt package (sudo when not root) when there is none
#   pg_dir_usable DIR               status 0 when the account that runs the cluster (postgres as root, else
#                                   the current user) can create and use DIR; as root every existing parent
#                                   of DIR must be searchable by postgres
#   pg_cluster_start DIR PORT [GUC=VALUE...]
#                                   initdb DIR when it is missing or empty (UTF8, trust auth, superuser
#                                   postgres), start it on 127.0.0.1:PORT only (unix socket in DIR.run, log
#                                   in DIR.run/postgres.log), wait until it accepts connections, and ensure
#                                   role axonflow (LOGIN SUPERUSER) and database axonflow exist. Extra
#                                   arguments become `-c GUC=VALUE` server settings (only applied when this
#                                   call starts the server). A server already running on DIR is reused
#                                   (dies if it listens on another port). Quiet unless it fails.
#   pg_cluster_running DIR          status 0 when a postmaster runs on DIR
#   pg_cluster_port DIR             prints the port of the postmaster running on DIR
#   pg_cluster_stop DIR             fast shutdown of the server on DIR; status 0 when nothing runs on DIR
#                                   afterwards (also when nothing ran, or DIR does not exist)
#   pg_url PORT                     prints postgres://axonflow@127.0.0.1:PORT/axonflow
#   pg_psql ARGS...                 psql from the PostgreSQL bin directory
#
# As root the cluster belongs to and runs as the `postgres` system user (created with useradd --system
# when missing), since the server refuses to run as root; otherwise it runs as the current user.

log() { printf '[axonflow] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

free_port() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required"
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port_is_free() {
    python3 - "$1" "${2:-127.0.0.1}" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[2], int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

http_ok() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 3 -o /dev/null "$1" >/dev/null 2>&1
    else
        python3 - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as response:
    sys.exit(0 if 200 <= response.status < 300 else 1)
PY
    fi
}

cargo_target_dir() {
    local repo=$1 dir=""
    dir=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null) || dir=""
    [ -n "$dir" ] || dir=${CARGO_TARGET_DIR:-target}
    case $dir in
        /*) printf '%s\n' "$dir" ;;
        *) printf '%s/%s\n' "$repo" "$dir" ;;
    esac
}

# Runs a command as root: directly, or through sudo when we are not root.
_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed to run: $* (no sudo available)"
    fi
}

_apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_abs_path() {
    case $1 in
        /*) printf '%s\n' "${1%/}" ;;
        *) printf '%s/%s\n' "$PWD" "${1%/}" ;;
    esac
}

# "VERSION<TAB>DIR" for every PostgreSQL bin directory found in PATH and /usr/lib/postgresql/*/bin.
_pg_candidates() {
    local dir version
    {
        if command -v initdb >/dev/null 2>&1; then
            dirname "$(readlink -f "$(command -v initdb)")"
        fi
        for dir in /usr/lib/postgresql/*/bin; do
            [ -d "$dir" ] && printf '%s\n' "$dir"
        done
    } | sort -u | while IFS= read -r dir; do
        if [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ]; then continue; fi
        version=$("$dir/initdb" --version 2>/dev/null | sed -n 's/^[^0-9]*\([0-9][0-9.]*\).*/\1/p')
        [ -n "$version" ] && printf '%s\t%s\n' "$version" "$dir"
    done
}

_pg_newest_bindir() {
    _pg_candidates | sort -t "$(printf '\t')" -k1,1V | tail -n 1 | cut -f 2
}

pg_bindir() {
    local dir
    dir=$(_pg_newest_bindir)
    if [ -z "$dir" ]; then
        log "PostgreSQL is not installed: installing it with apt-get (package postgresql)"
        _apt_install postgresql ||
            die "could not install PostgreSQL (apt-get install postgresql); install it or set DATABASE_URL"
        dir=$(_pg_newest_bindir)
        [ -n "$dir" ] || die "PostgreSQL was installed but no initdb/pg_ctl was found under /usr/lib/postgresql"
    fi
    printf '%s\n' "$dir"
}

# The bin directory matching the major version of an initialised DIR (pg_ctl refuses other majors).
_pg_bindir_for() {
    local data_dir=$1 major version dir
    if [ ! -f "$data_dir/PG_VERSION" ]; then
        pg_bindir
        return
    fi
    major=$(cat "$data_dir/PG_VERSION")
    while IFS="$(printf '\t')" read -r version dir; do
        if [ "${version%%.*}" = "$major" ] || [ "$version" = "$major" ] || [ "${version%.*}" = "$major" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done < <(_pg_candidates)
    log "the cluster in $data_dir was created by PostgreSQL $major, which is not installed (remove the directory to start afresh)"
    return 1
}

_pg_tool() {
    local bindir=$1 name=$2
    if [ -x "$bindir/$name" ]; then
        printf '%s\n' "$bindir/$name"
    elif command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
    else
        log "$name not found (neither in $bindir nor in PATH)"
        return 1
    fi
}

# The account that owns and runs clusters: postgres when we are root (the server refuses root).
_pg_user() {
    if [ "$(id -u)" -ne 0 ]; then
        id -un
        return
    fi
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
            --shell /bin/bash --comment "PostgreSQL administrator" postgres >/dev/null 2>&1 ||
            id postgres >/dev/null 2>&1 || die "could not create the postgres system user"
    fi
    printf 'postgres\n'
}

# Runs a PostgreSQL program as the cluster account, from / (its cwd may be unreadable for it).
_pg_run() {
    local user=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is required to run PostgreSQL as $user"
        (cd / && runuser -u "$user" -- "$@")
    else
        (cd / && "$@")
    fi
}

# mkdir -p where every directory it creates gets mode 755 whatever the umask.
_pg_mkdir() {
    [ -d "$1" ] && return 0
    _pg_mkdir "$(dirname "$1")" || return 1
    mkdir -m 755 "$1" 2>/dev/null || [ -d "$1" ]
}

pg_dir_usable() {
    local dir existing user
    dir=$(_abs_path "$1")
    existing=$dir
    while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
    if [ "$(id -u)" -ne 0 ]; then
        if [ "$existing" = "$dir" ]; then
            [ -d "$dir" ] && [ -w "$dir" ] && [ -x "$dir" ]
        else
            [ -d "$existing" ] && [ -w "$existing" ] && [ -x "$existing" ]
        fi
        return
    fi
    [ -d "$existing" ] || return 1
    # As root we create the missing directories (mode 755) and chown DIR itself to postgres, so postgres
    # only needs to search the deepest existing directory above DIR, and every directory above that.
    [ "$existing" = "$dir" ] && existing=$(dirname "$dir")
    user=$(_pg_user) || return 1
    (cd / && runuser -u "$user" -- test -x "$existing") >/dev/null 2>&1
}

# Single-quotes a string for the shell that pg_ctl runs the server through.
_sh_quote() {
    local q="'\\''"
    printf "'%s'" "${1//\'/$q}"
}

# The directory for the unix socket: DIR.run, or a short directory under /tmp when that path would
# exceed the 107-byte socket path limit.
_pg_socket_dir() {
    local run_dir=$1 port=$2 data_dir=$3 user=$4 dir
    if [ $((${#run_dir} + ${#port} + 16)) -le 100 ]; then
        printf '%s\n' "$run_dir"
        return
    fi
    dir="/tmp/axonflow-pg-$(printf '%s' "$data_dir" | sha256sum | cut -c1-12)"
    if [ ! -d "$dir" ]; then
        mkdir -m 700 "$dir" || return 1
    fi
    if [ "$(id -u)" -eq 0 ]; then chown "$user" "$dir" || return 1; fi
    [ "$(stat -c %U "$dir")" = "$user" ] || {
        log "$dir is not owned by $user"
        return 1
    }
    printf '%s\n' "$dir"
}

_pg_postmaster_pid() {
    local pid
    [ -f "$1/postmaster.pid" ] || return 1
    pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    printf '%s\n' "$pid"
}

pg_cluster_running() {
    local data_dir pid comm
    data_dir=$(_abs_path "$1")
    pid=$(_pg_postmaster_pid "$data_dir") || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A stale postmaster.pid (after a reboot or a container restart) can name an unrelated process.
    if [ -r "/proc/$pid/comm" ]; then
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
        case $comm in postgres* | postmaster*) ;; *) return 1 ;; esac
    fi
    return 0
}

pg_cluster_port() {
    local data_dir port
    data_dir=$(_abs_path "$1")
    pg_cluster_running "$data_dir" || return 1
    port=$(sed -n 4p "$data_dir/postmaster.pid")
    case $port in '' | *[!0-9]*) return 1 ;; esac
    printf '%s\n' "$port"
}

pg_url() {
    printf 'postgres://axonflow@127.0.0.1:%s/axonflow\n' "$1"
}

pg_cluster_start() {
    [ $# -ge 2 ] || die "usage: pg_cluster_start DATA_DIR PORT [GUC=VALUE...]"
    local data_dir port=$2 run_dir user bindir sock_dir log_file running_port opts setting i
    local psql isready exists
    data_dir=$(_abs_path "$1")
    shift 2
    case $port in '' | *[!0-9]*) die "pg_cluster_start: invalid port '$port'" ;; esac
    run_dir="$data_dir.run"
    log_file="$run_dir/postgres.log"
    user=$(_pg_user) || return 1

    if pg_cluster_running "$data_dir"; then
        running_port=$(pg_cluster_port "$data_dir") || die "cannot read the port of the server on $data_dir"
        [ "$running_port" = "$port" ] ||
            die "the PostgreSQL cluster in $data_dir already runs on port $running_port (not $port)"
        bindir=$(_pg_bindir_for "$data_dir") || return 1
    else
        pg_dir_usable "$data_dir" ||
            die "user $user cannot use $data_dir (is every parent directory searchable by $user?)"
        _pg_mkdir "$data_dir" || die "cannot create $data_dir"
        _pg_mkdir "$run_dir" || die "cannot create $run_dir"
        if [ "$(id -u)" -eq 0 ]; then
            if [ "$(stat -c %U "$data_dir")" != "$user" ]; then
                chown -R "$user" "$data_dir" || die "cannot chown $data_dir to $user"
            fi
            chown -R "$user" "$run_dir" || die "cannot chown $run_dir to $user"
        fi
        chmod 700 "$data_dir" || die "cannot chmod $data_dir"

        if [ ! -f "$data_dir/PG_VERSION" ]; then
            if [ -n "$(ls -A "$data_dir")" ]; then
                die "$data_dir is neither empty nor a PostgreSQL data directory"
            fi
            bindir=$(pg_bindir) || return 1
            # C.UTF-8 exists on current Debian/Ubuntu; plain C works everywhere (-E UTF8 either way).
            if ! _pg_run "$user" "$bindir/initdb" -D "$data_dir" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth=trust >"$run_dir/initdb.log" 2>&1; then
                _pg_run "$user" "$bindir/initdb" -D "$data_dir" -U postgres -E UTF8 --locale=C \
                    --auth=trust >"$run_dir/initdb.log" 2>&1 ||
                    die "initdb $data_dir failed: $(tail -n 20 "$run_dir/initdb.log")"
            fi
        else
            bindir=$(_pg_bindir_for "$data_dir") || return 1
        fi

        sock_dir=$(_pg_socket_dir "$run_dir" "$port" "$data_dir" "$user") || die "no directory for the unix socket"
        # The socket directory belongs to this cluster, which is not running: a lock file left there by a
        # crash would stop the server when its pid has been reused (or is a zombie not yet reaped).
        rm -f "$sock_dir/.s.PGSQL.$port" "$sock_dir/.s.PGSQL.$port.lock"
        opts="-c listen_addresses=127.0.0.1 -p $port -k $(_sh_quote "$sock_dir") -c max_connections=300"
        for setting in "$@"; do
            opts="$opts -c $(_sh_quote "$setting")"
        done
        if ! _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" -l "$log_file" -w -t 60 -o "$opts" start \
            >"$run_dir/pg_ctl.log" 2>&1; then
            die "PostgreSQL did not start on 127.0.0.1:$port: $(tail -n 20 "$log_file" 2>/dev/null) $(cat "$run_dir/pg_ctl.log")"
        fi
    fi

    isready=$(_pg_tool "$bindir" pg_isready) || return 1
    psql=$(_pg_tool "$bindir" psql) || return 1
    for i in $(seq 60); do
        "$isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres >/dev/null 2>&1 && break
        [ "$i" -eq 60 ] && die "PostgreSQL is not accepting connections on 127.0.0.1:$port: $(tail -n 20 "$log_file" 2>/dev/null)"
        sleep 0.5
    done

    local -a sql=("$psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
    "${sql[@]}" -c "DO \$\$ BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'axonflow') THEN
            ALTER ROLE axonflow LOGIN SUPERUSER;
        ELSE
            CREATE ROLE axonflow LOGIN SUPERUSER;
        END IF;
    END \$\$" >/dev/null || die "could not create role axonflow on 127.0.0.1:$port"
    exists=$("${sql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'axonflow'") ||
        die "could not query 127.0.0.1:$port"
    if [ "$exists" != 1 ]; then
        "${sql[@]}" -c "CREATE DATABASE axonflow OWNER axonflow" >/dev/null ||
            die "could not create database axonflow on 127.0.0.1:$port"
    fi
}

pg_cluster_stop() {
    local data_dir user bindir pid i
    data_dir=$(_abs_path "$1")
    pg_cluster_running "$data_dir" || return 0
    user=$(_pg_user) || return 1
    if bindir=$(_pg_bindir_for "$data_dir" 2>/dev/null) && [ -n "$bindir" ]; then
        _pg_run "$user" "$bindir/pg_ctl" -D "$data_dir" -m fast -w -t 60 stop >/dev/null 2>&1 && return 0
    fi
    # No usable pg_ctl: SIGINT is the fast shutdown, SIGQUIT the immediate one.
    pid=$(_pg_postmaster_pid "$data_dir") || return 0
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq 120); do
        pg_cluster_running "$data_dir" || return 0
        [ "$i" -eq 100 ] && kill -QUIT "$pid" 2>/dev/null
        sleep 0.5
    done
    log "could not stop the PostgreSQL server on $data_dir (pid $pid)"
    return 1
}

pg_psql() {
    local bindir psql
    bindir=$(pg_bindir) || return 1
    psql=$(_pg_tool "$bindir" psql) || return 1
    "$psql" "$@"
}
