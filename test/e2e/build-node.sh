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

log_prefix=build-node
# shellcheck source=build-lib.sh
source "$script_dir/build-lib.sh"
take_lock "$node_dir"

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
build_kubernetes() {
  mkdir -p "$work/k8s" && cd "$work/k8s"
  started
  k8s_wrapper_module e2e.local/k8snode kubelet kube-controller-manager
  finished "kubernetes modules (download)"
  build_k8s_commands kubelet kube-controller-manager
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
log_timings
for name in "${components[@]}"; do
  version_ok "$name" || { log "$name missing after the build"; exit 1; }
done
echo "$node_dir"
