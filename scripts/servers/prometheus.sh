#!/usr/bin/env bash
# Starts or stops a Prometheus of our own on 127.0.0.1 for the deployment
# strategies' tests (the Prometheus metric source and metric gates).
#
# Usage:
#   scripts/servers/prometheus.sh start   # prints export lines, see below
#   scripts/servers/prometheus.sh stop
#   eval "$(scripts/servers/prometheus.sh start)"
#
# `start` installs Debian's prometheus with apt-get when it is missing (as
# root), then runs one instance under $DIR/prometheus (its config and its
# TSDB), never the packaged service (left alone, started or not). It scrapes
# every second whatever targets are listed in JSON files in a file-discovery
# directory, which tests write to (one file each; Prometheus notices new and
# changed files within a second). It waits until Prometheus is ready and
# prints:
#   export DAFNCK_PROMETHEUS_URL=http://127.0.0.1:PORT
#   export DAFNCK_PROMETHEUS_TARGETS_DIR=$DIR/prometheus/targets
# A targets file is Prometheus' file_sd format, e.g. targets/mine.json:
#   [{"targets": ["127.0.0.1:8081"], "labels": {"test": "mine"}}]
# scraped as job "dafnck". Only the export lines go to standard output;
# progress and errors go to standard error. `stop` stops it and removes its
# directory.
#
# Environment: PROMETHEUS_PORT (default: a free port), DAFNCK_SERVERS_DIR
# (default: target/servers/ in the checkout).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
HOME_DIR="$DIR/prometheus"
PID_FILE="$DIR/prometheus.pid"
URL_FILE="$DIR/prometheus.url"
LOG_FILE="$DIR/prometheus.log"
STARTUP_TIMEOUT_SECS=60

NAME=prometheus
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

# python3 answers the readiness probe and finds a free port.
command -v python3 >/dev/null 2>&1 || die "python3 is not installed; this script needs it"

# Whether the Prometheus at $1 says it is ready to serve queries.
answers() { http_ok "$1/-/ready"; }

# The prometheus binary, installing Debian's package first when it is
# missing (without recommends: no node exporter). Debian's postinst starts
# the packaged service unless policy-rc.d forbids it; it is not ours either
# way (it listens on :9090, we never use that port unless told to).
ensure_prometheus() {
    local bin
    bin="$(command -v prometheus || true)"
    if [ -z "$bin" ]; then
        [ "$(id -u)" -eq 0 ] || die "prometheus is missing and installing it needs root: apt-get install prometheus"
        command -v apt-get >/dev/null 2>&1 || die "prometheus is missing and there is no apt-get to install it"
        say "prometheus is missing; installing Debian's prometheus with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y --no-install-recommends prometheus </dev/null >&2; then
            say "apt-get install failed; updating the package lists and trying again"
            apt-get update </dev/null >&2 || die "apt-get update failed"
            apt-get install -y --no-install-recommends prometheus </dev/null >&2 \
                || die "apt-get could not install prometheus"
        fi
        hash -r
        bin="$(command -v prometheus || true)"
        [ -n "$bin" ] || die "prometheus was installed but is not on PATH"
    fi
    echo "$bin"
}

exports() {
    echo "export DAFNCK_PROMETHEUS_URL=$1"
    echo "export DAFNCK_PROMETHEUS_TARGETS_DIR=$HOME_DIR/targets"
}

start() {
    mkdir -p "$DIR"
    local bin pid url
    bin="$(ensure_prometheus)"
    if url="$(running_url)"; then
        exports "$url"
        return
    fi
    local port
    port="${PROMETHEUS_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    rm -rf "$HOME_DIR"
    mkdir -p "$HOME_DIR/targets" "$HOME_DIR/data"
    cat >"$HOME_DIR/prometheus.yml" <<CONF
# Written by scripts/servers/prometheus.sh; removed by \`prometheus.sh stop\`.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dafnck
    file_sd_configs:
      - files: ["$HOME_DIR/targets/*.json"]
        refresh_interval: 1s
CONF
    say "starting prometheus on $url (directory: $HOME_DIR)"
    # setsid: its own session, so it outlives this script and a Ctrl-C in
    # the caller's terminal does not reach it.
    setsid "$bin" \
        --config.file="$HOME_DIR/prometheus.yml" \
        --storage.tsdb.path="$HOME_DIR/data" \
        --storage.tsdb.retention.time=1h \
        --web.listen-address="127.0.0.1:$port" \
        </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.2 "$LOG_FILE"
    say "prometheus is up (pid $pid)"
    exports "$url"
}

stop() {
    stop_pid TERM 15
    rm -rf "$HOME_DIR"
}

dispatch "$@"
