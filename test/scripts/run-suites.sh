#!/usr/bin/env bash
# Inside a throwaway cluster (PGHOST/PGPORT/PGUSER set by pg_virtualenv):
# runs each suite, prints failures, and ends with "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
status=0
# failures are also written to $MIGRATE_TEST_SUMMARY (set by run-tests.sh),
# which repeats them after pg_virtualenv's server log, so the end of the output
# says what failed
summary=${MIGRATE_TEST_SUMMARY:-/dev/null}
: >"$summary"

# suite_failed NAME OUTPUT: notes a failed suite and its failing lines
suite_failed() {
	{
		echo "FAILED: $1"
		echo "$2" | grep -E '^(not ok|#   Failed|# +(got|expected|Looks like)|Failed [0-9]+/|Bail out|[^ ]+ \.+ (Failed|Dubious)|.*(tests? failed|FAILED))' | head -n 60
	} >>"$summary"
}

# pg_regress + isolation
rm -f regression.diffs test/isolation/output/regression.diffs
make installcheck 2>&1 | tee /tmp/migrate_ext_installcheck.$$
rc=${PIPESTATUS[0]}
while read -r line; do
	case "$line" in
	*"tests passed"*) n=$(echo "$line" | grep -oE '[0-9]+' | head -1); passed=$((passed + n)) ;;
	*"tests failed"*)
		f=$(echo "$line" | grep -oE '[0-9]+' | head -1)
		t=$(echo "$line" | grep -oE '[0-9]+' | sed -n 2p)
		failed=$((failed + f)); passed=$((passed + t - f)) ;;
	esac
done < <(grep -E "All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed" /tmp/migrate_ext_installcheck.$$)
rm -f /tmp/migrate_ext_installcheck.$$
if [ "$rc" -ne 0 ]; then
	status=1
	for d in regression.diffs test/isolation/output/regression.diffs; do
		[ -f "$d" ] && { echo "===== $d"; cat "$d"; }
	done
	[ "$failed" -eq 0 ] && failed=1
	{
		echo "FAILED: pg_regress/isolation (make installcheck)"
		for d in regression.diffs test/isolation/output/regression.diffs; do
			[ -f "$d" ] && head -n 60 "$d"
		done
	} >>"$summary"
fi

# migrate.dry_run leaves a dumped database byte-for-byte unchanged (1 test)
if test/scripts/dry_run_unchanged.sh; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	status=1
	echo "FAILED: test/scripts/dry_run_unchanged.sh" >>"$summary"
fi

# count_tap NAME OUTPUT RC: adds a prove/pg_prove run to the totals ("Tests=N" of its
# summary, "Failed N/M subtests" per failed file; a failed run counts at least one)
count_tap() {
	local name=$1 t f
	shift
	t=$(echo "$1" | sed -n 's/.*Tests=\([0-9]*\).*/\1/p' | tail -1)
	f=$(echo "$1" | grep -oE 'Failed [0-9]+/[0-9]+ subtests' | grep -oE '^Failed [0-9]+' | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
	t=${t:-0}; f=${f:-0}
	if [ "$2" -ne 0 ]; then
		status=1
		suite_failed "$name" "$1"
		[ "$f" -eq 0 ] && f=1
	fi
	passed=$((passed + t - f))
	failed=$((failed + f))
}

# pgTAP
out=$(test/scripts/run-pgtap.sh 2>&1)
rc=$?
echo "$out"
count_tap pgTAP "$out" "$rc"

# the pg_migrate client: TAP shell scripts test/client/*.sh (their helpers are
# in test/client/lib/, which prove does not descend into)
out=$(prove --exec bash --ext .sh test/client/ 2>&1)
rc=$?
echo "$out"
count_tap "client TAP (test/client)" "$out" "$rc"

# hostile and malformed input: every SQL function and procedure of schema
# migrate called with NULLs, empty strings, 10 MB values, odd identifiers,
# wrong types and injections (one TAP test per case; a case fails on XX000, a
# lost connection or an injection that ran). Its diagnostics (the failing
# cases, the "# summary:" line, slow cases) and prove's result lines are shown.
out=$(prove --exec bash test/hostile/run.sh 2>&1)
rc=$?
echo "$out" | grep -E '^# ' | grep -vE '^# summary:'
echo "$out" | grep -E '^# summary:'
echo "$out" | tail -5
count_tap "hostile input (test/hostile)" "$out" "$rc"

# crash safety and hot standby: Perl TAP tests test/tap/*.pl that build their
# own clusters (PostgreSQL::Test::Cluster; as the postgres OS user when root)
out=$(test/scripts/run-tap.sh 2>&1)
rc=$?
echo "$out"
count_tap "Perl TAP (test/tap)" "$out" "$rc"

# memory errors: pg_regress and pgTAP once more against the extension built
# with UBSan, in a server under valgrind (its own private installation and
# cluster; slow: about half an hour)
out=$(test/scripts/run-sanitized.sh 2>&1)
rc=$?
echo "$out"
line=$(echo "$out" | grep -E '^memcheck: [0-9]+ passed' | tail -1)
t=$(echo "$line" | sed -n 's/^memcheck: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) errors.*/\1 \2 \3/p')
if [ -n "$t" ]; then
	read -r mp mf me <<<"$t"
	passed=$((passed + mp))
	failed=$((failed + mf + me))
else
	failed=$((failed + 1))
fi
if [ "$rc" -ne 0 ]; then
	status=1
	[ -z "$t" ] || [ $((mf + me)) -gt 0 ] || failed=$((failed + 1))
	suite_failed "memcheck (test/scripts/run-sanitized.sh)" "$out"
	echo "$out" | grep -E '^(=====|==[0-9]+==|memcheck:)' | head -n 60 >>"$summary"
fi

echo
echo "tests: $passed passed, $failed failed"
echo "tests: $passed passed, $failed failed" >>"$summary"
exit $status
