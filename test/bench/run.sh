#!/usr/bin/env bash
# Benchmark entry point (make bench): installs missing Debian packages, builds
# and installs migrate_ext, then runs test/bench/apply_bench.sh on a throwaway
# cluster (pg_virtualenv -t). Needs no running server; prints the measurements.
set -euo pipefail
cd "$(dirname "$0")/../.."
test/scripts/ensure-deps.sh
make
make install >/dev/null
exec pg_virtualenv -t test/bench/apply_bench.sh
