#!/usr/bin/env bash
# Makes the Dockerfile's base image, debian:bookworm, in the local Docker
# Engine without a registry: a minimal bookworm root file system from the
# Debian mirror (debootstrap --variant=minbase), imported with `docker import`.
# Does nothing when the engine already has debian:bookworm (pulled or made).
#   deploy/e2e/make-base-image.sh [TAG]       TAG defaults to debian:bookworm
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

tag="${1:-debian:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

die() {
  echo "make-base-image: $*" >&2
  exit 1
}

command -v docker >/dev/null || die "docker CLI not found (apt-get install docker.io)"
timeout 10 docker version >/dev/null 2>&1 || die "no Docker Engine answers (start dockerd first)"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "make-base-image: $tag already in the engine, kept"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null; then
  echo "make-base-image: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
    die "cannot install debootstrap"
fi

rootfs=$(mktemp -d /tmp/shimwatch-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "make-base-image: debootstrap bookworm from $mirror (a few minutes)"
if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  die "debootstrap failed"
fi
rm -f "$rootfs.log"

# What the official image also does: no apt caches, the mirror as the source.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"

tar -C "$rootfs" --numeric-owner -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$tag" >/dev/null
echo "make-base-image: $tag imported"
