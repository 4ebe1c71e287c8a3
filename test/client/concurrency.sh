#!/usr/bin/env bash
# TAP: concurrency of migrate_ext and pg_migrate against a real server.
#
#   1. 8 `pg_migrate up DIR` at once on one database, a folder of 20
#      migrations (slow ones, a CREATE INDEX CONCURRENTLY file): every process
#      exits 0 without an error, every migration applied (and run) once.
#      Twice: the folder without the index file (txn), then all of it (up).
#   2. migrate.maintain() in a loop, forced to create and detach/drop
#      partitions, while pgbench records events and writes an audited table:
#      no failed transaction, bounded latency, every committed row logged.
#   3. audit_enable/audit_disable toggled by three sessions while pgbench
#      writes the table: no failure, no deadlock, audited again afterwards.
#   4. migrate.lint, migrate.snapshot and migrate.drift in loops while another
#      session creates, alters and drops tables: no error at all.
#
# Runs inside a throwaway cluster (superuser), like the other client tests:
#   pg_virtualenv -t prove -v --exec bash test/client/concurrency.sh
# Creates the databases pgm_conc_* (dropped on exit); 30 to 40 s.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/tap.sh
. "$here/lib/tap.sh"

PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
require_pg_migrate
PGBENCH=${PGBENCH:-"$BINDIR/pgbench"}
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench)
[ -n "$PGBENCH" ] || bail_out "pgbench is needed"
command -v python3 >/dev/null || bail_out "python3 is needed to read maintain's results"
require_server

W=$(mktemp -d "${TMPDIR:-/tmp}/pgm_conc.XXXXXX")
DBS=()
BG=()
cleanup() {
	local p db
	for p in "${BG[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null
	done
	for db in "${DBS[@]}"; do
		dropdb --if-exists --force "$db" >/dev/null 2>&1
	done
	rm -rf "$W"
}
trap cleanup EXIT

# newdb NAME: a fresh database pgm_conc_NAME with migrate_ext
newdb() {
	create_test_db "pgm_conc_$1"
}

# now_ms: wall clock in milliseconds
now_ms() {
	date +%s%3N
}

# error_lines FILE...: the ERROR/FATAL/PANIC lines of psql outputs, counted
# (OIDs and other numbers of 4 digits or more shown as N)
error_lines() {
	cat "$@" 2>/dev/null | grep -E '(ERROR|FATAL|PANIC): ' | sed -E 's/^psql:[^ ]* //; s/[0-9]{4,}/N/g' |
		sort | uniq -c | sort -rn
}

