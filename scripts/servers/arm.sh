#!/usr/bin/env bash
# Starts or stops the project's own Azure Resource Manager server for tests
# (dafnck-arm-fake, a crate of this workspace) on 127.0.0.1. No ARM emulator
# exists on any registry; this one serves the resource types the azure
# provider manages (see dafnck-arm-fake/src/lib.rs and docs/azure.md, "The
# ARM test server").
#
# Usage:
#   scripts/servers/arm.sh start   # prints the export line below
#   scripts/servers/arm.sh stop
#   eval "$(scripts/servers/arm.sh start)"
#
# `start` builds the server with cargo (into $CARGO_TARGET_DIR, default
# target/ in the checkout), runs it in the background on a free port, waits
# until it answers, and prints:
#   export DAFNCK_ARM_URL=http://127.0.0.1:PORT
# Starting while it runs prints the running server's. Only the export line
# goes to standard output; progress and errors go to standard error. Any
# subscription id works and no credentials are checked. Faults are set with
# POST $DAFNCK_ARM_URL/_fake/faults (docs/azure.md).
#
# Environment: ARM_FAKE_PORT (default: a free port), DAFNCK_SERVERS_DIR
# (default: target/servers/ in the checkout), CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
PID_FILE="$DIR/arm.pid"
URL_FILE="$DIR/arm.url"
LOG_FILE="$DIR/arm.log"
STARTUP_TIMEOUT_SECS=30

NAME=arm
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || die "python3 is not installed; this script needs it"

# Whether the server at $1 answers its health endpoint.
answers() { http_ok "$1/_fake/health"; }

# Builds the server; prints the path of its binary.
build() {
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust from https://rustup.rs"
    say "building dafnck-arm-fake"
    (cd "$ROOT" && cargo build --quiet -p dafnck-arm-fake --bin dafnck-arm-fake </dev/null >&2) \
        || die "cargo could not build dafnck-arm-fake"
    local bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/dafnck-arm-fake"
    [ -x "$bin" ] || die "the build left no binary at $bin"
    echo "$bin"
}

start() {
    mkdir -p "$DIR"
    local url
    if url="$(running_url)"; then
        echo "export DAFNCK_ARM_URL=$url"
        return
    fi
    local bin port pid
    bin="$(build)"
    port="${ARM_FAKE_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    say "starting dafnck-arm-fake on $url (log: $LOG_FILE)"
    # setsid: its own session, so it outlives this script and a Ctrl-C in
    # the caller's terminal does not reach it.
    setsid "$bin" --port "$port" </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.1 "$LOG_FILE"
    say "dafnck-arm-fake is up (pid $pid)"
    echo "export DAFNCK_ARM_URL=$url"
}

stop() { stop_pid TERM 10; }

dispatch "$@"
