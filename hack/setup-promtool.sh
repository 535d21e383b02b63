#!/usr/bin/env bash
# Builds promtool from the Prometheus Go module, pinned, for the alert
# tests. Prints promtool's path on its last line of stdout.
set -euo pipefail
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"   # Prometheus 3.16
exec "$(dirname "${BASH_SOURCE[0]}")/build-go-tool.sh" promtool github.com/prometheus/prometheus/cmd/promtool \
  "$PROMETHEUS_VERSION" "about 10 minutes the first time on 2 cores"
