#!/usr/bin/env bash
# Measures the overhead of migrate.apply against plain psql.
# Generates 1,000 small migrations (a table with a primary key and an index
# each) and applies them on a fresh database in two ways:
#   plain : psql runs the SQL directly, each migration in its own
#           BEGIN; ... COMMIT; transaction
#   apply : psql runs 1,000 SELECT migrate.apply(...) calls (autocommit, one
#           transaction each) on a database with migrate_ext
# Each side runs 3 times, alternating, on a fresh database each run; the
# median wall-clock times, their ratio (target <= 1.30) and migrations per
# second are printed, followed by a per-migration breakdown from
# migrate.migrations.execution_ms. Always exits 0 once the measurement ran
# (a missed target is reported as MISS, not as a failure).
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops databases named migrate_bench_*.
set -euo pipefail

N=${BENCH_MIGRATIONS:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
TARGET=1.30

. "$(dirname "$0")/common.sh"


echo "== migrate_ext apply benchmark =="
echo "PostgreSQL: $(psql_admin -Atc 'SELECT version()')"
echo "nproc: $(nproc)"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level')")"
echo "migrations: $N, rounds per side: $ROUNDS"

# --- generate the two input files -------------------------------------------
plain="$work/plain.sql"
apply="$work/apply.sql"
for ((i = 1; i <= N; i++)); do
	v=$(printf '%04d' "$i")
	sql="CREATE TABLE bench_t$v (id bigint PRIMARY KEY, v text, created_at timestamptz DEFAULT now());
CREATE INDEX bench_t${v}_v_idx ON bench_t$v (v);"
	printf 'BEGIN;\n%s\nCOMMIT;\n' "$sql" >&3
	printf "SELECT migrate.apply('%s', 'create bench_t%s', \$m\$%s\$m\$);\n" "$v" "$v" "$sql" >&4
done 3>"$plain" 4>"$apply"

# --- one timed run -----------------------------------------------------------
# run_one plain|apply round -> prints elapsed seconds; leaves the database
run_one() {
	local side=$1 round=$2 db="migrate_bench_$1_$2" file t0 t1
	psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	if [ "$side" = apply ]; then
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION migrate_ext'
		file=$apply
	else
		file=$plain
	fi
	# start each run from a clean checkpoint so runs do not pay for each other
	psql_admin -c CHECKPOINT
	t0=$(date +%s.%N)
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$file" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# sanity check: the run really created N tables (and N applied migrations)
check_db() {
	local side=$1 db=$2 n
	n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'bench\_t%'")
	[ "$n" -eq "$N" ] || { echo "error: $db has $n bench tables, expected $N" >&2; exit 1; }
	if [ "$side" = apply ]; then
		n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM migrate.migrations WHERE state = 'applied'")
		[ "$n" -eq "$N" ] || { echo "error: $db has $n applied migrations, expected $N" >&2; exit 1; }
	fi
}

plain_times=()
apply_times=()
for ((r = 1; r <= ROUNDS; r++)); do
	for side in plain apply; do
		t=$(run_one "$side" "$r")
		check_db "$side" "migrate_bench_${side}_$r"
		printf '  round %d %-5s %s s\n' "$r" "$side" "$t"
		if [ "$side" = plain ]; then plain_times+=("$t"); else apply_times+=("$t"); fi
		# keep the last apply database for the breakdown below
		if [ "$side" = plain ] || [ "$r" -lt "$ROUNDS" ]; then
			psql_admin -c "DROP DATABASE migrate_bench_${side}_$r"
		fi
	done
done

p=$(median "${plain_times[@]}")
a=$(median "${apply_times[@]}")

echo
awk -v n="$N" -v p="$p" -v a="$a" -v target="$TARGET" 'BEGIN {
	ratio = a / p
	printf "apply %d migrations: plain psql %.2f s, migrate.apply %.2f s, ratio %.2f (target <= %.2f)\n", n, p, a, ratio, target
	printf "throughput: plain psql %.0f migrations/s, migrate.apply %.0f migrations/s\n", n / p, n / a
	printf "per migration: plain psql %.2f ms, migrate.apply %.2f ms, overhead %.2f ms\n", 1000 * p / n, 1000 * a / n, 1000 * (a - p) / n
	# compare the rounded figures that are printed
	if (sprintf("%.2f", ratio) + 0 <= target + 0)
		printf "PASS: ratio %.2f <= %.2f\n", ratio, target
	else
		printf "MISS: ratio %.2f > %.2f (by %.2f)\n", ratio, target, ratio - target
}'

# --- where the time of migrate.apply goes (last apply run) --------------------
db="migrate_bench_apply_$ROUNDS"
echo
echo "breakdown of the last migrate.apply run (from migrate.migrations, per migration):"
psql -X -At -F ' ' -d "$db" -c "
	SELECT round(avg(execution_ms)::numeric, 3),
	       round(avg(lock_wait_ms)::numeric, 3),
	       round(sum(execution_ms)::numeric / 1000, 2),
	       round((extract(epoch FROM max(applied_at) - min(started_at)) * 1000 / count(*))::numeric, 3)
	  FROM migrate.migrations" | {
	read -r exec_ms lock_ms exec_total_s span_ms
	awk -v e="$exec_ms" -v l="$lock_ms" -v et="$exec_total_s" -v s="$span_ms" -v w="${apply_times[$((ROUNDS - 1))]}" -v n="$N" 'BEGIN {
		wall = 1000 * w / n
		printf "  wall clock per apply (client side)            %8.3f ms\n", wall
		printf "  execution_ms (script statements + verify)     %8.3f ms  (%.2f s in total)\n", e, et
		printf "  lock_wait_ms                                  %8.3f ms\n", l
		printf "  rest: parse, checks, bookkeeping, commit, I/O %8.3f ms\n", wall - e - l
		printf "  (start of first apply to end of last: %.3f ms per migration)\n", s
	}'
}
psql_admin -c "DROP DATABASE $db"
