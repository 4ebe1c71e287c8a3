#!/usr/bin/env bash
# Measures schema drift detection on a large schema: migrate.snapshot()
# against pg_dump --schema-only of the same database, and migrate.drift()
# after one out-of-band change, incremental (the DDL ledger says which objects
# to read again) and full (full_check => true).
#   schema   : in schema app, a table root and 5,000 tables t0001..t5000, each
#              with id bigint PRIMARY KEY, parent_id bigint REFERENCES the
#              previous table (t0001: root), name text NOT NULL,
#              amount numeric(12,2), created_at timestamptz DEFAULT now(),
#              status text with a CHECK (status IN (...)); 3 more indexes
#              (name; created_at; (status, amount) WHERE status <> 'archived');
#              a BEFORE INSERT OR UPDATE trigger calling one shared trigger
#              function app.touch(); every 10th table with ENABLE ROW LEVEL
#              SECURITY and a policy (500); a view and a function (SQL and
#              PL/pgSQL in turn) for every 25th table (200 each). Made by
#              DO blocks of 250 tables (one transaction each, so the lock table
#              is not exhausted); the DDL ledger logs every command (about
#              36,000 rows in migrate.ddl_log). Then VACUUM ANALYZE.
#   snapshot : pg_dump --schema-only -f /dev/null against
#              psql -XAt -c 'SELECT migrate.snapshot()' >/dev/null, both wall
#              clock from the shell (each connects, reads the schema and
#              writes all of it to /dev/null on the client); one untimed
#              warm-up of each (its output kept to print its size), then
#              3 rounds, the order rotating, a CHECKPOINT before each; medians.
#              For reference (not in the target), the same psql with
#              PGOPTIONS='-c jit=off' (at this size the snapshot's queries pass
#              jit_above_cost), and the time of migrate.snapshot() on the
#              server (clock_timestamp() around an assignment in a DO block; no
#              output sent): the first call in a new session (after
#              LOAD 'migrate_ext') and a second call in the same session.
#              Checked: every call returns the same object_count and
#              fingerprint. Target: the client-side snapshot >= 4x faster than
#              pg_dump -s (the settings of the cluster, jit included).
#   drift    : migrate.snapshot_save('bench') (timed, printed), then ONE out-of-
#              band change, ALTER TABLE app.t2500 ALTER COLUMN name SET DEFAULT
#              'x'; then SELECT * FROM migrate.drift() (incremental) and
#              SELECT * FROM migrate.drift(full_check => true), each 3 rounds
#              in a new session (after LOAD 'migrate_ext'), timed in that
#              session from the statement before to the one after (so with the
#              rows sent to psql): the first call of the session and a second
#              one; medians. Checked: every call returns exactly one row, the
#              column app.t2500.name, changed, attribute default, attributed
#              to the out-of-band statement. Target: the incremental check
#              (first call in a session) <= 50 ms.
# Counts can be lowered for a quick run: BENCH_DRIFT_TABLES (5000; views,
# functions and policies scale with it; pg_dump locks every table in one
# transaction, so much more than 5,000 needs a larger max_locks_per_transaction),
# BENCH_ROUNDS (3); BENCH_DRIFT_KEEP=1 keeps the database for profiling. Always exits 0 once the measurement ran (a missed target
# is reported as MISS, not as a failure); fails when a check fails. Takes
# about 2 minutes (on 2 cores).
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops the database migrate_drift_bench.
set -euo pipefail
cd "$(dirname "$0")"

TABLES=${BENCH_DRIFT_TABLES:-5000}
ROUNDS=${BENCH_ROUNDS:-3}
BATCH=250
SPEED_TARGET=4
DRIFT_TARGET_MS=50
db=migrate_drift_bench

. ./common.sh

now() { date +%s.%N; }
# milliseconds from $1 to $2 (date +%s.%N)
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", 1000 * (b - a) }'; }
fail() {
	echo "error: $*" >&2
	exit 1
}

