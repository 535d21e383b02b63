#!/usr/bin/env bash
# Builds versitygw, an S3-compatible server, from its Go module, pinned, for
# the tests of S3 sources: no prebuilt binary can be downloaded here.
# Skipped when present at that version. Prints its path on its last line.
set -euo pipefail

VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
BIN="${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin}"
out="$BIN/versitygw-$VERSITYGW_VERSION"

if [ -x "$out" ]; then
  echo "setup-versitygw: $out present" >&2
  echo "$out"
  exit 0
fi
echo ">> building versitygw $VERSITYGW_VERSION from its Go module (about 2 minutes the first time on 2 cores)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
GOBIN="$work" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
mkdir -p "$BIN"
mv "$work/versitygw" "$out"
echo "$out"
