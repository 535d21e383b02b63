#!/usr/bin/env bash
# Builds a tool from its Go module, pinned, into $BIN/NAME-VERSION, because
# no prebuilt binary can be downloaded here; skipped when present. Prints
# the tool's path on its last line of stdout.
#
#   hack/build-go-tool.sh NAME PACKAGE VERSION "ABOUT"
set -euo pipefail

name="$1" package="$2" version="$3" about="${4:-}"
BIN="${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin}"
out="$BIN/$name-$version"

if [ -x "$out" ]; then
  echo "$name: $out present" >&2
  echo "$out"
  exit 0
fi
echo ">> building $name $version from its Go module${about:+ ($about)}" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
GOBIN="$work" go install "$package@$version"
mkdir -p "$BIN"
mv "$work/$(basename "$package")" "$out"
echo "$out"
