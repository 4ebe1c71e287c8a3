#!/usr/bin/env bash
# Measures a data migration with migrate.copy_rows against the plain
# INSERT ... SELECT a DBA would write knowing in advance which rows are bad.
#   source   : legacy_orders (id int PRIMARY KEY, customer_id int, note text,
#              created timestamptz) with 1,000,000 rows by generate_series,
#              and customers (id int PRIMARY KEY) with 10,000 rows. 0.1% of
#              the orders (1,000: every id that is a multiple of 1,000) are
#              bad: half (id % 2000 = 0) have a NULL customer_id, the
#              other half a customer_id that is not in customers. Then
#              VACUUM (FREEZE, ANALYZE), so neither side sets hint bits.
#   target   : orders (id uuid PRIMARY KEY, legacy_order_id int UNIQUE NOT
#              NULL, customer_id int NOT NULL REFERENCES customers, note text,
#              created_at timestamptz): the legacy integer id becomes a
#              deterministic UUID key (md5('order' || id)::uuid), the legacy
#              id is kept, the timestamp column is renamed. Source query:
#                SELECT md5('order' || id)::uuid AS id, id AS legacy_order_id,
#                       customer_id, note, created AS created_at
#                  FROM legacy_orders
#   copy     : SELECT migrate.copy_rows('bench_rN', <source query>,
#              'orders', '{legacy_order_id}') (default batch_size 10,000,
#              on_conflict 'nothing'; the keyset walks the legacy primary key;
#              the bad rows are left out and recorded in migrate.copy_errors),
#              a new job name each round
#   plain    : INSERT INTO orders_plain <source query> WHERE customer_id IS
#              NOT NULL AND customer_id IN (SELECT id FROM customers), into a
#              table of the same definition
# Each side starts on a fresh target (dropped and created again), after a
# CHECKPOINT; one statement in autocommit, timed in its psql session from the
# statement before to the one after (so with the commit). 3 rounds, the order
# alternating; medians. Checked every round: both sides copied the same
# 999,000 rows, copy_rows returned rows_read 1,000,000 and rows_failed 1,000,
# and copy_errors holds exactly the 1,000 bad rows of the job (500 with
# SQLSTATE 23502, 500 with 23503); after the last round, the two targets hold
# the same rows. Target: copy_rows <= 1.5x the plain INSERT ... SELECT, with
# every bad row captured (PASS/MISS each). Printed for reference: the tuples
# each side inserted into its target (pg_stat_user_tables.n_tup_ins, so with
# the attempts rolled back in failing batches: how much work the splitting of
# failing batches redid).
# Then, also for reference: migrate.reconcile(<source query>, 'orders',
# '{legacy_order_id}') on the 1,000,000 source rows (3 runs, median), checked
# to find the 1,000 missing keys, no extra key and a success_rate of 99.90.
# Counts can be lowered for a quick run: BENCH_DATAMOVE_ROWS (1000000; must
# be a multiple of 2,000), BENCH_ROUNDS (3). Always exits 0 once the
# measurement ran (a missed target is reported as MISS, not as a failure);
# fails when a check fails. Takes about 5 minutes (on 2 cores; 1 GB of disk).
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops the database migrate_datamove_bench.
set -euo pipefail
cd "$(dirname "$0")"

