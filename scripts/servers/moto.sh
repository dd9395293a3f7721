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
# background with AMI validation on (unknown AMIs are rejected as by AWS) and
# Lambda in its no-Docker mode (functions are kept, never run),
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

NAME=moto
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

PYTHON="$(command -v python3 || true)"
[ -n "$PYTHON" ] || die "python3 is not installed; moto needs Python 3 with pip"

# Turns off moto's use of Docker for Lambda at the server at $1: moto then
# makes, versions and aliases functions but runs no code (an invoke answers
# a canned result), so the tests need no Docker daemon. The setting is the
# server's, kept across `/moto-api/reset`.
configure() {
    python3 - "$1" <<'PY' || die "moto at $1 refused its configuration"
import json, sys, urllib.request
body = json.dumps({"lambda": {"use_docker": False}}).encode()
req = urllib.request.Request(sys.argv[1] + "/moto-api/config", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=5) as r:
    sys.exit(0 if r.status in (200, 201) else 1)
PY
}

# Whether the server at $1 answers its management API.
answers() { http_ok "$1/moto-api/data.json"; }

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
    if url="$(running_url)"; then
        configure "$url"
        echo "export DAFNCK_MOTO_URL=$url"
        return
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
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.2 "$LOG_FILE"
    configure "$url"
    say "moto is up (pid $pid), Lambda without Docker"
    echo "export DAFNCK_MOTO_URL=$url"
}

stop() {
    stop_pid TERM 10
}

dispatch "$@"
