#!/usr/bin/env bash
# Lists the packages whose tests need no tool: no control plane (envtest), no
# PostgreSQL, no browser, no local cluster, no helm, promtool or S3 server. `make unit`
# runs them; `make test` runs everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
needs_tools='s3test\.Start\(|testenv\.(Start|AssetsDir)\(|pgtest\.|chromedp|cluster\.Start|startCluster\(|promtool\(|storetest\.|tool\(t, "HELM"'
for dir in $(go list -f '{{.Dir}}' ./...); do
  compgen -G "$dir/*_test.go" >/dev/null || continue
  grep -qE "$needs_tools" "$dir"/*_test.go && continue
  echo "./${dir#"$PWD"/}"
done
