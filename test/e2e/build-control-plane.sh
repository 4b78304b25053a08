#!/usr/bin/env bash
# Builds kube-apiserver, a matching kubectl, etcd and helm from the Go module proxy into a per-version
# cache outside the repo. The only network here is the Go module proxy, npm and Debian: no release
# downloads, no Docker, so setup-envtest and kind cannot work (shared/docs/control-plane.md).
#
#   bash test/e2e/build-control-plane.sh            # build what is missing, print the bin dir last
#   PULLGUARD_E2E_CACHE=/somewhere bash test/e2e/build-control-plane.sh
#
# Versions come from test/e2e/versions.env. A warm cache (every binary present and answering
# --version with the pinned version) costs about a second. Cold: see the timings it prints.
# Progress goes to stderr; stdout carries only the bin dir, so callers can `bin=$(... build ...)`.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$script_dir/versions.env"
: "${K8S_VERSION:?} ${ETCD_VERSION:?} ${HELM_VERSION:?}"

export GOTOOLCHAIN=local CGO_ENABLED=0
# Two cores: the default -p is already 2; say it so a bigger GOFLAGS from outside cannot raise it and
# so the kube-apiserver link (the peak, ~2-3 GB) never runs next to another link.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=2 -buildvcs=false"

cache_root="${PULLGUARD_E2E_CACHE:-$HOME/.cache/pullguard-e2e}"
version_dir="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
bin="$version_dir/bin"
mkdir -p "$bin"

log() { printf '[build-control-plane] %s\n' "$*" >&2; }
# Runs a chatty command (go get lists every module it adds); its output is shown only when it fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then printf '%s\n' "$out" >&2; return 1; fi
}
# For steps that reach the Go module proxy: a TLS handshake timeout on a busy machine must not fail
# a 20-minute build. Three tries, ten seconds apart; a real error fails the same way three times.
retry() {
  local try
  for try in 1 2 3; do
    "$@" && return 0
    [ "$try" -eq 3 ] || { log "failed (try $try of 3), retrying in 10s: $*"; sleep 10; }
  done
  return 1
}

# Two test runs may call this at once: one builds, the other waits and then finds the cache warm.
exec 9>"$version_dir/.lock"
if ! flock -n 9; then
  log "another build holds $version_dir/.lock; waiting for it"
  flock 9
fi

# A binary counts as built only when it runs and reports the pinned version: a half-written file from
# an interrupted build, or a binary of another version, is rebuilt.
version_ok() {
  local name=$1 out
  [ -x "$bin/$name" ] || return 1
  case $name in
    kube-apiserver) out=$("$bin/$name" --version 2>&1) && [[ $out == *"v$K8S_VERSION"* ]] ;;
    kubectl) out=$("$bin/$name" version --client 2>&1) && [[ $out == *"v$K8S_VERSION"* ]] ;;
    etcd) out=$("$bin/$name" --version 2>&1) && [[ $out == *"etcd Version: $ETCD_VERSION"* ]] ;;
    helm) out=$("$bin/$name" version --short 2>&1) && [[ $out == *"v$HELM_VERSION"* ]] ;;
    *) return 1 ;;
  esac
}

missing=()
for name in kube-apiserver kubectl etcd helm; do
  version_ok "$name" || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "cache warm: $bin (k8s v$K8S_VERSION, etcd v$ETCD_VERSION, helm v$HELM_VERSION)"
  echo "$bin"
  exit 0
fi
log "to build: ${missing[*]} -> $bin ($(go version))"

work=$(mktemp -d "${TMPDIR:-/tmp}/pullguard-e2e-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

wants() { [[ " ${missing[*]} " == *" $1 "* ]]; }
timings=()
started() { step_start=$SECONDS; }
finished() { timings+=("$1: $((SECONDS - step_start))s"); log "$1 took $((SECONDS - step_start))s"; }

# Writes to a temporary name, then renames: a killed build never leaves a binary that looks complete.
install_binary() { mv -f "$1" "$bin/$2"; version_ok "$2" || { log "$2 does not report the pinned version"; exit 1; }; }

build_kubernetes() {
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths, which Go
  # ignores in a dependency. A wrapper module replaces each with its published v0.N.P tag
  # (kubernetes/kubernetes#79384). The list comes from the downloaded go.mod, not from memory.
  local dir="$work/k8s" kmod staging gd m
  mkdir -p "$dir" && cd "$dir"
  go mod init e2e.local/k8sbins >/dev/null 2>&1
  started
  retry quiet go mod download "k8s.io/kubernetes@v$K8S_VERSION"
  kmod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$kmod" ] || { log "could not download k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
  staging="v0.${K8S_VERSION#1.}"
  for m in $(awk '{ if ($1 == "require") { $1 = $2; $2 = $3 } } $1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$kmod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  go mod edit -go="$(awk '$1 == "go" { print $2; exit }' "$kmod")"
  gd=$(awk '$1 == "godebug" && $2 ~ /^default=/ { print $2; exit }' "$kmod")
  [ -z "$gd" ] || go mod edit -godebug="$gd"
  retry quiet go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION"
  finished "kubernetes modules (download)"

  # What hack/lib/version.sh stamps into both version packages: /version, kubectl's skew check and
  # the apiserver's emulation version all read them.
  local stamp="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    stamp+=" -X $pkg.gitTreeState=clean"
  done
  local name
  for name in kube-apiserver kubectl; do
    wants "$name" || continue
    started
    go build -trimpath -pgo=off -ldflags "-s -w$stamp" -o "$work/$name.new" "k8s.io/kubernetes/cmd/$name"
    install_binary "$work/$name.new" "$name"
    finished "$name"
  done
}

build_etcd() {
  # `go install go.etcd.io/etcd/server/v3@...` fails: etcd's go.mod has replace lines (etcd-io/etcd#18501).
  local dir="$work/etcd"
  mkdir -p "$dir" && cd "$dir"
  go mod init e2e.local/etcdbin >/dev/null 2>&1
  started
  retry quiet go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$work/etcd.new" go.etcd.io/etcd/server/v3
  install_binary "$work/etcd.new" etcd
  finished etcd
}

build_helm() {
  # helm.sh/helm/v4 has no replace lines, so plain `go install` works. Without the -X stamp (what its
  # Makefile sets for a tagged build) `helm version` would say only "v4.3".
  cd "$work"
  started
  GOBIN="$work/helm-bin" retry go install -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION"
  install_binary "$work/helm-bin/helm" helm
  finished helm
}

total_start=$SECONDS
if wants kube-apiserver || wants kubectl; then build_kubernetes; fi
if wants etcd; then build_etcd; fi
if wants helm; then build_helm; fi

log "built into $bin in $((SECONDS - total_start))s:"
for line in "${timings[@]}"; do log "  $line"; done
for name in kube-apiserver kubectl etcd helm; do
  version_ok "$name" || { log "$name missing after the build"; exit 1; }
done
echo "$bin"
