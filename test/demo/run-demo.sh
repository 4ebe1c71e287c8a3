#!/usr/bin/env bash
# Demo entry point (make demo, README command #1): installs missing Debian
# packages, builds and installs migrate_ext, then runs test/demo/demo.sh on a
# throwaway cluster (pg_virtualenv -t). Needs no running server.
# Exits 0 when every step of the demo behaved as expected.
set -euo pipefail
cd "$(dirname "$0")/../.."
test/scripts/ensure-deps.sh
make
make install >/dev/null
exec pg_virtualenv -t test/demo/demo.sh
