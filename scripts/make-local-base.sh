#!/usr/bin/env bash
# Builds a Debian base image without any container registry (debootstrap -> docker import),
# for machines that reach Debian's package mirror but no registry. The agent image is then
# built on top of it with `slipway image build --base "$TAG"`.
set -euo pipefail
TAG="${1:-slipway-base:local}"
MIRROR="${SLIPWAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already present"
  exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
root="$(mktemp -d /tmp/slipway-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm (python3, git) into $root ..."
debootstrap --variant=minbase --include=python3,git,ca-certificates bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -n 30 "$root.log"; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
echo "importing as $TAG ..."
tar -C "$root" -c . | docker import - "$TAG" >/dev/null
rm -f "$root.log"
echo "base image $TAG ready"
