#!/usr/bin/env bash
# Install the real Claude Code CLI, pinned, into .tools/claude of this checkout.
#
# Idempotent and quiet on success: a second run that finds the pinned version
# does nothing. Needs only node (>= 18) and npm; everything comes from the npm
# registry. 2.1.197 is the newest release whose "engines" allows Node 20 (later
# ones need Node >= 22). The package's postinstall (`node install.cjs`) only
# hard-links the platform binary shipped in the optional dependency
# @anthropic-ai/claude-code-<platform>; it downloads nothing.
#
# Usage: scripts/install-claude-cli.sh            (prints nothing when all is well)
#        CLAUDE_CLI_VERSION=x.y.z scripts/install-claude-cli.sh
set -euo pipefail

version="${CLAUDE_CLI_VERSION:-2.1.197}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.tools/claude"
bin="$prefix/node_modules/.bin/claude"

die() {
    echo "install-claude-cli: $*" >&2
    exit 1
}

installed_version() {
    # "2.1.197 (Claude Code)" -> "2.1.197"; empty if the binary is absent or broken.
    [ -x "$bin" ] || return 0
    "$bin" --version 2>/dev/null | awk 'NR == 1 { print $1 }' || true
}

if [ "$(installed_version)" = "$version" ]; then
    exit 0
fi

command -v node >/dev/null 2>&1 || die "node is not on PATH; install Node.js >= 18 (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install npm (e.g. apt-get install npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "node $(node --version) is too old; Claude Code $version needs Node.js >= 18"

mkdir -p "$prefix"
# A private package.json pins the version, so npm never resolves "latest".
cat >"$prefix/package.json" <<JSON
{
  "name": "orchcore-claude-cli",
  "private": true,
  "description": "Pinned Claude Code CLI for orchcore's integration tests; written by scripts/install-claude-cli.sh",
  "dependencies": { "@anthropic-ai/claude-code": "$version" }
}
JSON

log="$prefix/npm-install.log"
# --include=optional: the native binary lives in a platform-specific optional
# dependency; --foreground-scripts keeps the postinstall's output in our log.
if ! npm install --prefix "$prefix" --include=optional --no-audit --no-fund --no-update-notifier \
    --foreground-scripts --loglevel=warn >"$log" 2>&1; then
    cat "$log" >&2
    die "npm install of @anthropic-ai/claude-code@$version failed (log: $log)"
fi

got="$(installed_version)"
if [ "$got" != "$version" ]; then
    # The postinstall may have been skipped (npm ignore-scripts=true): run it ourselves.
    pkg="$prefix/node_modules/@anthropic-ai/claude-code"
    if [ -f "$pkg/install.cjs" ]; then
        (cd "$pkg" && node install.cjs) >>"$log" 2>&1 || true
        got="$(installed_version)"
    fi
fi
if [ "$got" != "$version" ]; then
    cat "$log" >&2
    die "installed, but '$bin --version' says '${got:-nothing}', expected $version (no native binary for $(node -p 'process.platform + "-" + process.arch')?)"
fi
