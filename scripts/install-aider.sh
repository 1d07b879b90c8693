#!/usr/bin/env bash
# Install the real Aider CLI (PyPI aider-chat), pinned, into its own venv .tools/aider/<version>.
#
# Aider needs Python >=3.10,<3.13 and pins its own dependencies (openai, numpy, litellm...), so it
# never goes into orch's venv. Idempotent and quiet on success: a run that finds the pinned version
# only points .tools/aider/current at it. A cold install takes about a minute and ~700 MB.
#
# Usage: scripts/install-aider.sh            (prints nothing when all is well)
#        AIDER_VERSION=x.y.z AIDER_PYTHON=python3.12 scripts/install-aider.sh
set -euo pipefail

version="${AIDER_VERSION:-0.86.2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# the real path: a venv's scripts name their interpreter by absolute path, so one made through a
# symlinked .tools (a shared cache) must name where it really lives
mkdir -p "$root/.tools"
tools="$(cd "$root/.tools" && pwd -P)/aider"
prefix="$tools/$version"
bin="$prefix/bin/aider"

die() {
    echo "install-aider: $*" >&2
    exit 1
}

installed_version() {
    # the package metadata, not `aider --version` (which imports litellm: seconds).
    [ -x "$prefix/bin/python" ] || return 0
    "$prefix/bin/python" -c 'import importlib.metadata as m; print(m.version("aider-chat"))' 2>/dev/null || true
}

point_current() {
    ln -sfn "$version" "$tools/current.tmp" && mv -Tf "$tools/current.tmp" "$tools/current"
}

interpreter_ok() {
    # the script's #! interpreter still exists (a venv moved or made elsewhere does not run)
    local shebang
    shebang="$(head -n 1 "$bin" 2>/dev/null || true)"
    [ -x "${shebang#\#!}" ]
}

if [ -x "$bin" ] && interpreter_ok && [ "$(installed_version)" = "$version" ]; then
    point_current
    exit 0
fi

python="${AIDER_PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
fi
[ -n "$python" ] || die "no Python >=3.10,<3.13 on PATH (aider-chat $version needs one); set AIDER_PYTHON"

rm -rf "$prefix"
mkdir -p "$tools"
log="$tools/pip-install-$version.log"
if ! { "$python" -m venv "$prefix" &&
    "$prefix/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "aider-chat==$version"; } >"$log" 2>&1; then
    cat "$log" >&2
    die "pip install of aider-chat==$version failed (log: $log)"
fi

got="$(installed_version)"
[ "$got" = "$version" ] || die "installed, but the venv says aider-chat '${got:-nothing}', expected $version"
[ -x "$bin" ] || die "installed, but $bin is missing"
point_current
