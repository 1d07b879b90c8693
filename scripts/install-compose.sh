#!/usr/bin/env bash
# Make `docker compose` or `docker-compose` available, for `compose config` in the tests.
#
# Idempotent and quiet on success. Uses the compose plugin when `docker compose` works,
# else Debian's docker-compose package (apt-get, as root).
# Exit codes: 3 = neither is available and it could not be installed (the reason is printed).
set -euo pipefail

die() {
    echo "install-compose: $*" >&2
    exit "${2:-1}"
}

docker compose version >/dev/null 2>&1 && exit 0
command -v docker-compose >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || die "needs Debian's docker-compose and is not root to install it" 3
command -v apt-get >/dev/null 2>&1 || die "needs docker-compose and there is no apt-get to install it" 3
log="$(mktemp)"
if ! apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker-compose >"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1 || true
    apt-get install -y -qq -o DPkg::Lock::Timeout=300 docker-compose >>"$log" 2>&1 \
        || { tail -n 5 "$log" >&2; rm -f "$log"; die "apt-get could not install docker-compose" 3; }
fi
rm -f "$log"
