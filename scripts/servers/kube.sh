#!/usr/bin/env bash
# Starts or stops the project's own Kubernetes API server for tests
# (dafnck-kube-fake, a crate of this workspace) on 127.0.0.1. No real API
# server (kube-apiserver, kind, k3s, envtest) can be installed where the
# tests run; this one serves the kinds the kubernetes provider manages
# (see dafnck-kube-fake/src/lib.rs and docs/kube-fake.md).
#
# Usage:
#   scripts/servers/kube.sh start   # prints export lines, see below
#   scripts/servers/kube.sh stop
#   eval "$(scripts/servers/kube.sh start)"
#
# `start` builds the server with cargo (into $CARGO_TARGET_DIR, default
# target/ in the checkout), runs it in the background on a free port,
# writes a kubeconfig for it (context `dafnck-fake`, plain HTTP, no
# credentials), waits until it answers, and prints:
#   export DAFNCK_KUBE_URL=http://127.0.0.1:PORT
#   export DAFNCK_KUBECONFIG=$DIR/kube/kubeconfig
# Starting while it runs prints the running server's. Only the export lines
# go to standard output; progress and errors go to standard error. `stop`
# stops it and removes its kubeconfig. Its simulated controllers step every
# KUBE_FAKE_TICK_MS milliseconds (default 100).
#
# Environment: KUBE_FAKE_PORT (default: a free port), KUBE_FAKE_TICK_MS,
# DAFNCK_SERVERS_DIR (default: target/servers/ in the checkout),
# CARGO_TARGET_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
HOME_DIR="$DIR/kube"
PID_FILE="$DIR/kube.pid"
URL_FILE="$DIR/kube.url"
LOG_FILE="$DIR/kube.log"
KUBECONFIG_FILE="$HOME_DIR/kubeconfig"
STARTUP_TIMEOUT_SECS=30

NAME=kube
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || die "python3 is not installed; this script needs it"

# Whether the server at $1 answers discovery.
answers() { http_ok "$1/version"; }

# Builds the server; prints the path of its binary.
build() {
    command -v cargo >/dev/null 2>&1 || die "cargo is not installed; install Rust from https://rustup.rs"
    say "building dafnck-kube-fake"
    (cd "$ROOT" && cargo build --quiet -p dafnck-kube-fake --bin dafnck-kube-fake </dev/null >&2) \
        || die "cargo could not build dafnck-kube-fake"
    local bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/dafnck-kube-fake"
    [ -x "$bin" ] || die "the build left no binary at $bin"
    echo "$bin"
}

exports() {
    echo "export DAFNCK_KUBE_URL=$1"
    echo "export DAFNCK_KUBECONFIG=$KUBECONFIG_FILE"
}

start() {
    mkdir -p "$DIR"
    local pid url
    if pid="$(running_pid)"; then
        url="$(cat "$URL_FILE")"
        if answers "$url" && [ -f "$KUBECONFIG_FILE" ]; then
            say "already running (pid $pid) at $url"
            exports "$url"
            return
        fi
        say "pid $pid is recorded but $url does not answer; restarting"
        stop
        mkdir -p "$DIR"
    fi
    local bin port
    bin="$(build)"
    port="${KUBE_FAKE_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    mkdir -p "$HOME_DIR"
    say "starting dafnck-kube-fake on $url (log: $LOG_FILE)"
    # setsid: its own session, so it outlives this script and a Ctrl-C in
    # the caller's terminal does not reach it.
    setsid "$bin" --port "$port" --tick-ms "${KUBE_FAKE_TICK_MS:-100}" \
        --kubeconfig "$KUBECONFIG_FILE" </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.1 "$LOG_FILE"
    say "dafnck-kube-fake is up (pid $pid)"
    exports "$url"
}

stop() {
    stop_pid TERM 10
    rm -rf "$HOME_DIR"
}

dispatch "$@"