ROWS=${BENCH_DATAMOVE_ROWS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
CUSTOMERS=10000
RATIO_TARGET=1.5
db=migrate_datamove_bench

. ./common.sh

fail() {
	echo "error: $*" >&2
	exit 1
}
((ROWS % 2000 == 0)) || fail "BENCH_DATAMOVE_ROWS must be a multiple of 2000"
BAD=$((ROWS / 1000))
GOOD=$((ROWS - BAD))

SOURCE_QUERY="SELECT md5('order' || id)::uuid AS id, id AS legacy_order_id, customer_id, note, created AS created_at FROM legacy_orders"
PLAIN_FILTER="WHERE customer_id IS NOT NULL AND customer_id IN (SELECT id FROM customers)"

echo
echo "== migrate_ext data migration benchmark (copy_rows) =="
echo "rows: $ROWS ($BAD bad: $((BAD / 2)) NULL customer_id, $((BAD / 2)) unknown customer_id), rounds per side: $ROUNDS"
echo "build: $(git describe --always --dirty 2>/dev/null || echo unknown), library installed $(date -u -r "$lib" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '(not found)')"
echo "PostgreSQL: $(psql_admin -Atc 'SELECT version()')"
echo "nproc: $(nproc)"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_wal_size', 'work_mem')")"

psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c 'CREATE EXTENSION migrate_ext'
[ "$(psql_db -c "SELECT to_regproc('migrate.copy_rows') IS NOT NULL AND to_regproc('migrate.reconcile') IS NOT NULL")" = t ] ||
	fail "migrate.copy_rows or migrate.reconcile is not installed"

# --- the legacy data -----------------------------------------------------------
t0=$(date +%s.%N)
psql_db <<EOF
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, $CUSTOMERS) g;
CREATE TABLE legacy_orders (id int PRIMARY KEY, customer_id int, note text, created timestamptz);
INSERT INTO legacy_orders
SELECT g,
       CASE WHEN g % 2000 = 0 THEN NULL           -- NOT NULL in the target
            WHEN g % 1000 = 0 THEN $CUSTOMERS + g -- no such customer (foreign key)
            ELSE 1 + g % $CUSTOMERS END,
       'order note ' || g || repeat('.', g % 40),
       timestamptz '2015-01-01 00:00:00+00' + g * interval '17 minutes'
  FROM generate_series(1, $ROWS) g;
VACUUM (FREEZE, ANALYZE) customers, legacy_orders;
EOF
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$ROWS" -v s="$(psql_db -c "SELECT pg_total_relation_size('legacy_orders')")" 'BEGIN {
	printf "legacy data: %d orders (%.0f MB with the primary key) made in %.1f s\n", n, s / 1048576, b - a
}'

# the target table NAME (fresh)
target_ddl() {
	cat <<EOF
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (
	id uuid PRIMARY KEY,
	legacy_order_id int UNIQUE NOT NULL,
	customer_id int NOT NULL REFERENCES customers,
	note text,
	created_at timestamptz
);
EOF
}

# run_side copy|plain round -> a psql output file with "<side> <seconds>" and checks
run_side() {
	local side=$1 r=$2 out="$work/$1_$2.out" job="bench_r$2"
	if [ "$side" = copy ]; then
		psql_db >"$out" <<EOF
$(target_ddl orders)
CHECKPOINT;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT migrate.copy_rows('$job', \$q\$$SOURCE_QUERY\$q\$, 'orders', '{legacy_order_id}') AS result \\gset
SELECT 'copy', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4);
SELECT pg_stat_force_next_flush();
SELECT 'tup_ins', n_tup_ins FROM pg_stat_user_tables WHERE relid = 'orders'::regclass;
SELECT 'result', :'result';
SELECT 'rows', count(*) FROM orders;
SELECT 'rows_read', :'result'::jsonb ->> 'rows_read';
SELECT 'rows_copied', :'result'::jsonb ->> 'rows_copied';
SELECT 'rows_failed', :'result'::jsonb ->> 'rows_failed';
SELECT 'rows_skipped', :'result'::jsonb ->> 'rows_skipped';
SELECT 'batches', :'result'::jsonb ->> 'batches';
SELECT 'elapsed_ms', :'result'::jsonb ->> 'elapsed_ms';
SELECT 'state', :'result'::jsonb ->> 'state';
SELECT 'errors', count(*) FROM migrate.copy_errors WHERE job = '$job';
SELECT 'errors_23502', count(*) FROM migrate.copy_errors WHERE job = '$job' AND sqlstate = '23502';
SELECT 'errors_23503', count(*) FROM migrate.copy_errors WHERE job = '$job' AND sqlstate = '23503';
SELECT 'errors_bad_keys', count(*) FROM migrate.copy_errors
 WHERE job = '$job' AND (row_key ->> 'legacy_order_id')::int % 1000 = 0;
