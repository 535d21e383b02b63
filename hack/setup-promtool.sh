#!/usr/bin/env bash
# Builds promtool from the Prometheus Go module, pinned, because no prebuilt
# binary can be downloaded here. Skipped when present at that version.
# Prints promtool's path on its last line of stdout.
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"   # Prometheus 3.16
BIN="${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin}"
out="$BIN/promtool-$PROMETHEUS_VERSION"

if [ -x "$out" ]; then
  echo "setup-promtool: $out present" >&2
  echo "$out"
  exit 0
fi
echo ">> building promtool $PROMETHEUS_VERSION from its Go module (about 10 minutes the first time on 2 cores)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
GOBIN="$work" go install "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
mkdir -p "$BIN"
mv "$work/promtool" "$out"
echo "$out"
