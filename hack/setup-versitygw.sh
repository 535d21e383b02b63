#!/usr/bin/env bash
# Builds versitygw, an S3-compatible server, from its Go module, pinned, for
# the tests of S3 sources. Prints its path on its last line of stdout.
set -euo pipefail
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
exec "$(dirname "${BASH_SOURCE[0]}")/build-go-tool.sh" versitygw github.com/versity/versitygw/cmd/versitygw \
  "$VERSITYGW_VERSION" "about 2 minutes the first time on 2 cores"