SELECT 'errors_distinct', count(DISTINCT row_key) FROM migrate.copy_errors WHERE job = '$job';
SELECT 'errors_other', COALESCE(string_agg(DISTINCT sqlstate, ','), '-') FROM migrate.copy_errors
 WHERE job = '$job' AND sqlstate NOT IN ('23502', '23503');
EOF
	else
		psql_db >"$out" <<EOF
$(target_ddl orders_plain)
CHECKPOINT;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
INSERT INTO orders_plain $SOURCE_QUERY $PLAIN_FILTER;
SELECT 'plain', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4);
SELECT pg_stat_force_next_flush();
SELECT 'tup_ins', n_tup_ins FROM pg_stat_user_tables WHERE relid = 'orders_plain'::regclass;
SELECT 'rows', count(*) FROM orders_plain;
EOF
	fi
	echo "$out"
}

copy_times=()
plain_times=()
copy_ins=()
plain_ins=()
errors_all=ok
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="plain copy"; else order="copy plain"; fi
	line="  round $r"
	for side in $order; do
		out=$(run_side "$side" "$r")
		t=$(get "$side" "$out")
		[ "$(get rows "$out")" = "$GOOD" ] || fail "$side round $r: $(get rows "$out") rows in the target, expected $GOOD"
		if [ "$side" = copy ]; then
			[ "$(get state "$out")" = finished ] || fail "copy round $r: state $(get state "$out"), expected finished ($(sed -n 's/^result //p' "$out"))"
			[ "$(get rows_read "$out")" = "$ROWS" ] || fail "copy round $r: rows_read $(get rows_read "$out"), expected $ROWS"
			[ "$(get rows_copied "$out")" = "$GOOD" ] || fail "copy round $r: rows_copied $(get rows_copied "$out"), expected $GOOD"
			[ "$(get rows_failed "$out")" = "$BAD" ] || fail "copy round $r: rows_failed $(get rows_failed "$out"), expected $BAD"
			# every bad row captured: exactly the bad keys, each once, with the right SQLSTATEs
			e=$(get errors "$out")
			if [ "$e" != "$BAD" ] || [ "$(get errors_bad_keys "$out")" != "$BAD" ] || [ "$(get errors_distinct "$out")" != "$BAD" ] ||
				[ "$(get errors_23502 "$out")" != $((BAD / 2)) ] || [ "$(get errors_23503 "$out")" != $((BAD / 2)) ]; then
				errors_all="round $r: $e rows in copy_errors ($(get errors_distinct "$out") distinct keys, $(get errors_bad_keys "$out") of the bad keys, 23502: $(get errors_23502 "$out"), 23503: $(get errors_23503 "$out"), other: $(get errors_other "$out")); expected $BAD"
			fi
			copy_times+=("$t")
			copy_ins+=("$(get tup_ins "$out")")
			line+=$(printf '  copy_rows %.3f s (batches %s, its elapsed_ms %s, copy_errors %s, tuples inserted %s)' "$t" "$(get batches "$out")" "$(get elapsed_ms "$out")" "$e" "$(get tup_ins "$out")")
		else
			plain_times+=("$t")
			plain_ins+=("$(get tup_ins "$out")")
			line+=$(printf '  plain %.3f s (tuples inserted %s)' "$t" "$(get tup_ins "$out")")
		fi
	done
	echo "$line"
done
last_copy="$work/copy_$ROUNDS.out"
echo "  copy_rows result of the last round: $(sed -n 's/^result //p' "$last_copy" | cut -c1-400)"

# the two targets hold the same rows
diff_rows=$(psql_db -c "SELECT count(*) FROM ((TABLE orders EXCEPT ALL TABLE orders_plain) UNION ALL (TABLE orders_plain EXCEPT ALL TABLE orders)) d")
[ "$diff_rows" = 0 ] || fail "orders (copy_rows) and orders_plain (INSERT ... SELECT) differ by $diff_rows rows"

