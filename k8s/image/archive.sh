#!/bin/sh
# archive.sh -- write a root filesystem as a docker-archive image tarball, without a builder.
#
#   k8s/image/archive.sh [-f CONTAINERFILE] [-e ENTRYPOINT] [-c CMD] ROOT REF OUT.tar
#
# The image's config (USER, ENV, ENTRYPOINT, CMD, EXPOSE) comes from the last stage of
# CONTAINERFILE when given -- k8s/Containerfile for Sextant, so both recipes run the same
# image -- or from -e/-c (JSON arrays). One uncompressed layer keeps file capabilities
# (security.capability as a PAX xattr record). Load it with
# `ctr -n k8s.io images import OUT.tar` (containerd), `docker load` or `podman load`.
set -eu

cfile="" entrypoint="" cmd=""
while getopts f:e:c: o; do
	case $o in
	f) cfile=$OPTARG ;;
	e) entrypoint=$OPTARG ;;
	c) cmd=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 3 ] || {
	sed -n '3,3s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
root=$1 ref=$2 out=$3

user="" env="" ports=""
if [ -n "$cfile" ]; then
	# Only the last stage describes the image that runs.
	last=$(grep -n '^FROM ' "$cfile" | tail -n 1 | cut -d: -f1)
	stage=$(tail -n "+$last" "$cfile")
	user=$(printf '%s\n' "$stage" | sed -n 's/^USER  *//p' | tail -n 1)
	entrypoint=$(printf '%s\n' "$stage" | sed -n 's/^ENTRYPOINT  *//p' | tail -n 1)
	cmd=$(printf '%s\n' "$stage" | sed -n 's/^CMD  *//p' | tail -n 1)
	for kv in $(printf '%s\n' "$stage" | sed -n 's/^ENV  *//p'); do
		env="$env${env:+,}\"$kv\""
	done
	for p in $(printf '%s\n' "$stage" | sed -n 's/^EXPOSE  *//p'); do
		ports="$ports${ports:+,}\"$p\":{}"
	done
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar --create --file "$tmp/layer.tar" --directory "$root" --format=posix --xattrs \
	--xattrs-include=security.capability --numeric-owner --owner=0 --group=0 --sort=name \
	--mtime=@0 --pax-option=delete=atime,delete=ctime .
diff=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
mkdir "$tmp/$diff"
mv "$tmp/layer.tar" "$tmp/$diff/layer.tar"

printf '{"architecture":"amd64","os":"linux","config":{%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$(printf '"User":"%s","Env":[%s],"Entrypoint":%s,"Cmd":%s,"ExposedPorts":{%s}' \
		"$user" "$env" "${entrypoint:-null}" "${cmd:-null}" "$ports")" "$diff" >"$tmp/config.json"
conf=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
mv "$tmp/config.json" "$tmp/$conf.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$conf" "$ref" "$diff" \
	>"$tmp/manifest.json"
tar --create --file "$out" --directory "$tmp" --numeric-owner --owner=0 --group=0 --mtime=@0 \
	manifest.json "$conf.json" "$diff/layer.tar"
