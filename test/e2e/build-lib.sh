# Shared by build-control-plane.sh and build-node.sh (sourced, never run): logging, retries, the
# cache lock, step timings, atomic installs and the k8s.io/kubernetes wrapper module. The caller
# sets `log_prefix`, `bin` and a `version_ok NAME` function before calling what needs them.

log() { printf '[%s] %s\n' "$log_prefix" "$*" >&2; }

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

# Two test runs may call a build at once: one builds, the other waits and then finds the cache warm.
# The lock is held on fd 9 until the script exits.
take_lock() {
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    log "another build holds $1/.lock; waiting for it"
    flock 9
  fi
}

timings=()
started() { step_start=$SECONDS; }
finished() { timings+=("$1: $((SECONDS - step_start))s"); log "$1 took $((SECONDS - step_start))s"; }
log_timings() {
  local line
  for line in "${timings[@]}"; do log "  $line"; done
}

# Writes to a temporary name, then renames: a killed build never leaves a binary that looks complete.
install_binary() { mv -f "$1" "$bin/$2"; version_ok "$2" || { log "$2 does not report the pinned version"; exit 1; }; }

# In the current (empty) directory: a wrapper module that can build commands of k8s.io/kubernetes at
# K8S_VERSION, then `go get` of the given commands. k8s.io/kubernetes requires its staging modules at
# v0.0.0 and replaces them with local paths, which Go ignores in a dependency, so each is replaced
# with its published v0.N.P tag (kubernetes/kubernetes#79384); the list comes from the downloaded
# go.mod, not from memory.
k8s_wrapper_module() {
  local module=$1 kmod staging gd m
  shift
  go mod init "$module" >/dev/null 2>&1
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
  local cmd packages=()
  for cmd in "$@"; do packages+=("k8s.io/kubernetes/cmd/$cmd@v$K8S_VERSION"); done
  retry quiet go get "${packages[@]}"
}

# Builds k8s.io/kubernetes/cmd/NAME for each NAME that `wants`, stamped with the version that
# hack/lib/version.sh stamps into both version packages (/version, kubectl's skew check and the
# apiserver's emulation version read them), and installs it into $bin. Run in the wrapper module.
build_k8s_commands() {
  local stamp="" pkg name
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    stamp+=" -X $pkg.gitTreeState=clean"
  done
  for name in "$@"; do
    wants "$name" || continue
    started
    go build -trimpath -pgo=off -ldflags "-s -w$stamp" -o "$work/$name.new" "k8s.io/kubernetes/cmd/$name"
    install_binary "$work/$name.new" "$name"
    finished "$name"
  done
}

wants() { [[ " ${missing[*]} " == *" $1 "* ]]; }
