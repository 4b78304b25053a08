#!/usr/bin/env bash
# Builds and fetches the pieces of the agreement matrix's real node (issue 12) into a per-version
# cache outside the repo, beside the control plane's:
#   - kubelet and kube-controller-manager, from k8s.io/kubernetes at K8S_VERSION (Go modules);
#   - crane (github.com/google/go-containerregistry/cmd/crane), which pushes the test images;
#   - sleeper, the static program every test image runs (test/e2e/sleeper), also the pause image;
#   - Debian's docker-registry, containerd and runc, fetched with `apt-get download` and unpacked
#     with `dpkg-deb -x`: never installed, so no packaged service ever starts;
#   - htpasswd (apache2-utils) for the registries' bcrypt users: installed with apt-get if missing.
#
#   bash test/e2e/build-node.sh            # build what is missing, print the node dir last
#
# Versions come from test/e2e/versions.env. Warm cache: about a second. Progress goes to stderr;
# stdout carries only the node dir (bin/ and debian/ below it).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$script_dir/versions.env"
: "${K8S_VERSION:?} ${CRANE_VERSION:?} ${DOCKER_REGISTRY_DEB:?} ${CONTAINERD_DEB:?} ${RUNC_DEB:?}"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=2 -buildvcs=false"

cache_root="${PULLGUARD_E2E_CACHE:-$HOME/.cache/pullguard-e2e}"
node_dir="$cache_root/node-k8s-$K8S_VERSION"
bin="$node_dir/bin"
debian="$node_dir/debian"
mkdir -p "$bin" "$debian"

log() { printf '[build-node] %s\n' "$*" >&2; }
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

exec 9>"$node_dir/.lock"
if ! flock -n 9; then
  log "another build holds $node_dir/.lock; waiting for it"
  flock 9
fi

sleeper_source="$script_dir/sleeper/main.go"
sleeper_stamp() { sha256sum "$sleeper_source" | cut -d' ' -f1; }

# Debian package name -> pinned version, and the file that proves the unpacked package is complete.
declare -A deb_version=([docker-registry]=$DOCKER_REGISTRY_DEB [containerd]=$CONTAINERD_DEB [runc]=$RUNC_DEB)
declare -A deb_binary=([docker-registry]=usr/bin/docker-registry [containerd]=usr/bin/containerd [runc]=usr/sbin/runc)

version_ok() {
  local name=$1 out
  case $name in
    kubelet | kube-controller-manager)
      [ -x "$bin/$name" ] && out=$("$bin/$name" --version 2>&1) && [[ $out == "Kubernetes v$K8S_VERSION" ]] ;;
    crane) [ -x "$bin/crane" ] && out=$("$bin/crane" version 2>&1) && [[ $out == "v$CRANE_VERSION" ]] ;;
    sleeper) [ -x "$bin/sleeper" ] && [ "$(cat "$bin/sleeper.source-sha256" 2>/dev/null)" = "$(sleeper_stamp)" ] ;;
    htpasswd) command -v htpasswd >/dev/null ;;
    deb:*)
      local pkg=${name#deb:}
      [ -x "$debian/$pkg/${deb_binary[$pkg]}" ] && [ "$(cat "$debian/$pkg.version" 2>/dev/null)" = "${deb_version[$pkg]}" ] ;;
    *) return 1 ;;
  esac
}

components=(kubelet kube-controller-manager crane sleeper htpasswd deb:docker-registry deb:containerd deb:runc)
missing=()
for name in "${components[@]}"; do
  version_ok "$name" || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "cache warm: $node_dir"
  echo "$node_dir"
  exit 0
fi
log "to build: ${missing[*]} -> $node_dir ($(go version))"

