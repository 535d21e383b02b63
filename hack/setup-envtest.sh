#!/usr/bin/env bash
# Builds the control-plane binaries that envtest, the end-to-end tests and
# `make demo` need (kube-apiserver, kube-controller-manager, kubectl, etcd)
# from Go modules, because no prebuilt binary can be downloaded here.
#
# They land in the standard envtest asset folder and are skipped when present.
# Prints the asset folder on its last line of stdout (use with `| tail -1`).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
STAGING_VERSION="v0${K8S_VERSION#1}"   # 1.37.2 -> v0.37.2
ASSETS="${KUBEBUILDER_ASSETS_DIR:-$HOME/.local/share/kubebuilder-envtest/k8s/${K8S_VERSION}-linux-amd64}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { echo "setup-envtest: $*" >&2; }

mkdir -p "$ASSETS"
missing=()
for bin in kube-apiserver kube-controller-manager kubectl etcd; do
  [ -x "$ASSETS/$bin" ] || missing+=("$bin")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "all binaries present in $ASSETS"
  echo "$ASSETS"
  exit 0
fi
log "missing: ${missing[*]} (the first build takes about 10 minutes on 2 cores)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

build_kube() {
  local mod="$work/kube"
  mkdir -p "$mod"
  cp "$HERE/toolchain/kube/tools.go.tmpl" "$mod/tools.go"
  log "resolving k8s.io/kubernetes@v${K8S_VERSION} and its staging modules"
  local gomod
  gomod="$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  {
    echo "module contactconverter.io/hack/toolchain/kube"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    # Every ./staging replace of k8s.io/kubernetes becomes a replace to the
    # published staging module of the matching version.
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
  } >"$mod/go.mod"
  log "$(grep -c '^replace' "$mod/go.mod") staging replaces written; go mod tidy"
  (cd "$mod" && go mod tidy >&2)
  for bin in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$ASSETS/$bin" ] && continue
    log "building $bin (several minutes)"
    (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ASSETS/$bin" "k8s.io/kubernetes/cmd/$bin")
    log "built $ASSETS/$bin"
  done
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  cp "$HERE/toolchain/etcd/tools.go.tmpl" "$mod/tools.go"
  printf 'module contactconverter.io/hack/toolchain/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$mod/go.mod"
  log "building etcd $ETCD_VERSION (about a minute)"
  (cd "$mod" && go mod tidy >&2 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ASSETS/etcd" go.etcd.io/etcd/server/v3)
  log "built $ASSETS/etcd"
}

for bin in "${missing[@]}"; do
  case "$bin" in
    etcd) build_etcd ;;
  esac
done
for bin in "${missing[@]}"; do
  case "$bin" in
    kube-*|kubectl) build_kube; break ;;
  esac
done
log "ready: $ASSETS"
echo "$ASSETS"
