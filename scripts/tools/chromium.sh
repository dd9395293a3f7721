#!/usr/bin/env bash
# Installs Debian's chromium when missing, for the dashboard's browser test
# (tests/dashboard.rs), and prints `export DAFNCK_CHROMIUM=...` naming it.
#
# Usage: eval "$(scripts/tools/chromium.sh install)"
# Installing needs root (as in CI); without it, or without apt-get, nothing
# is printed and the test says chromium is missing.
set -euo pipefail

say() { printf 'chromium.sh: %s\n' "$*" >&2; }

[ "${1:-}" = install ] || { say "usage: $0 install"; exit 2; }

bin="$(command -v chromium || true)"
if [ -z "$bin" ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "chromium is missing and cannot be installed here (needs root and apt-get); the dashboard's browser test will say so"
        exit 0
    fi
    say "chromium is missing; installing Debian's chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium </dev/null >&2 || {
        apt-get update -q </dev/null >&2
        apt-get install -y -q chromium </dev/null >&2
    }
    bin="$(command -v chromium)"
fi
printf 'export DAFNCK_CHROMIUM=%q\n' "$bin"
