#!/usr/bin/env bash
# Starts or stops Azurite (Microsoft's Azure Storage emulator), its Blob
# service only, on 127.0.0.1 for the Azure Blob state store's tests.
#
# Usage:
#   scripts/servers/azurite.sh start   # prints export lines:
#       export DAFNCK_AZURITE_URL=http://127.0.0.1:PORT/devstoreaccount1
#       export DAFNCK_AZURITE_ACCOUNT=devstoreaccount1
#       export DAFNCK_AZURITE_KEY=...            (the emulator's well-known key)
#       export DAFNCK_AZURITE_CONNECTION_STRING=...
#   scripts/servers/azurite.sh stop
#   eval "$(scripts/servers/azurite.sh start)"
#
# `start` installs npm's azurite@3.35.0 under $DAFNCK_TOOLS_DIR (default:
# target/tools/ in the checkout) when it is missing (later releases need
# Node.js 21 or newer), starts its Blob service in the background with its
# data in a fresh temporary folder and without the API version check (the
# Rust SDK speaks a newer API version than this release knows), waits
# until it answers, and records its pid, URL and log under
# $DAFNCK_SERVERS_DIR (default: target/servers/). Starting while it runs
# prints the running server's lines. Only the export lines go to standard
# output; `stop` also deletes the data folder.
#
# Environment: AZURITE_PORT (default: a free port), DAFNCK_TOOLS_DIR,
# DAFNCK_SERVERS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
TOOLS="${DAFNCK_TOOLS_DIR:-$ROOT/target/tools}/azurite"
PID_FILE="$DIR/azurite.pid"
URL_FILE="$DIR/azurite.url"
LOG_FILE="$DIR/azurite.log"
DATA_FILE="$DIR/azurite.data"
AZURITE_PACKAGE='azurite@3.35.0'
STARTUP_TIMEOUT_SECS=60
# The emulator's one account and its key, published in Azurite's README
# (the same in every installation; not a secret).
ACCOUNT=devstoreaccount1
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

NAME=azurite
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

# Whether the Blob service at $1 answers (an unsigned request is refused,
# which is an answer).
answers() { http_answers "$1?comp=list"; }

# The path of azurite-blob, installing the npm package first when needed.
azurite_blob() {
    local bin="$TOOLS/node_modules/.bin/azurite-blob"
    if [ ! -x "$bin" ]; then
        command -v npm >/dev/null 2>&1 || die "npm is missing; Azurite runs on Node.js (18 or newer)"
        say "installing $AZURITE_PACKAGE with npm under $TOOLS"
        mkdir -p "$TOOLS"
        npm install --silent --no-audit --no-fund --prefix "$TOOLS" "$AZURITE_PACKAGE" </dev/null >&2 \
            || die "npm could not install $AZURITE_PACKAGE"
        [ -x "$bin" ] || die "$AZURITE_PACKAGE was installed but $bin is not there"
    fi
    echo "$bin"
}

exports() {
    echo "export DAFNCK_AZURITE_URL=$1"
    echo "export DAFNCK_AZURITE_ACCOUNT=$ACCOUNT"
    echo "export DAFNCK_AZURITE_KEY='$KEY'"
    echo "export DAFNCK_AZURITE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$1;'"
}

start() {
    mkdir -p "$DIR"
    local pid url
    if url="$(running_url)"; then
        exports "$url"
        return
    fi
    local bin port data
    bin="$(azurite_blob)"
    port="${AZURITE_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port/$ACCOUNT"
    data="$(mktemp -d "${TMPDIR:-/tmp}/dafnck-azurite.XXXXXX")"
    echo "$data" >"$DATA_FILE"
    say "starting Azurite's Blob service on $url (data: $data, log: $LOG_FILE)"
    # setsid: the server gets its own session, so it outlives this script
    # and a Ctrl-C in the caller's terminal does not reach it.
    setsid "$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$data" \
        --skipApiVersionCheck --disableProductStyleUrl \
        </dev/null >"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.2 "$LOG_FILE"
    say "Azurite is up (pid $pid)"
    exports "$url"
}

stop() {
    stop_pid TERM 10
    if [ -f "$DATA_FILE" ]; then
        rm -rf "$(cat "$DATA_FILE")"
        rm -f "$DATA_FILE"
    fi
}

dispatch "$@"
