#!/usr/bin/env bash
# Fails when `make manifests generate` changes any generated file, so the
# committed CRDs, RBAC, chart templates, Argo CD ConfigMap patch and DeepCopy
# code are always current.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files() {
  { find config/crd/bases charts/contact-converter/templates -type f; echo config/rbac/role.yaml; echo config/argocd/argocd-cm.yaml
    echo docs/api.md; echo charts/contact-converter/README.md; find api -name 'zz_generated*.go'; } | sort
}
before="$(files | xargs sha256sum)"
make --no-print-directory manifests generate >/dev/null
after="$(files | xargs sha256sum)"
if [ "$before" != "$after" ]; then
  echo "verify-generated: generated files were stale; \`make manifests generate\` has updated them:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  echo "verify-generated: review and commit them." >&2
  exit 1
fi
echo "verify-generated: CRDs, RBAC, chart, Argo CD patch, API reference, chart README and DeepCopy code are current"