# pgbench_field OUTPUT REGEX: the first capture of REGEX in pgbench's output
pgbench_field() {
	[[ $1 =~ $2 ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# max_latency_ms LOGPREFIX: the largest transaction time (ms) in pgbench's --log files
max_latency_ms() {
	cat "$1".* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { if ($3 > m) m = $3 } END { printf "%.1f", m / 1000 }'
}

# failed_in_log LOGPREFIX: transactions the --log files mark as failed (or skipped)
failed_in_log() {
	cat "$1".* 2>/dev/null | awk '$3 !~ /^[0-9]+$/ { n++ } END { print n + 0 }'
}

###########################################################################
# 1. 8 pg_migrate up of one folder at once
###########################################################################
SESSIONS=8
M=$W/migrations
mkdir -p "$M"
n=0
mig() { # mig NAME: stdin is the file; versions 001, 002, ...
	n=$((n + 1))
	printf -v v '%03d' "$n"
	cat >"$M/${v}__$1.sql"
}
mig create_ran <<'EOF'
-- every migration but the index one writes its version here: one row each
-- proves that its script ran once
CREATE TABLE conc_ran (version text NOT NULL, ran_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig create_items <<'EOF'
CREATE TABLE conc_items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO conc_items (v, note) SELECT g % 1000, 'item ' || g FROM generate_series(1, 50000) g;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig slow_one <<'EOF'
SELECT pg_sleep(0.2);
CREATE TABLE conc_slow1 (id bigint PRIMARY KEY);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig add_column <<'EOF'
ALTER TABLE conc_items ADD COLUMN flag boolean;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig create_view <<'EOF'
CREATE VIEW conc_items_v AS SELECT id, v FROM conc_items WHERE v < 10;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig items_v_idx <<'EOF'
-- migrate:up
CREATE INDEX CONCURRENTLY IF NOT EXISTS conc_items_v_idx ON conc_items (v);

-- migrate:verify
SELECT indisvalid FROM pg_index WHERE indexrelid = 'conc_items_v_idx'::regclass;
EOF
mig slow_two <<'EOF'
SELECT pg_sleep(0.2);
CREATE TABLE conc_slow2 (id bigint PRIMARY KEY, slow1_id bigint REFERENCES conc_slow1);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig function <<'EOF'
CREATE FUNCTION conc_double(i int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT i * 2 $$;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig counter <<'EOF'
CREATE TABLE conc_counter (n int NOT NULL);
INSERT INTO conc_counter VALUES (0);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig bump_1 <<'EOF'
-- not idempotent: run twice, the counter would say so
UPDATE conc_counter SET n = n + 1;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig slow_three <<'EOF'
SELECT pg_sleep(0.2);
ALTER TABLE conc_slow1 ADD COLUMN label text;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig enum <<'EOF'
CREATE TYPE conc_mood AS ENUM ('ok', 'meh');
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig bump_2 <<'EOF'
UPDATE conc_counter SET n = n + 1;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig sequence <<'EOF'
CREATE SEQUENCE conc_seq;
SELECT nextval('conc_seq');
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig slow_four <<'EOF'
SELECT pg_sleep(0.2);
CREATE TABLE conc_slow4 (id bigint PRIMARY KEY, mood conc_mood);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig comment <<'EOF'
COMMENT ON TABLE conc_items IS 'items';
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig bump_3 <<'EOF'
-- migrate:up
UPDATE conc_counter SET n = n + 1;
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());

-- migrate:down
UPDATE conc_counter SET n = n - 1;
EOF
mig slow_five <<'EOF'
SELECT pg_sleep(0.2);
CREATE TABLE conc_slow5 (id bigint PRIMARY KEY);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig requires <<'EOF'
-- requires: 002, 018
CREATE TABLE conc_req (id bigint PRIMARY KEY, item_id bigint REFERENCES conc_items);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());
EOF
mig last <<'EOF'
-- migrate:up
CREATE TABLE conc_last (id int);
INSERT INTO conc_ran (version) VALUES (migrate.current_migration());

-- migrate:verify
SELECT (SELECT n FROM conc_counter) = 3;
EOF
NMIG=$n
is "$(find "$M" -name '*.sql' | wc -l)" "$NMIG" "the folder holds $NMIG migration files"
# the same folder without the CREATE INDEX CONCURRENTLY file: transactional only
MT=$W/migrations_txn
mkdir -p "$MT"
cp "$M"/*.sql "$MT"/
rm "$MT"/006__*.sql

# concurrent_up LABEL DIR: $SESSIONS `pg_migrate up DIR` at once on a fresh
# database pgm_conc_LABEL, then the checks
concurrent_up() {
	local label=$1 dir=$2 db=pgm_conc_$1 d=$W/up_$1 nmig ntxn has_idx=0 i p t0 total_ms pids=()
	nmig=$(find "$dir" -name '*.sql' | wc -l)
	[ -e "$dir/006__items_v_idx.sql" ] && has_idx=1
	ntxn=$((nmig - has_idx))
	newdb "$label"
	mkdir -p "$d"
	t0=$(now_ms)
	for i in $(seq 1 "$SESSIONS"); do
		(
			s=$(now_ms)
			PGAPPNAME=conc_up_$i "$PGM" -d "$db" up "$dir" >"$d/out.$i" 2>"$d/err.$i"
			echo $? >"$d/rc.$i"
			echo $(($(now_ms) - s)) >"$d/ms.$i"
		) &
		pids+=($!)
	done
	BG+=("${pids[@]}")
	for p in "${pids[@]}"; do
		wait "$p"
	done
	BG=()
	total_ms=$(($(now_ms) - t0))

	local what="$label: $SESSIONS concurrent pg_migrate up of $nmig migrations"
	rcs=$(cat "$d"/rc.* | sort | uniq -c | awk '{printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2}')
	is "$rcs" "${SESSIONS}x0" "$what: every process exits 0"
	for i in $(seq 1 "$SESSIONS"); do
		if grep -qi error "$d/err.$i"; then
			fail "$label: pg_migrate up #$i reports no error" "  stderr:" "$(_tap_head "$(cat "$d/err.$i")")"
		else
			pass "$label: pg_migrate up #$i reports no error"
		fi
	done
	summaries=$(grep -h '^up:' "$d"/out.* "$d"/err.* 2>/dev/null)
	applied_total=$(printf '%s\n' "$summaries" | sed -nE 's/^up: ([0-9]+) applied.*/\1/p' | awk '{s += $1} END {print s + 0}')
	is "$applied_total" "$nmig" "$label: the $SESSIONS summaries together count $nmig applied (each migration applied by one process)"
	is "$(printf '%s\n' "$summaries" | grep -vc ' 0 pending left')" "0" "$label: every summary says nothing is pending"

	is "$(sql "$db" "SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'applied') FROM migrate.migrations")" "$nmig $nmig" \
		"$label: migrate.migrations: $nmig versions, all applied"
	is "$(sql "$db" "SELECT count(*) FROM (SELECT version FROM migrate.history WHERE action = 'apply' GROUP BY version HAVING count(*) = 1) s")" \
		"$nmig" "$label: migrate.history: exactly one apply entry for each of the $nmig versions"
	is "$(sql "$db" "SELECT count(*) FROM migrate.history WHERE action <> 'apply'")" "0" "$label: migrate.history: nothing but applies"
	is "$(sql "$db" "SELECT count(*) FROM migrate.history_check()")" "0" "$label: history_check() finds nothing"
	is "$(sql "$db" "SELECT count(*) || ' ' || count(DISTINCT version) FROM conc_ran")" "$ntxn $ntxn" \
		"$label: every transactional script ran exactly once (conc_ran: one row per version)"
	is "$(sql "$db" "SELECT n FROM conc_counter")" "3" "$label: the three non-idempotent bumps ran once each (counter = 3)"
	is "$(sql "$db" "SELECT count(*) FROM conc_items")" "50000" "$label: the data migration inserted its 50000 rows once"
	if [ "$has_idx" = 1 ]; then
		is "$(sql "$db" "SELECT count(*) || ' ' || bool_and(i.indisvalid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'conc_items'::regclass AND c.relname <> 'conc_items_pkey'")" \
			"1 true" "$label: the CREATE INDEX CONCURRENTLY migration left exactly one index, valid"
		is "$(sql "$db" "SELECT (details->'recorded_from'->>'non_transactional') FROM migrate.history WHERE version = '006'")" "true" \
			"$label: the index migration was recorded as non-transactional"
	fi
	is "$(sql "$db" "SELECT count(*) FROM pg_class WHERE relname IN ('conc_slow1', 'conc_slow2', 'conc_slow4', 'conc_slow5', 'conc_req', 'conc_last', 'conc_items_v', 'conc_seq') AND relnamespace = 'public'::regnamespace")" \
		"8" "$label: the objects of the migrations exist, once each"
	is "$(sql "$db" "SELECT count(*) FROM pg_attribute WHERE attrelid = 'conc_items'::regclass AND attname = 'flag'")" "1" \
		"$label: the added column exists once"
	is "$(sql "$db" "SELECT count(*) FROM migrate.events WHERE kind = 'migration_applied'")" "$nmig" \
		"$label: one migration_applied event per migration"
	# pg_migrate tries migrate.apply first and takes the non-transactional
	# path on its MG006 refusal, which is logged as a migration_refused
	# event: only those may be there
	is "$(sql "$db" "SELECT count(*) FROM migrate.events WHERE severity IN ('error', 'critical') AND NOT (kind = 'migration_refused' AND details->>'sqlstate' = 'MG006' AND details->>'version' = '006')")" "0" \
		"$label: no error event (no migration_refused) but the MG006 refusals of the index file"
	"$PGM" -q -d "$db" status "$dir" >/dev/null 2>&1
	is "$?" "0" "$label: pg_migrate status afterwards: exit 0"

	diag "1. $what: all done in ${total_ms} ms; exit codes $rcs"
	diag "   per process (the longest wait): max $(sort -n "$d"/ms.* | tail -1) ms, min $(sort -n "$d"/ms.* | head -1) ms;" \
		"longest recorded migration lock wait $(sql "$db" "SELECT round(max(lock_wait_ms)::numeric, 1) FROM migrate.migrations") ms;" \
		"migration_refused MG006 events: $(sql "$db" "SELECT count(*) FROM migrate.events WHERE kind = 'migration_refused' AND details->>'sqlstate' = 'MG006'")"
}
concurrent_up txn "$MT"
concurrent_up up "$M"

###########################################################################
# 2. maintain() in a loop during heavy inserts into events and an audited table
###########################################################################
newdb maint
DB=pgm_conc_maint
sql $DB "CREATE TABLE conc_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL, note text);
SELECT migrate.audit_enable('conc_orders');
UPDATE migrate.retention SET keep = interval '30 days' WHERE what = 'audit_log';
SELECT migrate.maintain();" >/dev/null || bail_out "setup of the maintain test failed"
cat >"$W/maint_bench.sql" <<'EOF'
\set k random(1, 1000000)
\set s random(1, 3)
SELECT migrate.record_event('conc_bench', (ARRAY['info', 'warning', 'error'])[:s], 'pgbench event', jsonb_build_object('k', :k));
INSERT INTO conc_orders (v, note) VALUES (:k, 'pgbench');
EOF
# the maintain loop: each run creates one more day ahead (premake_days grows);
# odd runs find an expired old day of events and of the audit log to detach
# (dropped by the next run, which detaches nothing), even runs a day of
# events whose debug and notice leaves are expired but not its error leaf
# (leaves dropped directly)
stop=$W/maint.stop
(
	i=0
	today="(now() AT TIME ZONE 'UTC')::date"
	while [ ! -f "$stop" ]; do
		i=$((i + 1))
		if [ $((i % 2)) = 1 ]; then
			old="SELECT migrate.add_partitions('events', $today - 200 - $i, $today - 200 - $i),
				migrate.add_partitions('audit_log', $today - 200 - $i, $today - 200 - $i)"
		else
			old="SELECT migrate.add_partitions('events', $today - 40 - $i, $today - 40 - $i)"
		fi
		PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d $DB \
			-c "SET migrate.premake_days = $((10 + i))" -c "$old" \
			-c "SELECT 'maintain ' || migrate.maintain()::text" >>"$W/maint.out" 2>>"$W/maint.err"
		sleep 0.2
	done
	echo "$i" >"$W/maint.runs"
) &
mpid=$!
BG+=("$mpid")
run "$PGBENCH" -n -c 4 -j 2 -T 5 -f "$W/maint_bench.sql" -l --log-prefix="$W/maint_log" $DB
touch "$stop"
wait "$mpid"
BG=()
bench_out="$OUT
$ERR"
exit_code 0 "2. pgbench (4 clients, 5 s) writing events and an audited table during maintain: exit 0"
unlike "$bench_out" "aborted|ERROR" "pgbench: no client aborted, no error"
failed=$(pgbench_field "$bench_out" 'number of failed transactions: ([0-9]+)')
is "${failed:-missing}" "0" "pgbench: 0 failed transactions"
is "$(failed_in_log "$W/maint_log")" "0" "pgbench --log: no transaction marked failed"
tx=$(pgbench_field "$bench_out" 'number of transactions actually processed: ([0-9]+)')
tps=$(pgbench_field "$bench_out" 'tps = ([0-9.]+) \(without')
maxlat=$(max_latency_ms "$W/maint_log")
like "${tx:-0}" '^[1-9][0-9]*$' "pgbench processed transactions ($tx)"
ok "the longest transaction took less than 2 s (${maxlat} ms)" awk -v m="$maxlat" 'BEGIN { exit !(m > 0 && m < 2000) }'
is "$(sql $DB "SELECT count(*) FROM migrate.events WHERE kind = 'conc_bench'")" "${tx:-?}" \
	"every committed record_event is in migrate.events ($tx)"
is "$(sql $DB "SELECT count(*) FROM conc_orders")" "${tx:-?}" "every committed INSERT is in the audited table"
is "$(sql $DB "SELECT count(*) || ' ' || count(DISTINCT row_key) FROM migrate.audit_log WHERE table_name = 'conc_orders' AND operation = 'INSERT'")" \
	"${tx:-?} ${tx:-?}" "every committed INSERT is in migrate.audit_log, once"
is "$(sql $DB "SELECT count(*) FROM migrate.audit_log a WHERE table_name = 'conc_orders' AND NOT EXISTS (SELECT 1 FROM conc_orders o WHERE o.id = (a.row_key->>'id')::bigint)")" \
	"0" "the audit log holds no row that was not committed"
maint_err=$(error_lines "$W/maint.err")
is "$maint_err" "" "the maintain loop ran without an error"
runs=$(cat "$W/maint.runs" 2>/dev/null)
ok "maintain ran at least 4 times meanwhile ($runs)" test "${runs:-0}" -ge 4
# what maintain did, summed over its runs
msum=$(python3 -c '
import json, sys
t = {}
for line in open(sys.argv[1]):
    if not line.startswith("maintain "):
        continue
    d = json.loads(line[len("maintain "):])
    if d.get("skipped"):
        t["skipped"] = t.get("skipped", 0) + 1
        continue
    t["runs"] = t.get("runs", 0) + 1
    for k in ("created_partitions", "detached_partitions", "freed_partitions", "dropped_partitions",
              "truncated_partitions", "deferred_partitions"):
        t[k] = t.get(k, 0) + len(d.get(k) or [])
    t["max_ms"] = max(t.get("max_ms", 0), float(d.get("duration_ms") or 0))
print(" ".join("%s=%s" % (k, t[k]) for k in sorted(t)))
' "$W/maint.out" 2>&1)
like "$msum" "created_partitions=[1-9]" "maintain created partitions during the load"
like "$msum" "detached_partitions=[1-9]" "maintain detached expired partitions during the load"
like "$msum" "freed_partitions=[1-9]" "maintain dropped the days it detached earlier (freed) during the load"
like "$msum" "dropped_partitions=[1-9]" "maintain dropped expired leaves during the load"
is "$(sql $DB "SELECT count(*) FROM migrate.log_partitions('events') WHERE lower_bound < now() - interval '100 days'")" \
	"0" "no expired day of events is left attached"
is "$(sql $DB "SELECT count(*) FROM migrate.log_partitions('audit_log') WHERE lower_bound < now() - interval '100 days'")" \
	"0" "no expired day of the audit log is left attached"
is "$(sql $DB "SELECT migrate.default_partition_rows()")" "0" "no row went to a default partition"
diag "2. maintain during pgbench (4 clients, 5 s): ${tx} transactions, ${tps} tps, failed ${failed:-?}, max latency ${maxlat} ms"
diag "   maintain: ${runs} runs ($msum)"

###########################################################################
# 3. audit_enable/audit_disable toggled during writes
###########################################################################
newdb audit
DB=pgm_conc_audit
sql $DB "CREATE TABLE conc_toggle (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int NOT NULL, note text);
INSERT INTO conc_toggle (v, note) SELECT g, 'seed' FROM generate_series(1, 1000) g;
SELECT migrate.audit_add_partitions(2);" >/dev/null || bail_out "setup of the audit toggle test failed"
cat >"$W/toggle_bench.sql" <<'EOF'
\set k random(1, 1000)
INSERT INTO conc_toggle (v, note) VALUES (:k, 'pgbench');
UPDATE conc_toggle SET v = v + 1 WHERE id = :k;
EOF
stop=$W/toggle.stop
tpids=()
for t in 1 2 3; do
	(
		i=0
		while [ ! -f "$stop" ]; do
			i=$((i + 1))
			opts='{}'
			[ $((i % 2)) = 0 ] && opts='{"full_rows": true}'
			PGOPTIONS="-c client_min_messages=warning" psql -XAtq -d $DB \
				-c "SELECT migrate.audit_enable('conc_toggle', options => '$opts')" \
				-c "SELECT pg_sleep(0.05)" \
				-c "SELECT migrate.audit_disable('conc_toggle')" >/dev/null 2>>"$W/toggle.err.$t"
			sleep 0.02
		done
		echo "$i" >"$W/toggle.runs.$t"
	) &
	tpids+=($!)
done
BG+=("${tpids[@]}")
run "$PGBENCH" -n -c 4 -j 2 -T 5 -f "$W/toggle_bench.sql" -l --log-prefix="$W/toggle_log" $DB
touch "$stop"
for p in "${tpids[@]}"; do
	wait "$p"
done
BG=()
bench_out="$OUT
$ERR"
exit_code 0 "3. pgbench (4 clients, 5 s) writing while three sessions toggle audit_enable/audit_disable: exit 0"
unlike "$bench_out" "aborted|ERROR" "pgbench: no client aborted, no error"
failed=$(pgbench_field "$bench_out" 'number of failed transactions: ([0-9]+)')
is "${failed:-missing}" "0" "pgbench: 0 failed transactions"
tx=$(pgbench_field "$bench_out" 'number of transactions actually processed: ([0-9]+)')
tps=$(pgbench_field "$bench_out" 'tps = ([0-9.]+) \(without')
maxlat=$(max_latency_ms "$W/toggle_log")
ok "the longest write transaction took less than 2 s (${maxlat} ms)" awk -v m="$maxlat" 'BEGIN { exit !(m > 0 && m < 2000) }'
toggle_err=$(error_lines "$W"/toggle.err.*)
unlike "$toggle_err" "deadlock" "the togglers hit no deadlock"
is "$toggle_err" "" "audit_enable/audit_disable raised no error"
unlike "$bench_out" "deadlock" "the writers hit no deadlock"
runs="$(cat "$W/toggle.runs.1" 2>/dev/null)+$(cat "$W/toggle.runs.2" 2>/dev/null)+$(cat "$W/toggle.runs.3" 2>/dev/null)"
is "$(sql $DB "SELECT count(*) - 1000 FROM conc_toggle")" "${tx:-?}" "every committed INSERT is in the table"
is "$(sql $DB "SELECT count(*) FROM (SELECT row_key FROM migrate.audit_log WHERE table_name = 'conc_toggle' AND operation = 'INSERT' GROUP BY row_key HAVING count(*) > 1) s")" \
	"0" "no INSERT was logged twice"
is "$(sql $DB "SELECT count(*) FROM migrate.audit_log a WHERE table_name = 'conc_toggle' AND NOT EXISTS (SELECT 1 FROM conc_toggle o WHERE o.id = (a.row_key->>'id')::bigint)")" \
	"0" "the audit log holds no row that was not committed"
logged=$(sql $DB "SELECT count(*) FROM migrate.audit_log WHERE table_name = 'conc_toggle'")
# final state: enabled, then quiet, then changes must be audited
sql $DB "SELECT migrate.audit_enable('conc_toggle')" >/dev/null
sleep 0.5
is "$(sql $DB "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'conc_toggle'::regclass AND tgname LIKE 'migrate_audit%'")" \
	"3" "after the final audit_enable: the three audit triggers, once each"
is "$(sql $DB "SELECT count(*) FROM migrate.audit_status() WHERE relid = 'conc_toggle'::regclass AND triggers_present")" "1" \
	"audit_status lists the table once, its triggers in place"
before=$(sql $DB "SELECT coalesce(max(id), 0) FROM migrate.audit_log")
sql $DB "INSERT INTO conc_toggle (v, note) VALUES (-1, 'after');
UPDATE conc_toggle SET note = 'after update' WHERE id = 1;
DELETE FROM conc_toggle WHERE id = 2;" >/dev/null
is "$(sql $DB "SELECT string_agg(operation, ' ' ORDER BY id) FROM migrate.audit_log WHERE id > $before AND table_name = 'conc_toggle'")" \
	"INSERT UPDATE DELETE" "after a quiet period, an INSERT, an UPDATE and a DELETE are audited, once each"
is "$(sql $DB "SELECT new_values->>'note' FROM migrate.audit_log WHERE id > $before AND operation = 'UPDATE'")" \
	"after update" "... with their values"
diag "3. audit toggling during pgbench (4 clients, 5 s): ${tx} transactions, ${tps} tps, failed ${failed:-?}, max latency ${maxlat} ms"
diag "   toggles: $runs enable/disable pairs, $logged changes logged meanwhile"

###########################################################################
# 4. lint, snapshot and drift while DDL runs
###########################################################################
newdb ddl
DB=pgm_conc_ddl
sql $DB "CREATE TABLE conc_ref (id int PRIMARY KEY);
INSERT INTO conc_ref SELECT generate_series(1, 10);
CREATE TABLE scratch_0 (id int PRIMARY KEY, a text);
SELECT migrate.snapshot_save('before the DDL loop');" >/dev/null || bail_out "setup of the DDL test failed"
# the DDL session: 4 scratch tables, each dropped, created and altered in turn
{
	echo '\set VERBOSITY verbose'
	echo 'SET client_min_messages = warning;'
	for i in $(seq 1 150); do
		k=$((i % 4))
		cat <<EOF
DROP TABLE IF EXISTS scratch_$k;
CREATE TABLE scratch_$k (id int PRIMARY KEY, a text CHECK (a <> ''), ref int);
INSERT INTO scratch_$k SELECT g, 'x' || g, g % 10 + 1 FROM generate_series(1, 50) g;
ALTER TABLE scratch_$k ADD COLUMN b int;
CREATE INDEX scratch_${k}_b ON scratch_$k (b);
ALTER TABLE scratch_$k ADD CONSTRAINT scratch_${k}_ref FOREIGN KEY (ref) REFERENCES conc_ref;
ALTER TABLE scratch_$k ADD COLUMN c text DEFAULT 'c', ALTER COLUMN a SET NOT NULL;
CREATE OR REPLACE VIEW scratch_v_$k AS SELECT id, a, b FROM scratch_$k;
ALTER TABLE scratch_$k RENAME COLUMN c TO c2;
DROP VIEW scratch_v_$k;
EOF
	done
} >"$W/ddl.sql"
lint_sql() {
	echo '\set VERBOSITY verbose'
	local k
	for k in 0 1 2 3; do
		cat <<EOF
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ADD COLUMN d int NOT NULL');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ALTER COLUMN a TYPE varchar(5)');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ALTER COLUMN b SET NOT NULL; ALTER TABLE scratch_$k DROP COLUMN c2');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ALTER COLUMN a SET NOT NULL');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ALTER COLUMN ref SET NOT NULL, ALTER COLUMN b SET NOT NULL');
SELECT count(*) FROM migrate.lint('CREATE INDEX ON scratch_$k (a); DROP INDEX scratch_${k}_b');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ADD CONSTRAINT f FOREIGN KEY (ref) REFERENCES scratch_$(((k + 1) % 4))');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k DROP CONSTRAINT scratch_${k}_ref; TRUNCATE scratch_$k CASCADE; DROP TABLE scratch_$k');
SELECT count(*) FROM migrate.lint('ALTER TABLE scratch_$k ADD PRIMARY KEY (a), ADD UNIQUE (b); CREATE OR REPLACE VIEW scratch_v_$k AS SELECT 1 AS x');
SELECT count(*) FROM migrate.lint('UPDATE scratch_$k SET b = 1; VACUUM FULL scratch_$k; CLUSTER scratch_$k USING scratch_${k}_pkey');
EOF
	done
}
lint_sql >"$W/lint.sql"
printf '%s\n' '\set VERBOSITY verbose' 'SELECT length(migrate.snapshot()::text) > 0;' \
	"SELECT count(*) >= 0 FROM migrate.snapshot(objects => '{public.scratch_0,public.scratch_1,public.scratch_2,public.scratch_3}');" \
	>"$W/snapshot.sql"
