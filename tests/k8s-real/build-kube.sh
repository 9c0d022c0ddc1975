#!/bin/sh
# build-kube.sh -- build Kubernetes 1.20.2 binaries from Debian's source package, once.
#
#   tests/k8s-real/build-kube.sh [TARGET...]     (default: kube-apiserver kube-controller-manager)
#
# Binaries are cached in $SX_KUBE_CACHE (default /var/cache/sextant-kube/bin), outside the
# checkout, and reused when present: a warm run takes 0.1 s. A cold build of all six binaries
# takes about 30 CPU-minutes (~28 min on an idle 2-core machine; the API server alone ~16 min).
# Prints the bin directory.
set -eu

cache=${SX_KUBE_CACHE:-/var/cache/sextant-kube}
bin=$cache/bin
targets=${*:-kube-apiserver kube-controller-manager}

missing=""
for t in $targets; do
	[ -x "$bin/$t" ] || missing="$missing $t"
done
if [ -z "$missing" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
# One builder at a time: parallel tests may all ask for the binaries.
exec 9>"$cache/.lock"
flock 9
missing=""
for t in $targets; do
	[ -x "$bin/$t" ] || missing="$missing $t"
done
if [ -z "$missing" ]; then
	echo "$bin"
	exit 0
fi

log() { echo "build-kube: $*" >&2; }

# The toolchain and etcd, from Debian (a deb-src entry lets apt-get fetch the source package).
pkgs="golang-1.19-go etcd-server rsync jq golang-github-modern-go-reflect2-dev
golang-github-json-iterator-go-dev dpkg-dev"
need=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
src_list=/etc/apt/sources.list.d/sextant-kube-src.sources
if [ ! -f "$src_list" ]; then
	uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$uri" ] || uri=http://deb.debian.org/debian
	printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: %s\n' \
		"$uri" /usr/share/keyrings/debian-archive-keyring.gpg >"$src_list"
	apt-get update -qq >&2
elif [ -n "$need" ]; then
	apt-get update -qq >&2
fi
if [ -n "$need" ]; then
	log "installing$need"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >&2
fi

tree=$cache/src/kubernetes-1.20.2
if [ ! -f "$tree/.sextant-patched" ]; then
	rm -rf "$cache/src"
	mkdir -p "$cache/src"
	log "fetching the kubernetes source package"
	(cd "$cache/src" && apt-get source --download-only kubernetes >&2)
	orig=$(ls "$cache"/src/kubernetes_*.orig.tar.gz | head -n 1)
	mkdir -p "$tree"
	tar -xzf "$orig" -C "$tree" --strip-components=1
	# The vendored reflect2 1.0.1 panics under Go >= 1.18 on the first JSON body the API
	# server decodes; Debian's reflect2 and json-iterator work.
	for lib in modern-go/reflect2 json-iterator/go; do
		dst=$tree/vendor/github.com/$lib
		rm -rf "$dst"
		mkdir -p "$dst"
		(cd "/usr/share/gocode/src/github.com/$lib" &&
			find . -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' \
				-exec cp {} "$dst/" \;)
	done
	touch "$tree/.sextant-patched"
fi

mkdir -p "$bin" "$cache/home"
for t in $missing; do
	log "building $t (cold: minutes)"
	(cd "$tree" && env PATH=/usr/lib/go-1.19/bin:$PATH GOPROXY=off GOFLAGS= HOME="$cache/home" \
		make WHAT="cmd/$t" >&2)
	install -m 0755 "$tree/_output/bin/$t" "$bin/$t"
done
echo "$bin"