c=$(median "${copy_times[@]}")
p=$(median "${plain_times[@]}")
echo
echo "copy $ROWS rows ($BAD bad), medians of $ROUNDS rounds:"
awk -v n="$ROWS" -v g="$GOOD" -v p="$p" -v c="$c" -v target="$RATIO_TARGET" 'BEGIN {
	ratio = c / p
	printf "  plain INSERT ... SELECT (bad rows filtered in advance) %8.3f s  %9.0f rows/s\n", p, g / p
	printf "  migrate.copy_rows (batches, bad rows recorded)         %8.3f s  %9.0f rows/s\n", c, g / c
	printf "  ratio copy_rows / plain %.2f (target <= %.2f); both copied %d rows, the same rows\n", ratio, target, g
	if (sprintf("%.2f", ratio) + 0 <= target + 0)
		printf "PASS: ratio %.2f <= %.2f\n", ratio, target
	else
		printf "MISS: ratio %.2f > %.2f (by %.2f)\n", ratio, target, ratio - target
}'
if [ "$errors_all" = ok ]; then
	echo "PASS: every bad row captured: $BAD rows in migrate.copy_errors for each job ($((BAD / 2)) with SQLSTATE 23502, $((BAD / 2)) with 23503), exactly the bad keys"
else
	echo "MISS: not every bad row captured: $errors_all"
fi

echo
awk -v ci="$(median "${copy_ins[@]}")" -v pi="$(median "${plain_ins[@]}")" -v g="$GOOD" 'BEGIN {
	printf "for reference: tuples inserted into the target (pg_stat n_tup_ins, attempts rolled back in failing batches included; medians): copy_rows %d (%.2fx the rows copied), plain %d\n", ci, ci / g, pi
}'

# --- reconcile -----------------------------------------------------------------------
rec_times=()
for ((r = 1; r <= ROUNDS; r++)); do
	out="$work/reconcile_$r.out"
	psql_db >"$out" <<EOF
CHECKPOINT;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT migrate.reconcile(\$q\$$SOURCE_QUERY\$q\$, 'orders', '{legacy_order_id}') AS result \\gset
SELECT 'reconcile', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4);
SELECT 'check', (:'result'::jsonb ->> 'source_count') || ' ' || (:'result'::jsonb ->> 'target_count') || ' ' ||
       (:'result'::jsonb ->> 'matched') || ' ' || (:'result'::jsonb ->> 'missing_in_target') || ' ' ||
       (:'result'::jsonb ->> 'extra_in_target') || ' ' || ((:'result'::jsonb ->> 'success_rate')::numeric = round(100.0 * $GOOD / $ROWS, 2)) || ' ' ||
       jsonb_array_length(:'result'::jsonb -> 'missing_keys') || ' ' || (:'result'::jsonb -> 'missing_keys' ->> 0);
EOF
	rec_times+=("$(get reconcile "$out")")
	got=$(grep '^check ' "$out" | cut -d' ' -f2-)
	want="$ROWS $GOOD $GOOD $BAD 0 true $((BAD < 100 ? BAD : 100)) 1000"
	[ "$got" = "$want" ] || fail "reconcile round $r: source_count target_count matched missing extra success_rate=99.90 #missing_keys first_missing = $got, expected $want"
done
rec=$(median "${rec_times[@]}")
echo
awk -v s="$rec" -v n="$ROWS" -v g="$GOOD" -v b="$BAD" -v p="$p" 'BEGIN {
	printf "reconcile %d source rows against %d target rows by legacy_order_id: %.3f s (median), %.0f source rows/s, %.2fx the plain INSERT ... SELECT; found the %d missing keys, 0 extra, success_rate 99.90\n",
		n, g, s, n / s, s / p, b
}'

[ "$(lib_stamp)" = "$lib_at_start" ] || echo "warning: the installed migrate_ext library changed during the run; the numbers may mix two builds"
psql_admin -c "DROP DATABASE $db"
