#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server on 127.0.0.1 for the
# PostgreSQL state store's tests.
#
# Usage:
#   scripts/servers/postgres.sh start   # prints: export DAFNCK_POSTGRES_URL=postgres://dafnck@127.0.0.1:PORT/postgres
#   scripts/servers/postgres.sh stop
#   eval "$(scripts/servers/postgres.sh start)"
#
# `start` installs Debian's postgresql with apt-get when its binaries are
# missing (as root), creates a cluster with `initdb` in a fresh temporary
# directory (as the user `postgres` when run as root, since the server
# refuses to run as root), starts it with `pg_ctl` on a free loopback port,
# with trust authentication for the superuser `dafnck` from 127.0.0.1 only,
# and records its data directory, URL and log under $DAFNCK_SERVERS_DIR
# (default: target/servers/ in the checkout). Starting while it runs prints
# the running server's URL. `stop` stops the server and removes its data
# directory. Only the export line goes to standard output; progress and
# errors go to standard error.
#
# Environment: POSTGRES_PORT (default: a free port), DAFNCK_SERVERS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
DATA_FILE="$DIR/postgres.datadir"
URL_FILE="$DIR/postgres.url"
LOG_FILE="$DIR/postgres.log"
STARTUP_TIMEOUT_SECS=60

NAME=postgres
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

# The newest installed server's bin directory (initdb, pg_ctl, pg_isready).
bin_dir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

ensure_installed() {
    if bin_dir >/dev/null; then
        return
    fi
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and this is not root; install Debian's postgresql (apt-get install postgresql)"
    say "PostgreSQL is missing; installing Debian's postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
    bin_dir >/dev/null || die "postgresql was installed but no /usr/lib/postgresql/*/bin/initdb was found"
}

# Runs a command as the cluster's owner: `postgres` when this is root (the
# server refuses to run as root), else the current user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "there is no user postgres to run the server as (Debian's postgresql package creates it)"
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

running() {
    [ -f "$DATA_FILE" ] || return 1
    local data bin
    data="$(cat "$DATA_FILE")"
    bin="$(bin_dir)" || return 1
    [ -d "$data" ] && as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1
}

start() {
    mkdir -p "$DIR"
    if running; then
        say "already running (data in $(cat "$DATA_FILE")) at $(cat "$URL_FILE")"
        echo "export DAFNCK_POSTGRES_URL=$(cat "$URL_FILE")"
        return
    fi
    if [ -f "$DATA_FILE" ]; then
        say "a server is recorded but not running; cleaning it up"
        stop
        mkdir -p "$DIR"
    fi
    ensure_installed
    local bin data port url
    bin="$(bin_dir)"
    # Under /tmp, not the checkout: every directory above the data must be
    # open to the user postgres.
    data="$(mktemp -d /tmp/dafnck-postgres.XXXXXX)"
    chmod 700 "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    echo "$data" >"$DATA_FILE"
    say "initdb in $data"
    as_owner "$bin/initdb" -D "$data/cluster" -U dafnck --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        >"$LOG_FILE" 2>&1 || { tail -n 20 "$LOG_FILE" >&2; die "initdb failed"; }
    port="${POSTGRES_PORT:-$(free_port)}"
    url="postgres://dafnck@127.0.0.1:$port/postgres"
    echo "$url" >"$URL_FILE"
    say "starting PostgreSQL on 127.0.0.1:$port (log: $data/server.log)"
    # The socket goes in the data directory, not /var/run/postgresql.
    # fsync stays on, so the benchmark's figures are those of a durable
    # server.
    as_owner "$bin/pg_ctl" start -D "$data/cluster" -l "$data/server.log" -w -t "$STARTUP_TIMEOUT_SECS" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=200" \
        >>"$LOG_FILE" 2>&1 || {
        say "PostgreSQL did not start; last lines of its log:"
        tail -n 20 "$data/server.log" >&2 || true
        stop
        exit 1
    }
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 10 || die "PostgreSQL started but does not answer on 127.0.0.1:$port"
    say "PostgreSQL is up at $url"
    echo "export DAFNCK_POSTGRES_URL=$url"
}

stop() {
    if [ -f "$DATA_FILE" ]; then
        local data bin
        data="$(cat "$DATA_FILE")"
        if bin="$(bin_dir)" && [ -d "$data/cluster" ]; then
            as_owner "$bin/pg_ctl" stop -D "$data/cluster" -m immediate -w >/dev/null 2>&1 || true
            say "stopped PostgreSQL (data was in $data)"
        fi
        case "$data" in
            /tmp/dafnck-postgres.*) rm -rf "$data" ;;
        esac
    fi
    rm -f "$DATA_FILE" "$URL_FILE"
}

dispatch "$@"
