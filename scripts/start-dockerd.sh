#!/usr/bin/env bash
# Start a private Docker daemon whose files all live under DIR, in the foreground.
#
# Installs Debian's docker.io and busybox-static first when they are missing and we may
# (root, apt-get), quietly. The daemon touches nothing of the host's network
# (--iptables=false --ip6tables=false --bridge=none: containers get `none` or `host`)
# and listens only on unix://DIR/docker.sock. It stays in the foreground (exec), so
# whoever started this script owns the daemon and stops it with SIGTERM; the test
# fixture in tests/integration/docker/ does exactly that.
#
# Usage: scripts/start-dockerd.sh DIR           (DIR: a new, short path such as /tmp/orch-dockerd.x)
#        scripts/start-dockerd.sh --install-only
# Exit codes: 3 = docker.io is not installed and could not be (the reason is printed).
set -euo pipefail

die() {
    echo "start-dockerd: $*" >&2
    exit "${2:-1}"
}

install_missing() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    # the test image is built FROM scratch: it needs the static busybox, not the dynamic one
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" \
        || missing+=(busybox-static)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "needs ${missing[*]} (Debian packages) and is not root to install them" 3
    command -v apt-get >/dev/null 2>&1 || die "needs ${missing[*]} and there is no apt-get to install them" 3
    local log
    log="$(mktemp)"
    # the dpkg lock may be held by another installer on this machine: wait for it
    if ! apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$log" 2>&1; then
        apt-get update -qq >>"$log" 2>&1 || true
        apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >>"$log" 2>&1 \
            || { tail -n 5 "$log" >&2; rm -f "$log"; die "apt-get could not install ${missing[*]}" 3; }
    fi
    rm -f "$log"
}

install_missing
[ "${1:-}" = "--install-only" ] && exit 0
dir="${1:?usage: start-dockerd.sh DIR}"
mkdir -p "$dir/data" "$dir/exec"
exec dockerd \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" \
    -H "unix://$dir/docker.sock" \
    --iptables=false --ip6tables=false --bridge=none \
    --log-level warn
