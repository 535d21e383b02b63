#!/usr/bin/env bash
# Copies the Prometheus Operator CRDs the chart's monitoring objects need
# (ServiceMonitor, PodMonitor, PrometheusRule) from its Go module, pinned,
# into test/install/testdata/monitoring-crds for the chart test.
set -euo pipefail
VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.94.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$(cd "$ROOT/hack/tools" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
out="$ROOT/test/install/testdata/monitoring-crds"
mkdir -p "$out"
for kind in servicemonitors podmonitors prometheusrules; do
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$out/"
  chmod 644 "$out/monitoring.coreos.com_$kind.yaml"
done
echo "$VERSION" >"$out/VERSION"
