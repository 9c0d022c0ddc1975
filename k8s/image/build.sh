#!/bin/sh
# build.sh -- Sextant's image as a docker-archive tarball from a local build, without a builder.
#
#   k8s/image/build.sh SEXTANT_BINARY REF OUT.tar      e.g. build/sextant sextant:0.1.0 sextant.tar
#
# The same recipe as k8s/Containerfile: the binary stripped, the filesystem laid out by
# rootfs.sh, the config taken from the Containerfile's last stage. Load the tarball with
# `ctr -n k8s.io images import OUT.tar` on a containerd node (or docker/podman load).
set -eu
[ $# -eq 3 ] || {
	sed -n '3,3s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$1" "$tmp/sextant"
strip "$tmp/sextant"
"$here/rootfs.sh" "$tmp/root" sextant "$tmp/sextant"
"$here/archive.sh" -f "$here/../Containerfile" "$tmp/root" "$2" "$3"