[ "$TABLES" -ge 2 ] || fail "BENCH_DRIFT_TABLES must be at least 2"
width=${#TABLES}
[ "$width" -ge 4 ] || width=4
tname() { printf "t%0${width}d" "$1"; }
changed=$(tname $(((TABLES + 1) / 2)))
views=$((TABLES / 25))
[ "$views" -ge 1 ] || views=1

echo
echo "== migrate_ext schema drift benchmark =="
echo "schema: $TABLES tables (each: 6 columns, primary key, foreign key, check, 3 more indexes, trigger), $((TABLES / 10)) policies, $views views, $views functions; $ROUNDS rounds"
echo "build: $(git describe --always --dirty 2>/dev/null || echo unknown), library installed $(date -u -r "$lib" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '(not found)')"
echo "PostgreSQL: $(psql_admin -Atc 'SHOW server_version'), pg_dump: $(pg_dump --version), nproc: $(nproc)"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_locks_per_transaction', 'max_connections', 'jit')")"

psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c 'CREATE EXTENSION migrate_ext'

# --- the schema ------------------------------------------------------------------------
# one DO block (one transaction) per $BATCH tables
gen="$work/schema.sql"
{
	cat <<'EOF'
CREATE SCHEMA app;
CREATE TABLE app.root (id bigint PRIMARY KEY, name text NOT NULL);
COMMENT ON TABLE app.root IS 'parent of t0001';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	NEW.name := btrim(NEW.name);
	RETURN NEW;
END
$f$;
EOF
	for ((lo = 1; lo <= TABLES; lo += BATCH)); do
		hi=$((lo + BATCH - 1))
		[ "$hi" -le "$TABLES" ] || hi=$TABLES
		cat <<EOF
DO \$gen\$
DECLARE
	t text;
	p text;
BEGIN
	FOR i IN $lo..$hi LOOP
		t := 't' || lpad(i::text, $width, '0');
		p := CASE WHEN i = 1 THEN 'root' ELSE 't' || lpad((i - 1)::text, $width, '0') END;
		EXECUTE format(\$s\$CREATE TABLE app.%1\$I (
			id bigint PRIMARY KEY,
			parent_id bigint REFERENCES app.%2\$I (id),
			name text NOT NULL,
			amount numeric(12,2) NOT NULL DEFAULT 0,
			created_at timestamptz NOT NULL DEFAULT now(),
			status text NOT NULL DEFAULT 'new' CONSTRAINT %3\$I CHECK (status IN ('new', 'active', 'closed', 'archived')))\$s\$,
			t, p, t || '_status_check');
		EXECUTE format('CREATE INDEX %I ON app.%I (name)', t || '_name_idx', t);
		EXECUTE format('CREATE INDEX %I ON app.%I (created_at)', t || '_created_at_idx', t);
		EXECUTE format(\$s\$CREATE INDEX %I ON app.%I (status, amount) WHERE status <> 'archived'\$s\$, t || '_status_amount_idx', t);
		EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON app.%I FOR EACH ROW EXECUTE FUNCTION app.touch()', t || '_touch', t);
		IF i % 10 = 0 THEN
			EXECUTE format('ALTER TABLE app.%I ENABLE ROW LEVEL SECURITY', t);
			EXECUTE format(\$s\$CREATE POLICY %I ON app.%I USING (status <> 'archived') WITH CHECK (amount >= 0)\$s\$, t || '_visible', t);
		END IF;
		IF i % 25 = 0 OR ($TABLES < 25 AND i = $TABLES) THEN
			EXECUTE format(\$s\$CREATE VIEW app.%1\$I AS
				SELECT c.id, c.name, c.amount, c.status, p.name AS parent_name
				  FROM app.%2\$I c LEFT JOIN app.%3\$I p ON p.id = c.parent_id
				 WHERE c.status <> 'archived'\$s\$, 'v' || substr(t, 2), t, p);
			IF i % 50 = 0 THEN
				EXECUTE format(\$s\$CREATE FUNCTION app.%1\$I(p_parent bigint) RETURNS numeric LANGUAGE sql STABLE
					AS 'SELECT sum(amount) FROM app.%2\$I WHERE parent_id = p_parent'\$s\$, 'f' || substr(t, 2), t);
			ELSE
				EXECUTE format(\$s\$CREATE FUNCTION app.%1\$I(p_id bigint, p_status text DEFAULT 'active') RETURNS integer LANGUAGE plpgsql
					AS \$b\$
					BEGIN
						UPDATE app.%2\$I SET status = p_status WHERE id = p_id;
						RETURN 1;
					END
					\$b\$\$s\$, 'f' || substr(t, 2), t);
			END IF;
		END IF;
	END LOOP;
END
\$gen\$;
EOF
	done
} >"$gen"
t0=$(now)
psql_db -f "$gen"
t1=$(now)
psql_db -c 'VACUUM ANALYZE'
t2=$(now)
psql_db >"$work/counts.out" <<'EOF'
SELECT 'tables', count(*) FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind = 'r';
SELECT 'columns', count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped;
SELECT 'indexes', count(*) FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind = 'i';
SELECT 'constraints', count(*) FROM pg_constraint WHERE connamespace = 'app'::regnamespace;
SELECT 'triggers', count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = 'app'::regnamespace AND NOT g.tgisinternal;
SELECT 'internal_triggers', count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = 'app'::regnamespace AND g.tgisinternal;
SELECT 'policies', count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'app'::regnamespace;
SELECT 'views', count(*) FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind = 'v';
SELECT 'functions', count(*) FROM pg_proc WHERE pronamespace = 'app'::regnamespace;
SELECT 'ledger', count(*) FROM migrate.ddl_log;
EOF
c() { get "$1" "$work/counts.out"; }
[ "$(c tables)" = $((TABLES + 1)) ] || fail "$(c tables) tables in app, expected $((TABLES + 1))"
[ "$(c policies)" = $((TABLES / 10)) ] || fail "$(c policies) policies in app, expected $((TABLES / 10))"
echo "schema generated in $(ms_between "$t0" "$t1" | awk '{ printf "%.1f", $1 / 1000 }') s, VACUUM ANALYZE $(ms_between "$t1" "$t2" | awk '{ printf "%.1f", $1 / 1000 }') s"
echo "catalog (schema app): $(c tables) tables, $(c columns) columns (tables and views), $(c indexes) indexes, $(c constraints) constraints, $(c triggers) triggers (and $(c internal_triggers) internal foreign key triggers), $(c policies) policies, $(c views) views, $(c functions) functions; $(c ledger) rows in migrate.ddl_log"

# --- migrate.snapshot() against pg_dump -s -----------------------------------------------
# warm-up runs, their output kept for the sizes
pg_dump --schema-only -d "$db" -f "$work/dump.sql"
psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c 'SELECT migrate.snapshot()' >"$work/snapshot.json"
psql_db >"$work/snapshot_kinds.out" <<'EOF'
CREATE TEMP TABLE snap AS SELECT migrate.snapshot() AS s;
SELECT 'object_count', s ->> 'object_count' FROM snap;
SELECT 'fingerprint', s ->> 'fingerprint' FROM snap;
SELECT 'kinds', string_agg(k || ' ' || n, ', ' ORDER BY n DESC, k)
  FROM (SELECT o ->> 'kind' AS k, count(*) AS n FROM snap, jsonb_array_elements(s -> 'objects') o GROUP BY 1) x;
SELECT 'unmodeled', COALESCE(string_agg((u ->> 'kind') || ' ' || (u ->> 'count'), ', '), 'none')
  FROM snap, jsonb_array_elements(s -> 'unmodeled') u;
EOF
object_count=$(get object_count "$work/snapshot_kinds.out")
fingerprint=$(get fingerprint "$work/snapshot_kinds.out")
if [ -z "$object_count" ] || [ "$object_count" -le "$TABLES" ]; then
	fail "migrate.snapshot() returned object_count '$object_count'"
fi
echo "migrate.snapshot(): $object_count objects ($(grep '^kinds ' "$work/snapshot_kinds.out" | cut -d' ' -f2-); unmodeled: $(grep '^unmodeled ' "$work/snapshot_kinds.out" | cut -d' ' -f2-)), $(($(wc -c <"$work/snapshot.json") / 1024)) kB of JSON text"
echo "pg_dump --schema-only: $(($(wc -c <"$work/dump.sql") / 1024)) kB of SQL, $(grep -c '^CREATE ' "$work/dump.sql") CREATE, $(grep -c '^ALTER ' "$work/dump.sql") ALTER statements"

server_snapshot_sql() {
	cat <<'EOF'
LOAD 'migrate_ext';
DO $$
DECLARE
	t0 timestamptz;
	t1 timestamptz;
	s jsonb;
BEGIN
	FOR k IN 1..2 LOOP
		t0 := clock_timestamp();
		s := migrate.snapshot();
		t1 := clock_timestamp();
		PERFORM set_config('bench.ms_' || k, (1000 * extract(epoch FROM t1 - t0))::numeric(12, 1)::text, false);
		PERFORM set_config('bench.count_' || k, s ->> 'object_count', false);
		PERFORM set_config('bench.fp_' || k, s ->> 'fingerprint', false);
	END LOOP;
END
$$;
SELECT 'first', current_setting('bench.ms_1'), current_setting('bench.count_1'), current_setting('bench.fp_1');
SELECT 'second', current_setting('bench.ms_2'), current_setting('bench.count_2'), current_setting('bench.fp_2');
EOF
}
SIDES=(dump snapshot snapshot_nojit)
declare -A times
first_ms=()
second_ms=()
for ((r = 1; r <= ROUNDS; r++)); do
	line="  round $r"
	for ((k = 0; k < ${#SIDES[@]}; k++)); do
		side=${SIDES[$(((k + r - 1) % ${#SIDES[@]}))]}
		psql_admin -c CHECKPOINT
		a=$(now)
		case "$side" in
		dump) pg_dump --schema-only -d "$db" -f /dev/null ;;
		snapshot) psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c 'SELECT migrate.snapshot()' >/dev/null ;;
		snapshot_nojit) PGOPTIONS='-c jit=off' psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c 'SELECT migrate.snapshot()' >/dev/null ;;
		esac
		b=$(now)
		times[$side]="${times[$side]:-} $(ms_between "$a" "$b")"
		line+="  $side $(ms_between "$a" "$b") ms"
	done
	out="$work/server_$r.out"
	server_snapshot_sql | psql_db >"$out"
	for k in first second; do
		read -r _ ms n fp < <(grep "^$k " "$out")
		if [ "$n" != "$object_count" ] || [ "$fp" != "$fingerprint" ]; then
			fail "round $r: migrate.snapshot() ($k call in the session) returned $n objects, fingerprint $fp; the warm-up returned $object_count, $fingerprint"
		fi
		if [ "$k" = first ]; then first_ms+=("$ms"); else second_ms+=("$ms"); fi
		line+="  server $k $ms ms"
	done
	echo "$line"
done
# shellcheck disable=SC2086
m_dump=$(median ${times[dump]})
# shellcheck disable=SC2086
m_client=$(median ${times[snapshot]})
# shellcheck disable=SC2086
m_nojit=$(median ${times[snapshot_nojit]})
m_first=$(median "${first_ms[@]}")
m_second=$(median "${second_ms[@]}")
echo
echo "migrate.snapshot() against pg_dump --schema-only of the same database (medians of $ROUNDS rounds; every snapshot: $object_count objects, fingerprint ${fingerprint:0:16}...; the ratio: pg_dump -s time / this time):"
awk -v d="$m_dump" -v c="$m_client" -v j="$m_nojit" -v f="$m_first" -v s="$m_second" 'BEGIN {
	printf "  %-68s %9.1f ms\n", "pg_dump --schema-only -f /dev/null", d
	printf "  %-68s %9.1f ms   %5.2fx\n", "psql -c '\''SELECT migrate.snapshot()'\'' >/dev/null", c, d / c
	printf "  %-68s %9.1f ms   %5.2fx\n", "the same with PGOPTIONS='\''-c jit=off'\'' (reference, not the target)", j, d / j
	printf "  %-68s %9.1f ms   %5.2fx\n", "migrate.snapshot() on the server, first call of a session", f, d / f
	printf "  %-68s %9.1f ms   %5.2fx\n", "migrate.snapshot() on the server, second call", s, d / s
}'

# --- drift after one out-of-band change ---------------------------------------------------
out="$work/save.out"
psql_db >"$out" <<EOF
LOAD 'migrate_ext';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT migrate.snapshot_save('bench') AS snap_id \\gset
SELECT 'save_ms', round((1000 * (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1);
SELECT 'expected', count(*) FROM migrate.expected_objects;
SELECT 'saved_fp', fingerprint FROM migrate.snapshots WHERE id = :snap_id;
SET application_name = 'drift_bench';
ALTER TABLE app.$changed ALTER COLUMN name SET DEFAULT 'x';
SELECT 'ledger_since', count(*), count(*) FILTER (WHERE object_identity IS NULL), count(*) FILTER (WHERE out_of_band)
  FROM migrate.ddl_log WHERE id > (SELECT ledger_id FROM migrate.snapshots WHERE id = :snap_id);
EOF
[ "$(get expected "$out")" = "$object_count" ] || fail "migrate.expected_objects has $(get expected "$out") rows, the snapshot $object_count objects"
[ "$(get saved_fp "$out")" = "$fingerprint" ] || fail "the saved snapshot's fingerprint $(get saved_fp "$out") is not the one measured, $fingerprint"
read -r _ l_all l_null l_oob < <(grep '^ledger_since ' "$out")
if [ "$l_all" != 1 ] || [ "$l_null" != 0 ] || [ "$l_oob" != 1 ]; then
	fail "migrate.ddl_log since the saved snapshot: $l_all entries ($l_null without an object identity, $l_oob out of band), expected 1 out-of-band entry with an identity"
fi
echo
echo "migrate.snapshot_save('bench'): $(get save_ms "$out") ms ($object_count rows in migrate.expected_objects); then, out of band: ALTER TABLE app.$changed ALTER COLUMN name SET DEFAULT 'x' (1 ledger entry since the snapshot)"

# one session: two timed calls of the drift check $1, each row to its own file
drift_sql() {
	local call=$1 r=$2
	cat <<EOF
LOAD 'migrate_ext';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT * FROM $call \\g (format=unaligned fieldsep='|' tuples_only=on) $work/drift_${r}_1.rows
SELECT 'first', round((1000 * (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1);
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
SELECT * FROM $call \\g (format=unaligned fieldsep='|' tuples_only=on) $work/drift_${r}_2.rows
SELECT 'second', round((1000 * (extract(epoch FROM clock_timestamp()) - :t0))::numeric, 1);
EOF
}
expected_row="column|app.$changed.name|changed|default||'x'::text"
declare -A dmed
for mode in incremental full; do
	if [ "$mode" = incremental ]; then call='migrate.drift()'; else call='migrate.drift(full_check => true)'; fi
	f=()
	s=()
	line="  $mode"
	for ((r = 1; r <= ROUNDS; r++)); do
		out="$work/drift_${mode}_$r.out"
		drift_sql "$call" "${mode}_$r" | psql_db >"$out"
		for k in 1 2; do
			rows="$work/drift_${mode}_${r}_$k.rows"
			n=$(wc -l <"$rows")
			[ "$n" = 1 ] || fail "$call (round $r, call $k): $n rows, expected 1: $(cat "$rows")"
			# kind|identity|change|attribute|expected|actual|changed_by|changed_at|statement
			[ "$(cut -d'|' -f1-6 "$rows")" = "$expected_row" ] || fail "$call (round $r, call $k) returned: $(cat "$rows"); expected $expected_row|..."
			case "$(cut -d'|' -f9- "$rows")" in
			"ALTER TABLE app.$changed ALTER COLUMN name SET DEFAULT 'x'"*) ;;
			*) fail "$call (round $r, call $k): not attributed to the out-of-band ALTER TABLE: $(cat "$rows")" ;;
			esac
		done
		f+=("$(get first "$out")")
		s+=("$(get second "$out")")
		line+="  round $r: $(get first "$out") ms, again $(get second "$out") ms"
	done
	echo "$line"
	dmed[${mode}_first]=$(median "${f[@]}")
	dmed[${mode}_second]=$(median "${s[@]}")
done
echo
echo "drift after one out-of-band change (medians of $ROUNDS sessions; every call returned exactly the one row: $(cut -d'|' -f1-4,6-7 "$work/drift_incremental_1_1.rows")):"
awk -v a="${dmed[incremental_first]}" -v b="${dmed[incremental_second]}" -v c="${dmed[full_first]}" -v d="${dmed[full_second]}" -v s="$m_client" 'BEGIN {
	printf "  SELECT * FROM migrate.drift()                      first call of a session %8.1f ms, second call %8.1f ms\n", a, b
	printf "  SELECT * FROM migrate.drift(full_check => true)    first call of a session %8.1f ms, second call %8.1f ms (%.1fx the incremental check)\n", c, d, c / a
}'

# --- targets -------------------------------------------------------------------------
echo
awk -v d="$m_dump" -v c="$m_client" -v target="$SPEED_TARGET" 'BEGIN {
	x = d / c
	# compare the rounded figures that are printed
	if (sprintf("%.2f", x) + 0 >= target + 0)
		printf "PASS: migrate.snapshot() (psql, to /dev/null) %.2fx faster than pg_dump --schema-only >= %dx\n", x, target
	else
		printf "MISS: migrate.snapshot() (psql, to /dev/null) %.2fx faster than pg_dump --schema-only < %dx (by %.2f)\n", x, target, target - x
}'
awk -v a="${dmed[incremental_first]}" -v target="$DRIFT_TARGET_MS" 'BEGIN {
	if (sprintf("%.1f", a) + 0 <= target + 0)
		printf "PASS: migrate.drift() after one change %.1f ms (first call of a session) <= %d ms\n", a, target
	else
		printf "MISS: migrate.drift() after one change %.1f ms (first call of a session) > %d ms (by %.1f ms)\n", a, target, a - target
}'
if [ "$(lib_stamp)" != "$lib_at_start" ]; then
	echo "WARNING: $lib was replaced while the benchmark ran: the figures mix two builds"
fi
if [ -n "${BENCH_DRIFT_KEEP:-}" ]; then
	echo "database $db kept (BENCH_DRIFT_KEEP)"
else
	psql_admin -c "DROP DATABASE $db"
fi
