#!/usr/bin/env bash
# Install the real OpenAI Codex CLI, pinned, into .tools/codex/<version> of this checkout.
#
# Idempotent and quiet on success: a run that finds the pinned version only points
# .tools/codex/current at it (a few milliseconds). Needs node (>= 16) and npm; everything
# comes from the npm registry. The package's native binary (codex-linux-x64, ...) is an
# optional dependency aliased to @openai/codex@<version>-<platform>; nothing is downloaded
# after npm install. 0.171.0 is the version measured here (docs/agents/codex.md).
#
# Usage: scripts/install-codex-cli.sh            (prints nothing when all is well)
#        CODEX_CLI_VERSION=x.y.z scripts/install-codex-cli.sh
set -euo pipefail

version="${CODEX_CLI_VERSION:-0.171.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools/codex"
prefix="$tools/$version"
bin="$prefix/node_modules/.bin/codex"

die() {
    echo "install-codex-cli: $*" >&2
    exit 1
}

installed_version() {
    # "codex-cli 0.171.0" -> "0.171.0"; empty if the binary is absent or broken.
    [ -x "$bin" ] || return 0
    "$bin" --version 2>/dev/null | awk 'NR == 1 { print $NF }' || true
}

point_current() {
    ln -sfn "$version" "$tools/current.tmp" && mv -Tf "$tools/current.tmp" "$tools/current"
}

if [ "$(installed_version)" = "$version" ]; then
    point_current
    exit 0
fi

command -v node >/dev/null 2>&1 || die "node is not on PATH; install Node.js >= 16 (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install npm (e.g. apt-get install npm)"

mkdir -p "$prefix"
# A private package.json pins the version, so npm never resolves "latest".
cat >"$prefix/package.json" <<JSON
{
  "name": "orchcore-codex-cli",
  "private": true,
  "description": "Pinned Codex CLI for orchcore's integration tests; written by scripts/install-codex-cli.sh",
  "dependencies": { "@openai/codex": "$version" }
}
JSON

log="$prefix/npm-install.log"
# --include=optional: the native binary lives in a platform-specific optional dependency.
if ! npm install --prefix "$prefix" --include=optional --no-audit --no-fund --no-update-notifier \
    --loglevel=warn >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install of @openai/codex@$version failed (log: $log)"
fi

got="$(installed_version)"
if [ "$got" != "$version" ]; then
    cat "$log" >&2
    die "installed, but '$bin --version' says '${got:-nothing}', expected $version (no native binary for $(node -p 'process.platform + "-" + process.arch')?)"
fi
point_current