printf '%s\n' '\set VERBOSITY verbose' 'SELECT count(*) >= 0 FROM migrate.drift();' \
	'SELECT count(*) >= 0 FROM migrate.drift(full_check => true);' 'SELECT length(migrate.drift_sql()) >= 0;' \
	>"$W/drift.sql"
stop=$W/ddl.stop
# reader LABEL FILE: runs FILE again and again until the DDL session ends
reader() {
	local i=0
	while [ ! -f "$stop" ]; do
		i=$((i + 1))
		PGOPTIONS="-c client_min_messages=warning" PGAPPNAME="conc_$1" psql -XAtq -d $DB -f "$2" >/dev/null 2>>"$W/$1.err"
	done
	echo "$i" >"$W/$1.runs"
}
rpids=()
for r in lint_1:lint.sql lint_2:lint.sql lint_3:lint.sql snapshot:snapshot.sql drift:drift.sql; do
	reader "${r%%:*}" "$W/${r#*:}" &
	rpids+=($!)
done
BG+=("${rpids[@]}")
t0=$(now_ms)
PGAPPNAME=conc_ddl psql -XAtq -d $DB -f "$W/ddl.sql" >/dev/null 2>"$W/ddl.err"
ddl_ms=$(($(now_ms) - t0))
touch "$stop"
for p in "${rpids[@]}"; do
	wait "$p"
