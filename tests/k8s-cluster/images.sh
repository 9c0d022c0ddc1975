#!/bin/sh
# images.sh -- the cluster's three images as docker-archive tarballs, made here, no registry.
#
#   tests/k8s-cluster/images.sh SEXTANT_BINARY OUTDIR
#
# OUTDIR/sextant.tar  localhost/sextant:ci, through k8s/image/build.sh (k8s/Containerfile's recipe)
# OUTDIR/pause.tar    localhost/sx-pause:1, the pod sandbox: Kubernetes' pause.c from the source
#                     package build-kube.sh unpacked, linked statically
# OUTDIR/glibc.tar    localhost/sx-glibc:1, test pods: the host's getent and glibc (so lookups
#                     go through glibc's resolver and the search list) plus busybox-static
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${SX_KUBE_CACHE:-/var/cache/sextant-kube}
sextant=$1 out=$2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$src/k8s/image/build.sh" "$sextant" localhost/sextant:ci "$out/sextant.tar"

pause_c=$(ls "$cache"/src/kubernetes-*/build/pause/linux/pause.c | head -n 1)
gcc -Os -static -Wall -DVERSION=sx -o "$tmp/pause" "$pause_c"
"$src/k8s/image/rootfs.sh" "$tmp/pause-root" files "$tmp/pause:/pause"
"$src/k8s/image/archive.sh" -e '["/pause"]' "$tmp/pause-root" localhost/sx-pause:1 \
	"$out/pause.tar"

"$src/k8s/image/rootfs.sh" "$tmp/glibc-root" files /bin/busybox /usr/bin/getent
mkdir -m 1777 "$tmp/glibc-root/tmp"
for applet in $(/bin/busybox --list); do
	[ -e "$tmp/glibc-root/bin/$applet" ] || ln -s busybox "$tmp/glibc-root/bin/$applet"
done
"$src/k8s/image/archive.sh" -e '["/bin/sh"]' "$tmp/glibc-root" localhost/sx-glibc:1 \
	"$out/glibc.tar"
