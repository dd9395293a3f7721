#!/usr/bin/env bash
# Starts or stops an nginx of our own on 127.0.0.1 for the deployment
# strategies' tests (the nginx traffic router).
#
# Usage:
#   scripts/servers/nginx.sh start   # prints export lines, see below
#   scripts/servers/nginx.sh stop
#   eval "$(scripts/servers/nginx.sh start)"
#
# `start` installs Debian's nginx with apt-get when it is missing (as root),
# then runs one instance of it under a prefix of its own ($DIR/nginx: its
# config, pid file, logs and temp files; `daemon off`, one worker), never the
# packaged service (which is left alone, started or not). It waits until the
# instance answers and prints:
#   export DAFNCK_NGINX_BIN=/usr/sbin/nginx        the binary; tests that need
#                                                  an nginx of their own (the
#                                                  router's tests) run it
#   export DAFNCK_NGINX_URL=http://127.0.0.1:PORT  this instance
#   export DAFNCK_NGINX_CONF=$DIR/nginx/conf/nginx.conf
#   export DAFNCK_NGINX_INCLUDE_DIR=$DIR/nginx/conf.d   *.conf here are
#                                                  included in `http {}`
# Only the export lines go to standard output; progress and errors go to
# standard error. `stop` stops the instance and removes its prefix.
#
# Environment: NGINX_PORT (default: a free port), DAFNCK_SERVERS_DIR
# (default: target/servers/ in the checkout).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_SERVERS_DIR:-$ROOT/target/servers}"
PREFIX="$DIR/nginx"
PID_FILE="$DIR/nginx.pid"
URL_FILE="$DIR/nginx.url"
LOG_FILE="$DIR/nginx.log"
STARTUP_TIMEOUT_SECS=30

NAME=nginx
# shellcheck source=scripts/servers/lib.sh
. "$(dirname "$0")/lib.sh"

# python3 answers the readiness probe and finds a free port.
command -v python3 >/dev/null 2>&1 || die "python3 is not installed; this script needs it"

# Whether the instance at $1 answers its health location.
answers() { http_ok "$1/dafnck-nginx-health"; }

nginx_bin() {
    local bin
    bin="$(command -v nginx || true)"
    [ -n "$bin" ] || { [ -x /usr/sbin/nginx ] && bin=/usr/sbin/nginx; }
    echo "$bin"
}

# The nginx binary, installing Debian's package first when it is missing.
# Debian's postinst starts the packaged service unless policy-rc.d forbids
# it; either way it is not ours and is left alone.
ensure_nginx() {
    local bin
    bin="$(nginx_bin)"
    if [ -z "$bin" ]; then
        [ "$(id -u)" -eq 0 ] || die "nginx is missing and installing it needs root: apt-get install nginx"
        command -v apt-get >/dev/null 2>&1 || die "nginx is missing and there is no apt-get to install it"
        say "nginx is missing; installing Debian's nginx with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y --no-install-recommends nginx </dev/null >&2; then
            say "apt-get install failed; updating the package lists and trying again"
            apt-get update </dev/null >&2 || die "apt-get update failed"
            apt-get install -y --no-install-recommends nginx </dev/null >&2 \
                || die "apt-get could not install nginx"
        fi
        hash -r
        bin="$(nginx_bin)"
        [ -n "$bin" ] || die "nginx was installed but no nginx binary is on PATH or in /usr/sbin"
    fi
    echo "$bin"
}

exports() {
    echo "export DAFNCK_NGINX_BIN=$1"
    echo "export DAFNCK_NGINX_URL=$2"
    echo "export DAFNCK_NGINX_CONF=$PREFIX/conf/nginx.conf"
    echo "export DAFNCK_NGINX_INCLUDE_DIR=$PREFIX/conf.d"
}

write_config() {
    local port="$1"
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX/conf" "$PREFIX/conf.d" "$PREFIX/logs" "$PREFIX/tmp"
    # As root, nginx would run its workers as `nobody`, who cannot enter a
    # private temp directory; this instance only listens on loopback.
    local user=""
    [ "$(id -u)" -eq 0 ] && user="user root root;"
    cat >"$PREFIX/conf/nginx.conf" <<CONF
# Written by scripts/servers/nginx.sh; removed by \`nginx.sh stop\`.
$user
daemon off;
master_process on;
worker_processes 1;
pid $PREFIX/nginx.pid;
error_log $PREFIX/logs/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $PREFIX/tmp/client_body;
    proxy_temp_path $PREFIX/tmp/proxy;
    fastcgi_temp_path $PREFIX/tmp/fastcgi;
    uwsgi_temp_path $PREFIX/tmp/uwsgi;
    scgi_temp_path $PREFIX/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /dafnck-nginx-health { return 200 "ok\n"; }
    }
    include $PREFIX/conf.d/*.conf;
}
CONF
}

start() {
    mkdir -p "$DIR"
    local bin pid url
    bin="$(ensure_nginx)"
    if url="$(running_url)"; then
        exports "$bin" "$url"
        return
    fi
    local port
    port="${NGINX_PORT:-$(free_port)}"
    url="http://127.0.0.1:$port"
    write_config "$port"
    "$bin" -t -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" >"$LOG_FILE" 2>&1 \
        || { cat "$LOG_FILE" >&2; die "nginx rejected the generated config $PREFIX/conf/nginx.conf"; }
    say "starting nginx on $url (prefix: $PREFIX)"
    # setsid: the master gets its own session, so it outlives this script
    # and a Ctrl-C in the caller's terminal does not reach it. With
    # `daemon off` the pid of this child is the master's.
    setsid "$bin" -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" </dev/null >>"$LOG_FILE" 2>&1 &
    pid=$!
    echo "$pid" >"$PID_FILE"
    echo "$url" >"$URL_FILE"
    wait_ready "$pid" "$url" "$STARTUP_TIMEOUT_SECS" 0.1 "$LOG_FILE" "$PREFIX/logs/error.log"
    say "nginx is up (master pid $pid)"
    exports "$bin" "$url"
}

stop() {
    stop_pid QUIT 10
    rm -rf "$PREFIX"
}

dispatch "$@"
