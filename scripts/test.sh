#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy, unit,
# integration, property, crash and doc tests, and each benchmark once at a
# tiny size. Tests that need a server (moto, PostgreSQL, nginx, Prometheus)
# get it from the scripts under scripts/servers/, which this script starts
# and stops; the engine's tests need none.
#
# Usage: scripts/test.sh            (from anywhere in the checkout)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

# Test output is also kept, to print one total at the end.
log="$(mktemp)"
# One trap stops every server started below (each stop is a no-op for a
# server that was not started) and removes the log.
cleanup() {
    scripts/servers/postgres.sh stop || true
    scripts/servers/moto.sh stop || true
    rm -f "$log"
}
trap cleanup EXIT

step "moto server (AWS EC2 fake) for the aws provider's tests"
# Installs moto[server] with pip when missing; stopped again on exit.
moto_env="$(scripts/servers/moto.sh start)"
eval "$moto_env"
export DAFNCK_MOTO_URL

step "PostgreSQL server for the postgres state store's tests"
# Installs Debian's postgresql with apt-get when missing; stopped and its
# data directory removed on exit.
postgres_env="$(scripts/servers/postgres.sh start)"
eval "$postgres_env"
export DAFNCK_POSTGRES_URL

# Tests that need a server fail, instead of skipping, when it is missing.
export DAFNCK_REQUIRE_SERVERS=1

step "cargo test (unit, integration, property, crash, examples, benches once)"
cargo test --workspace --all-features --all-targets 2>&1 | tee -a "$log"

step "cargo test --doc"
cargo test --workspace --all-features --doc 2>&1 | tee -a "$log"

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\ntotal: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
