# What the server scripts share; sourced by scripts/servers/*.sh after they
# set NAME (for messages) and, for a server this script starts and watches
# by pid, PID_FILE, URL_FILE and LOG_FILE.

say() { printf '%s.sh: %s\n' "$NAME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# A free TCP port on 127.0.0.1, as the kernel hands one out.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Whether GET $1 answers 200 within two seconds.
http_ok() {
    python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

# Whether GET $1 gets any HTTP answer within two seconds (an error status
# counts: for servers that refuse an unsigned request).
http_answers() {
    python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

# The recorded pid, when that process still runs.
running_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Prints the recorded server's URL when it runs and `answers` (as the
# script defines it) there; otherwise `stop`s what is recorded (as the
# script defines it) and fails, so the caller starts it anew.
#   if url="$(running_url)"; then ...reuse...; fi
running_url() {
    local pid url
    pid="$(running_pid)" || return 1
    url="$(cat "$URL_FILE")"
    if answers "$url"; then
        say "already running (pid $pid) at $url"
        echo "$url"
        return 0
    fi
    say "pid $pid is recorded but $url does not answer; restarting"
    stop >&2
    mkdir -p "$DIR"
    return 1
}

# Waits until `answers URL` (defined by the script) succeeds for the
# process PID started at URL: at most TIMEOUT seconds, polling every
# INTERVAL. A process that exits, or a timeout (which stops it), ends the
# script with the last lines of the LOGS.
#   wait_ready PID URL TIMEOUT INTERVAL LOG...
wait_ready() {
    local pid="$1" url="$2" timeout="$3" interval="$4"
    shift 4
    local deadline=$((SECONDS + timeout))
    until answers "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE" "$URL_FILE"
            say "$NAME exited during startup; last lines of its logs:"
            tail -n 20 "$@" >&2 || true
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "$NAME was not ready on $url within ${timeout}s; last lines of its logs:"
            tail -n 20 "$@" >&2 || true
            stop
            exit 1
        fi
        sleep "$interval"
    done
}

# Sends SIGNAL to the recorded process and waits up to TIMEOUT seconds for
# it to end (then kills it); forgets its pid and URL.
#   stop_pid SIGNAL TIMEOUT
stop_pid() {
    local pid
    if pid="$(running_pid)"; then
        kill "-$1" "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + $2))
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        say "stopped $NAME (pid $pid)"
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

# `start` or `stop`, as the script defines them.
dispatch() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        *)
            echo "usage: $0 start|stop" >&2
            exit 2
            ;;
    esac
}
