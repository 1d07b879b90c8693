#!/usr/bin/env bash
# Install the real Gemini CLI, pinned, into .tools/gemini/<version> of this checkout.
#
# Idempotent and quiet on success: a run that finds the pinned version installed
# does nothing (a few milliseconds: it reads the package's package.json; the
# CLI's own `--version` takes ~2 s to start node). Needs only node (>= 20, the package's
# "engines") and npm; everything comes from the npm registry (@google/gemini-cli
# and its dependencies, no install script downloads anything). Each version has
# its own directory, so switching GEMINI_CLI_VERSION back and forth costs nothing
# after the first install; `.tools/gemini/current` points at the last one installed.
#
# Usage: scripts/install-gemini-cli.sh            (prints nothing when all is well)
#        GEMINI_CLI_VERSION=x.y.z scripts/install-gemini-cli.sh
set -euo pipefail

version="${GEMINI_CLI_VERSION:-0.61.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="$root/.tools/gemini"
prefix="$base/$version"
bin="$prefix/node_modules/.bin/gemini"

die() {
    echo "install-gemini-cli: $*" >&2
    exit 1
}

installed_version() {
    # `gemini --version` prints just "0.61.0"; empty if the binary is absent or broken.
    [ -x "$bin" ] || return 0
    HOME="$prefix" "$bin" --version 2>/dev/null </dev/null | awk 'NR == 1 { print $1 }' || true
}

point_current() {
    ln -sfn "$version" "$base/current"
}

manifest="$prefix/node_modules/@google/gemini-cli/package.json"
if [ -x "$bin" ] && [ -f "$manifest" ] && grep -q "\"version\": \"$version\"" "$manifest"; then
    [ "$(readlink "$base/current" 2>/dev/null)" = "$version" ] || point_current
    exit 0
fi

command -v node >/dev/null 2>&1 || die "node is not on PATH; install Node.js >= 20 (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install npm (e.g. apt-get install npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old; Gemini CLI $version needs Node.js >= 20"

mkdir -p "$prefix"
# A private package.json pins the version, so npm never resolves "latest".
cat >"$prefix/package.json" <<JSON
{
  "name": "orchcore-gemini-cli",
  "private": true,
  "description": "Pinned Gemini CLI for orchcore's integration tests; written by scripts/install-gemini-cli.sh",
  "dependencies": { "@google/gemini-cli": "$version" }
}
JSON

log="$prefix/npm-install.log"
if ! npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier \
    --loglevel=warn >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install of @google/gemini-cli@$version failed (log: $log)"
fi

got="$(installed_version)"
if [ "$got" != "$version" ]; then
    cat "$log" >&2
    die "installed, but '$bin --version' says '${got:-nothing}', expected $version"
fi
point_current
