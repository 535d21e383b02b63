#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing:
# make, git, postgresql (server binaries; the tests start their own server),
# time, and chromium (the preference center's browser test).
# Go tools (controller-gen, helm, the control plane) are built by `make test`.
set -euo pipefail

need=()
command -v make >/dev/null || need+=(make)
command -v git >/dev/null || need+=(git)
# A real PostgreSQL for the store tests (started by the tests themselves).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# /usr/bin/time measures peak memory in `make bench`.
[ -x /usr/bin/time ] || need+=(time)
# A real browser drives the preference center's pages.
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-deps: Debian packages already present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-test-deps: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