work=$(mktemp -d "${TMPDIR:-/tmp}/pullguard-e2e-node-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
wants() { [[ " ${missing[*]} " == *" $1 "* ]]; }
timings=()
started() { step_start=$SECONDS; }
finished() { timings+=("$1: $((SECONDS - step_start))s"); log "$1 took $((SECONDS - step_start))s"; }
install_binary() { mv -f "$1" "$bin/$2"; version_ok "$2" || { log "$2 does not report the pinned version"; exit 1; }; }

build_kubernetes() {
  # The wrapper module of build-control-plane.sh: staging modules replaced by their v0.N.P tags.
  local dir="$work/k8s" kmod staging gd m
  mkdir -p "$dir" && cd "$dir"
  go mod init e2e.local/k8snode >/dev/null 2>&1
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
  retry quiet go get "k8s.io/kubernetes/cmd/kubelet@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION"
  finished "kubernetes modules (download)"
  local stamp="" pkg name
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    stamp+=" -X $pkg.gitTreeState=clean"
  done
  for name in kubelet kube-controller-manager; do
    wants "$name" || continue
    started
    go build -trimpath -pgo=off -ldflags "-s -w$stamp" -o "$work/$name.new" "k8s.io/kubernetes/cmd/$name"
    install_binary "$work/$name.new" "$name"
    finished "$name"
  done
}

build_crane() {
  cd "$work"
  started
  GOBIN="$work/crane-bin" retry go install -trimpath -ldflags "-s -w" "github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION"
  install_binary "$work/crane-bin/crane" crane
  finished crane
}

build_sleeper() {
  local dir="$work/sleeper"
  mkdir -p "$dir" && cp "$sleeper_source" "$dir/main.go" && cd "$dir"
  printf 'module e2e.local/sleeper\n\ngo 1.26\n' >go.mod
  started
  go build -trimpath -ldflags "-s -w" -o "$work/sleeper.new" .
  mv -f "$work/sleeper.new" "$bin/sleeper"
  sleeper_stamp >"$bin/sleeper.source-sha256"
  finished sleeper
}

ensure_htpasswd() {
  started
  # `apt-get install` of a package that is already there is a no-op; an old package list may not
  # know it yet, so update once on a miss.
  export DEBIAN_FRONTEND=noninteractive
  if ! quiet apt-get install -y --no-install-recommends apache2-utils; then
    quiet apt-get update
    quiet apt-get install -y --no-install-recommends apache2-utils
  fi
  finished "apache2-utils (htpasswd)"
}

fetch_debs() {
  local pkg dir="$work/debs"
  mkdir -p "$dir" && cd "$dir"
  # apt drops privileges to _apt for downloads; a root-owned temp dir would make it warn.
  chmod 755 "$dir"
  started
  local wanted=()
  for pkg in docker-registry containerd runc; do
    wants "deb:$pkg" && wanted+=("$pkg=${deb_version[$pkg]}")
  done
  if ! quiet apt-get download "${wanted[@]}"; then
    quiet apt-get update
    quiet apt-get download "${wanted[@]}" || {
      log "apt-get download ${wanted[*]} failed: is a pinned version in versions.env gone from Debian? (apt-cache policy docker-registry containerd runc)"
      exit 1
    }
  fi
  for pkg in docker-registry containerd runc; do
    wants "deb:$pkg" || continue
    rm -rf "$debian/$pkg" "$debian/$pkg.version"
    dpkg-deb -x "$dir/${pkg}_"*.deb "$debian/$pkg.new"
    mv "$debian/$pkg.new" "$debian/$pkg"
    echo "${deb_version[$pkg]}" >"$debian/$pkg.version"
    version_ok "deb:$pkg" || { log "$pkg: ${deb_binary[$pkg]} missing after unpacking"; exit 1; }
  done
  finished "debian packages (download, unpack)"
}

total_start=$SECONDS
if wants htpasswd; then ensure_htpasswd; fi
if wants deb:docker-registry || wants deb:containerd || wants deb:runc; then fetch_debs; fi
if wants sleeper; then build_sleeper; fi
if wants crane; then build_crane; fi
if wants kubelet || wants kube-controller-manager; then build_kubernetes; fi

log "built into $node_dir in $((SECONDS - total_start))s:"
for line in "${timings[@]}"; do log "  $line"; done
for name in "${components[@]}"; do
  version_ok "$name" || { log "$name missing after the build"; exit 1; }
done
echo "$node_dir"
