#!/usr/bin/env bash
# Runs every migrate_ext test suite on a throwaway cluster (pg_virtualenv -t):
# pg_regress and isolation specs (make installcheck), pgTAP (pg_prove).
# Installs missing Debian packages; needs no running server.
# Exits non-zero on any failure, printing the failing diffs.
set -euo pipefail
cd "$(dirname "$0")/.."
test/scripts/ensure-deps.sh
make clean >/dev/null
make
make install >/dev/null
# pg_virtualenv prints the server log after a failed run: the failures are
# repeated after it
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
set +e
MIGRATE_TEST_SUMMARY=$summary pg_virtualenv -t -o shared_preload_libraries=pg_stat_statements test/scripts/run-suites.sh
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
	echo
	echo "===== what failed (repeated after the server log)"
	if [ -s "$summary" ]; then
		cat "$summary"
	else
		echo "the suites did not finish (exit code $rc)"
	fi
fi
exit "$rc"
