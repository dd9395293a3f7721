#!/usr/bin/env bash
# Starts or stops a moto server (a local fake of AWS) on 127.0.0.1 for the
# aws provider's tests.
#
# Usage:
#   scripts/servers/moto.sh start   # prints: export DAFNCK_MOTO_URL=http://127.0.0.1:PORT
#   scripts/servers/moto.sh stop
#   eval "$(scripts/servers/moto.sh start)"
#
# `start` installs moto[server] with pip when it is missing, starts it in the
# background with AMI validation on (unknown AMIs are rejected as by AWS),
# waits until it answers, and records its pid, URL and log under
# $DAFNCK_SERVERS_DIR (default: target/servers/ in the checkout). Starting
# while it runs prints the running server's URL. Only the export line goes
# to standard output; progress and errors go to standard error.
#
# Environment: MOTO_PORT (default: a free port), DAFNCK_SERVERS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
PID_FILE="$DIR/moto.pid"
URL_FILE="$DIR/moto.url"
LOG_FILE="$DIR/moto.log"
# The pip requirement: moto 5 serves the EC2 API the provider uses.
MOTO_REQUIREMENT='moto[server]>=5.1,<6'
STARTUP_TIMEOUT_SECS=60

say() { printf 'moto.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

PYTHON="$(command -v python3 || true)"
[ -n "$PYTHON" ] || die "python3 is not installed; moto needs Python 3 with pip"

running_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Whether the server at $1 answers its management API.
answers() {
    "$PYTHON" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/moto-api/data.json", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The command that runs moto's server, installing moto[server] first when
# neither `moto_server` nor the Python module is there.
server_command() {
    if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
        echo moto_server
        return
    fi
    if ! "$PYTHON" -c 'import moto.server' >/dev/null 2>&1; then
        say "moto_server is missing; installing $MOTO_REQUIREMENT with pip"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check \
            --root-user-action=ignore "$MOTO_REQUIREMENT" </dev/null >&2 \
            || die "pip could not install $MOTO_REQUIREMENT"
        hash -r
        if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
            echo moto_server
            return
        fi
        "$PYTHON" -c 'import moto.server' >/dev/null 2>&1 \
            || die "moto was installed but its server module cannot be imported"
    fi
    echo "$PYTHON -m moto.server"
}

start() {
    mkdir -p "$DIR"
    local pid url
    if pid="$(running_pid)"; then
        url="$(cat "$URL_FILE")"
        if answers "$url"; then
            say "already running (pid $pid) at $url"
            echo "export DAFNCK_MOTO_URL=$url"
            return
        fi
        say "pid $pid is recorded but $url does not answer; restarting"
        stop
        mkdir -p "$DIR"
    fi
    local cmd port
    cmd="$(server_command)"
    port="${MOTO_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    say "starting moto on $url (log: $LOG_FILE)"
    # setsid: the server gets its own session, so it outlives this script
    # and a Ctrl-C in the caller's terminal does not reach it.
    MOTO_ENABLE_AMI_VALIDATION=true setsid $cmd -H 127.0.0.1 -p "$port" \
        </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    local deadline=$((SECONDS + STARTUP_TIMEOUT_SECS))
    until answers "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE" "$URL_FILE"
            say "moto exited during startup; last lines of $LOG_FILE:"
            tail -n 20 "$LOG_FILE" >&2 || true
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "moto did not answer on $url within ${STARTUP_TIMEOUT_SECS}s; last lines of $LOG_FILE:"
            tail -n 20 "$LOG_FILE" >&2 || true
            stop
            exit 1
        fi
        sleep 0.2
    done
    say "moto is up (pid $pid)"
    echo "export DAFNCK_MOTO_URL=$url"
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        say "stopped moto (pid $pid)"
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
