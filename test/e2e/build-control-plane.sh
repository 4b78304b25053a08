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

log_prefix=build-control-plane
# shellcheck source=build-lib.sh
source "$script_dir/build-lib.sh"
take_lock "$version_dir"

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

build_kubernetes() {
  mkdir -p "$work/k8s" && cd "$work/k8s"
  started
  k8s_wrapper_module e2e.local/k8sbins kube-apiserver kubectl
  finished "kubernetes modules (download)"
  build_k8s_commands kube-apiserver kubectl
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
log_timings
for name in kube-apiserver kubectl etcd helm; do
  version_ok "$name" || { log "$name missing after the build"; exit 1; }
done
echo "$bin"
