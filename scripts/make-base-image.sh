#!/usr/bin/env bash
# Make a Debian 12 base image without a registry: debootstrap from the Debian archive, then
# `docker import`. For the opt-in image test (no image registry is reachable there); on a
# normal machine the Dockerfile's default base, debian:bookworm-slim, is pulled instead.
#
# Usage: DOCKER_HOST=unix:///path/docker.sock scripts/make-base-image.sh TAG [CACHE_DIR]
#   CACHE_DIR keeps the root file system's tarball: a second run imports it again at once.
# Exit codes: 3 = debootstrap is missing and cannot be installed (the reason is printed).
set -euo pipefail

tag="${1:?usage: make-base-image.sh TAG [CACHE_DIR]}"
cache="${2:-/var/tmp/orch-base-image}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

die() {
    echo "make-base-image: $*" >&2
    exit "${2:-1}"
}

if ! command -v debootstrap >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "needs debootstrap and is not root to install it" 3
    apt-get install -y -qq -o DPkg::Lock::Timeout=300 debootstrap >/dev/null 2>&1 \
        || die "apt-get could not install debootstrap" 3
fi
mkdir -p "$cache"
tarball="$cache/bookworm-minbase.tar"
if [ ! -s "$tarball" ]; then
    [ "$(id -u)" = 0 ] || die "debootstrap needs root" 3
    rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 5 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
fi
docker import "$tarball" "$tag" >/dev/null
echo "$tag"
