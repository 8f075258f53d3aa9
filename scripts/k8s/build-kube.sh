#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the Kubernetes tests (npm run test:k8s):
# kube-apiserver and kube-controller-manager 1.20.2 from Debian 12's own `kubernetes`
# source package, with Debian's Go 1.19, and etcd from Debian's etcd-server. No
# Kubernetes distribution installs from npm or Debian; this one builds from sources the
# machine's registries serve. About 5 minutes of 2 idle cores and 1.4 GB the first time;
# afterwards the binaries are reused from the cache, keyed by version.
#
# Prints the folder that holds the binaries. Why each step:
# - deb-src lives in a private apt folder: the system's sources stay as they are.
# - GO111MODULE=off: 1.20's own build is GOPATH mode (vendor/ with symlinks to staging/).
# - pkg/generated/openapi is not in the tarball: generated with the vendored openapi-gen
#   over every package tagged +k8s:openapi-gen (as Makefile.generated_files does).
# - reflect2 1.0.1 (vendored) makes the 1.20 apiserver segfault under Go 1.19 when it
#   reads a custom object; Debian's golang-github-modern-go-reflect2-dev is 1.0.2.
set -euo pipefail

VERSION=1.20.2
CACHE="${INFERMARK_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infermark/kube-$VERSION}"
BIN="$CACHE/bin"
if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/etcd" ]]; then
  echo "$BIN"
  exit 0
fi

log() { echo "build-kube: $*" >&2; }
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
if ! dpkg -s golang-1.19-go golang-github-modern-go-reflect2-dev etcd-server >/dev/null 2>&1; then
  log "installing golang-1.19-go, golang-github-modern-go-reflect2-dev, etcd-server from Debian"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    golang-1.19-go golang-github-modern-go-reflect2-dev etcd-server >&2
fi
# The Debian package starts an etcd service where a service manager runs; the tests start their own.
ETCD_BIN="$(command -v etcd || echo /usr/bin/etcd)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/infermark-kube-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
APT="$WORK/apt"
mkdir -p "$APT/lists/partial"
echo "deb-src http://deb.debian.org/debian bookworm main" >"$APT/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o "Dir::Etc::SourceParts=$APT/none"
  -o "Dir::State::Lists=$APT/lists" -o "APT::Sandbox::User=root")
log "fetching Debian 12's kubernetes source package"
apt-get "${APT_OPTS[@]}" update -qq >&2
(cd "$WORK" && apt-get "${APT_OPTS[@]}" source --download-only -qq kubernetes >&2)
dpkg-source -x "$WORK"/kubernetes_*.dsc "$WORK/src" >/dev/null
# Debian's version says what it really is: 1.20.5+really1.20.2-…
head -1 "$WORK/src/debian/changelog" | grep -q "really$VERSION" ||
  log "warning: the source package is not $VERSION: $(head -1 "$WORK/src/debian/changelog")"

export GOPATH="$WORK/go" GO111MODULE=off GOFLAGS="" CGO_ENABLED=0 GOCACHE="$WORK/gocache"
export PATH="/usr/lib/go-1.19/bin:$PATH"
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$WORK/src" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

log "replacing the vendored reflect2 1.0.1 with Debian's 1.0.2"
rm -rf vendor/github.com/modern-go/reflect2
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 vendor/github.com/modern-go/reflect2

log "generating pkg/generated/openapi"
go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
DIRS="$(grep -rlR --include='*.go' '^// +k8s:openapi-gen=' pkg cmd vendor/k8s.io \
  | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' -e '_test.go$' \
  | xargs -n1 dirname | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)"
"$WORK/openapi-gen" -i "$DIRS" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
  -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$WORK/violations.report" >&2

log "building kube-apiserver and kube-controller-manager (about 5 minutes on 2 cores)"
LDFLAGS="-s -w -X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitVersion=v$VERSION \
-X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitMinor=20"
mkdir -p "$WORK/bin"
go build -ldflags "$LDFLAGS" -o "$WORK/bin/kube-apiserver" ./cmd/kube-apiserver
go build -ldflags "$LDFLAGS" -o "$WORK/bin/kube-controller-manager" ./cmd/kube-controller-manager
ln -s "$ETCD_BIN" "$WORK/bin/etcd"

mkdir -p "$CACHE"
rm -rf "$BIN.partial"
mv "$WORK/bin" "$BIN.partial"
mv "$BIN.partial" "$BIN"
echo "$BIN"
