#!/usr/bin/env bash
# Benchmark entry point (make bench): installs missing Debian packages, builds
# and installs migrate_ext, then runs test/bench/apply_bench.sh,
# test/bench/lint_bench.sh, test/bench/audit_bench.sh,
# test/bench/events_bench.sh, test/bench/drift_bench.sh,
# test/bench/client_bench.sh (pg_migrate against psql and sqitch; installs the
# Debian package sqitch when missing) and test/bench/datamove_bench.sh
# (migrate.copy_rows against INSERT ... SELECT, and migrate.reconcile), one
# after the other, on one throwaway cluster (pg_virtualenv -t). Needs no
# running server; prints the measurements.
set -euo pipefail
cd "$(dirname "$0")/../.."
test/scripts/ensure-deps.sh
make
make install >/dev/null
exec pg_virtualenv -t sh -c 'test/bench/apply_bench.sh && test/bench/lint_bench.sh && test/bench/audit_bench.sh && test/bench/events_bench.sh && test/bench/drift_bench.sh && test/bench/client_bench.sh && test/bench/datamove_bench.sh'