done
BG=()
for r in lint_1 lint_2 lint_3 snapshot drift; do
	ok "$r ran while the DDL ran ($(cat "$W/$r.runs" 2>/dev/null) rounds)" test "$(cat "$W/$r.runs" 2>/dev/null || echo 0)" -ge 1
done
is "$(error_lines "$W/ddl.err")" "" "4. the DDL session (150 rounds of CREATE/ALTER/DROP) hit no error"
lint_err=$(error_lines "$W/lint_1.err" "$W/lint_2.err" "$W/lint_3.err")
unlike "$lint_err" "XX000|cache lookup failed|could not open relation" "lint during DDL: no internal error (XX000, cache lookup failed)"
unlike "$lint_err" "does not exist" "lint during DDL: no 'does not exist' error (lint copes with dropped objects)"
is "$lint_err" "" "lint during DDL: no error at all"
snap_err=$(error_lines "$W/snapshot.err")
unlike "$snap_err" "XX000|cache lookup failed|could not open relation" "snapshot during DDL: no internal error (XX000, cache lookup failed)"
is "$snap_err" "" "snapshot during DDL: no error at all"
drift_err=$(error_lines "$W/drift.err")
unlike "$drift_err" "XX000|cache lookup failed|could not open relation" "drift during DDL: no internal error (XX000, cache lookup failed)"
is "$drift_err" "" "drift during DDL: no error at all"
# once quiet, drift sees the final scratch tables as out-of-band changes
is "$(sql $DB "SELECT count(*) > 0 FROM migrate.drift() WHERE identity LIKE 'public.scratch_%'")" "t" \
	"after the DDL, drift reports the scratch tables"
is "$(sql $DB "SELECT count(*) FROM ((SELECT kind, identity, change, attribute FROM migrate.drift() EXCEPT SELECT kind, identity, change, attribute FROM migrate.drift(full_check => true)) UNION ALL (SELECT kind, identity, change, attribute FROM migrate.drift(full_check => true) EXCEPT SELECT kind, identity, change, attribute FROM migrate.drift())) s")" \
	"0" "after the DDL, the incremental drift check agrees with the full check"
diag "4. DDL session: 150 rounds in ${ddl_ms} ms; meanwhile lint x3 $(cat "$W/lint_1.runs")+$(cat "$W/lint_2.runs")+$(cat "$W/lint_3.runs") rounds," \
	"snapshot $(cat "$W/snapshot.runs") rounds, drift $(cat "$W/drift.runs") rounds"

done_testing
