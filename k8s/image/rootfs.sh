#!/bin/sh
# rootfs.sh -- lay out an image's root filesystem from binaries and the libraries ldd lists.
#
#   k8s/image/rootfs.sh ROOT sextant BINARY   Sextant's image (what k8s/Containerfile runs)
#   k8s/image/rootfs.sh ROOT files SRC[:DST]... any binaries, at DST or their own path (tests)
#
# Sextant's image holds /sextant with the file capability cap_net_bind_service=+ep -- the
# Deployment runs it as uid 65532 with allowPrivilegeEscalation: false (no_new_privs), and a
# capability the runtime grants only in the bounding/permitted sets is lost at execve for a
# non-root uid; a file capability survives -- plus /bin/sh and ip for node-local-dns's init
# container, the CA bundle (forward over TLS) and a passwd naming uid 65532. Needs setcap
# (libcap2-bin). Every image gets the host's merged-/usr symlinks and an nsswitch.conf.
set -eu

usage() {
	sed -n '3,5s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
[ $# -ge 3 ] || usage
root=$1
mode=$2
shift 2

# Copy @1 to ROOT@2 (default: the same path), following symlinks, keeping the mode.
put() {
	dst=$root${2:-$1}
	mkdir -p "$(dirname "$dst")"
	cp -L --preserve=mode "$1" "$dst"
}

# A binary and every library the dynamic loader maps for it (ldd prints "name => /path (addr)"
# for libraries and "/path (addr)" for the loader itself; static binaries have neither).
put_with_libs() {
	put "$@"
	ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
		while read -r lib; do
			[ -e "$root$lib" ] || put "$lib"
		done
}

mkdir -p "$root/etc"
# Debian's merged /usr: /lib -> usr/lib and friends, so the paths ldd prints resolve as on the
# build host.
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		target=$(readlink "/$d")
		mkdir -p "$root/${target#/}"
		ln -sfn "$target" "$root/$d"
	fi
done
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

case $mode in
sextant)
	[ $# -eq 1 ] || usage
	put_with_libs "$1" /sextant
	setcap cap_net_bind_service=+ep "$root/sextant"
	put_with_libs /bin/sh
	put_with_libs "$(command -v ip)"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
		put /etc/ssl/certs/ca-certificates.crt
	fi
	printf 'root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
	;;
files)
	for f in "$@"; do
		case $f in
		*:*) put_with_libs "${f%%:*}" "${f#*:}" ;;
		*) put_with_libs "$f" ;;
		esac
	done
	;;
*)
	usage
	;;
esac
