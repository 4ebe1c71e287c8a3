#!/usr/bin/env bash
# Measures monitoring events: what migrate.record_event costs against a plain
# INSERT of the same row, what an autonomous event costs, and what retention
# by migrate.maintain() (dropping a whole expired day partition) costs against
# a DELETE of the same rows.
#   record_event : one DO block of 100,000
#                  PERFORM migrate.record_event('bench_rN', 'info', 'message ' || i, '{"n": 1}')
#                  (severity info is below migrate.notify_min_severity, so
#                  no NOTIFY is sent), against DO blocks of 100,000 INSERTs of
#                  the same row (kind, severity, message, details, session and
#                  current user, application_name, inet_client_addr(),
#                  pg_backend_pid(), pg_current_xact_id(), migration NULL;
#                  id and logged_at from the column defaults) into
#                    plain : bench_events, CREATE TABLE (LIKE migrate.events
#                            INCLUDING ALL): one heap with the same
#                            logged_at index, check and defaults (its own
#                            sequence)
#                    part  : bench_events_part, the same layout as
#                            migrate.events: RANGE by logged_at with the same
#                            UTC-day partitions, each LIST-partitioned by the
#                            same severity classes, a default partition and
#                            the logged_at index
#                  migrate.maintain() runs first, so today's partition
#                  exists (else events land in the default partition; the
#                  script checks none did). Each DO block is its own
#                  transaction, timed in one psql session from the statement
#                  before it to the one after it (so the time includes the
#                  commit), after VACUUM ANALYZE of the three tables and a
#                  CHECKPOINT. 3 rounds, the order rotating; medians. Every
#                  run is checked: exactly one row per call. Target:
#                  record_event <= 1.5x the INSERT into the same-shaped
#                  partitioned table (part); plain is printed for reference.
#   autonomous   : 200 calls of migrate.record_event(..., autonomous => true)
#                  in one DO block (each starts a background worker that
#                  writes and commits the event, the caller waits); mean ms
#                  per call; all 200 rows checked.
#   retention    : 5,000,000 info events over 5 past UTC days (1,000,000 a
#                  day, spread evenly over the day) in partitions made by
#                  migrate.add_partitions('events', today - 9, today - 5);
#                  the same rows copied to bench_events_plain (one heap,
#                  LIKE migrate.events INCLUDING ALL, so with the logged_at
#                  index: migrate.events itself refuses DELETE). With the
#                  retention of every event severity set to 8 days, only
#                  day today - 9 has expired (a partition expires when its
#                  upper bound <= now() - keep). Timed and WAL measured
#                  (pg_current_wal_insert_lsn() before and after; each in a
#                  transaction of its own with BEGIN and COMMIT sent
#                  separately, so the time of the COMMIT is printed apart and
#                  included in the total): SELECT migrate.maintain(), which
#                  detaches that day's partition (its files are removed by
#                  the next run, measured and printed too, not in the ratio,
#                  like the VACUUM the DELETE leaves), against DELETE FROM bench_events_plain
#                  WHERE logged_at < <the same bound>. Both tables are
#                  vacuumed first and each step follows a CHECKPOINT, so
#                  full-page images count the same way for both. Checked:
#                  exactly 1,000,000 rows gone and 4,000,000 left on each
#                  side. 3 rounds, the order alternating; each round after
#                  the first puts the expired day back (partition re-created
#                  with the default retention, so with the same three leaves;
#                  the same rows in both tables); medians. Also measured: a
#                  migrate.maintain() with nothing to do (its fixed cost) and
#                  the VACUUM the DELETE leaves to do (printed, not in the
#                  ratios). Targets: maintain <= 10% of the DELETE time and
#                  <= 1% of its WAL.
# Counts can be lowered for a quick run: BENCH_EVENTS_CALLS (100000),
# BENCH_EVENTS_AUTONOMOUS (200), BENCH_EVENTS_DAY_ROWS (1000000), BENCH_ROUNDS
# (3). Always exits 0 once the measurement ran (a missed target is reported
# as MISS, not as a failure); fails when a check fails. Takes about 1.5
# minutes (on 2 cores; 2 GB of disk for the tables and WAL).
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops the database migrate_events_bench.
set -euo pipefail
cd "$(dirname "$0")"

CALLS=${BENCH_EVENTS_CALLS:-100000}
AUTONOMOUS=${BENCH_EVENTS_AUTONOMOUS:-200}
DAY_ROWS=${BENCH_EVENTS_DAY_ROWS:-1000000}
ROUNDS=${BENCH_ROUNDS:-3}
DAYS=5
RATIO_TARGET=1.5
TIME_TARGET=10
WAL_TARGET=1
SIDES=(record_event plain part)
db=migrate_events_bench

. ./common.sh

PSQL_DB_OPTIONS='-c TimeZone=UTC'
fail() {
	echo "error: $*" >&2
	exit 1
}

echo
echo "== migrate_ext events benchmark =="
echo "record_event: $CALLS calls per side, $ROUNDS rounds; autonomous: $AUTONOMOUS calls; retention: $DAYS days of $DAY_ROWS events"
echo "build: $(git describe --always --dirty 2>/dev/null || echo unknown), library installed $(date -u -r "$lib" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '(not found)')"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_wal_size', 'full_page_writes', 'data_checksums', 'max_worker_processes')")"

psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c 'CREATE EXTENSION migrate_ext'

# timed STATEMENT: prints "<label> <seconds> <WAL bytes>"
timed_sql() {
	local label=$1 stmt=$2
	cat <<EOF
SELECT pg_current_wal_insert_lsn() AS lsn0, extract(epoch FROM clock_timestamp()) AS t0 \\gset
$stmt
SELECT '$label', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4), pg_current_wal_insert_lsn() - :'lsn0'::pg_lsn;
EOF
}

# timed STATEMENT in a transaction of its own, with BEGIN and COMMIT explicit
# so the commit can be told apart (one more round trip than timed_sql):
# prints "<label> <seconds> <WAL bytes> <seconds up to the COMMIT>"
timed_tx_sql() {
	local label=$1 stmt=$2
	cat <<EOF
SELECT pg_current_wal_insert_lsn() AS lsn0, extract(epoch FROM clock_timestamp()) AS t0 \\gset
BEGIN;
$stmt
SELECT extract(epoch FROM clock_timestamp()) AS t1 \\gset
COMMIT;
SELECT '$label', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4), pg_current_wal_insert_lsn() - :'lsn0'::pg_lsn, round((:t1 - :t0)::numeric, 4);
EOF
}

# --- record_event against INSERT --------------------------------------------------
# today's partitions (and the days ahead), then the two baselines: the
# partitioned copy gets every day and leaf migrate.events has now
psql_db >"$work/setup.out" <<'EOF'
SELECT migrate.maintain() \g /dev/null
-- the migrate.* settings exist once the library is loaded (maintain is
-- PL/pgSQL and may not have loaded it)
LOAD 'migrate_ext';
SELECT 'notify_min_severity', current_setting('migrate.notify_min_severity');
CREATE SEQUENCE bench_events_id_seq;
CREATE TABLE bench_events (LIKE migrate.events INCLUDING ALL);
ALTER TABLE bench_events ALTER COLUMN id SET DEFAULT nextval('bench_events_id_seq');
CREATE SEQUENCE bench_events_part_id_seq;
CREATE TABLE bench_events_part (LIKE migrate.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (logged_at);
ALTER TABLE bench_events_part ALTER COLUMN id SET DEFAULT nextval('bench_events_part_id_seq');
CREATE TABLE bench_events_part_default PARTITION OF bench_events_part DEFAULT;
CREATE INDEX ON bench_events_part (logged_at);
SELECT DISTINCT format('CREATE TABLE %I PARTITION OF bench_events_part FOR VALUES FROM (%L) TO (%L) PARTITION BY LIST (severity)',
					   replace(day_partition::text, 'migrate.events_p', 'bench_events_part_'), lower_bound, upper_bound)
  FROM migrate.log_partitions('events') WHERE NOT is_default \gexec
SELECT format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%s)',
			  replace(leaf::text, 'migrate.events_p', 'bench_events_part_'),
			  replace(day_partition::text, 'migrate.events_p', 'bench_events_part_'),
			  (SELECT string_agg(quote_literal(s), ', ') FROM unnest(severities) s))
  FROM migrate.log_partitions('events') WHERE NOT is_default \gexec
SELECT 'layout', (SELECT count(*) FROM migrate.log_partitions('events')),
	   (SELECT count(*) FROM pg_partition_tree('bench_events_part') WHERE isleaf);
SELECT 'leaves', string_agg(array_to_string(severities, '+'), ' ' ORDER BY leaf::text)
  FROM migrate.log_partitions('events') WHERE lower_bound = date_trunc('day', now());
EOF
notify=$(get notify_min_severity "$work/setup.out")
read -r _ n_events n_copy < <(grep '^layout ' "$work/setup.out")
[ "$n_events" = "$n_copy" ] || fail "the partitioned copy has $n_copy leaves, migrate.events $n_events"
[ "$notify" = warning ] || [ "$notify" = error ] || [ "$notify" = critical ] ||
	fail "migrate.notify_min_severity is $notify: info events would send a NOTIFY"
echo "layout: migrate.events and bench_events_part have $n_events leaves each (today: $(grep '^leaves ' "$work/setup.out" | cut -d' ' -f2-), and a default partition); migrate.notify_min_severity = $notify (no NOTIFY for info)"

row_values="'message ' || i, '{\"n\": 1}', session_user, current_user, current_setting('application_name'), inet_client_addr(), pg_backend_pid(), pg_current_xact_id(), NULL"
side_loop() {
	local side=$1 kind=$2
	case "$side" in
	record_event) echo "DO \$\$ BEGIN FOR i IN 1..$CALLS LOOP PERFORM migrate.record_event('$kind', 'info', 'message ' || i, '{\"n\": 1}'); END LOOP; END \$\$;" ;;
	plain | part)
		local t=bench_events
		[ "$side" = part ] && t=bench_events_part
		echo "DO \$\$ BEGIN FOR i IN 1..$CALLS LOOP INSERT INTO $t (kind, severity, message, details, session_user_name, current_user_name, application_name, client_addr, pid, txid, migration_version) VALUES ('$kind', 'info', $row_values); END LOOP; END \$\$;"
		;;
	esac
}
side_table() {
	case "$1" in
	record_event) echo migrate.events ;;
	plain) echo bench_events ;;
	part) echo bench_events_part ;;
	esac
}
declare -A times walb
for ((r = 1; r <= ROUNDS; r++)); do
	line="  round $r"
	for ((k = 0; k < ${#SIDES[@]}; k++)); do
		side=${SIDES[$(((k + r - 1) % ${#SIDES[@]}))]}
		t=$(side_table "$side")
		kind=bench_r$r
		out="$work/calls_${side}_$r.out"
		in_default=
		[ "$side" = plain ] || in_default="SELECT 'in_default', count(*) FROM ${t}_default WHERE kind = '$kind';"
		psql_db >"$out" <<EOF
VACUUM ANALYZE migrate.events, bench_events, bench_events_part;
CHECKPOINT;
$(timed_sql "$side" "$(side_loop "$side" "$kind")")
SELECT 'rows', count(*) FROM $t WHERE kind = '$kind';
$in_default
EOF
		read -r s w < <(awk -v l="$side" '$1 == l { print $2, $3 }' "$out")
		[ "$(get rows "$out")" = "$CALLS" ] || fail "$side round $r: $(get rows "$out") rows of kind $kind in $t, expected $CALLS"
		[ "$(get in_default "$out")" = "" ] || [ "$(get in_default "$out")" = 0 ] ||
			fail "$side round $r: $(get in_default "$out") rows went to ${t}_default, not to today's partition"
		times[$side]="${times[$side]:-} $s"
		walb[$side]="${walb[$side]:-} $w"
		line+=$(printf '  %s %.3f s' "$side" "$s")
	done
	echo "$line"
done
declare -A med medw
for side in "${SIDES[@]}"; do
	# shellcheck disable=SC2086
	med[$side]=$(median ${times[$side]})
	# shellcheck disable=SC2086
	medw[$side]=$(median ${walb[$side]})
done
echo
echo "record_event against INSERT of the same row, $CALLS calls in one DO block per side (medians of $ROUNDS rounds):"
printf '  %-62s %9s %11s %12s %s\n' side time "per call" "WAL per call" "record_event/side"
for side in "${SIDES[@]}"; do
	case "$side" in
	record_event) label="migrate.record_event (into migrate.events)" ;;
	plain) label="INSERT into bench_events (one heap, LIKE migrate.events)" ;;
	part) label="INSERT into bench_events_part (same day/severity partitions)" ;;
	esac
	awk -v l="$label" -v s="${med[$side]}" -v w="${medw[$side]}" -v n="$CALLS" -v m="${med[record_event]}" -v side="$side" 'BEGIN {
		printf "  %-62s %7.3f s %8.2f us %10.0f B", l, s, 1e6 * s / n, w / n
		if (side != "record_event") printf " %16.2fx", m / s
		printf "\n"
	}'
done
awk -v m="${med[record_event]}" -v p="${med[part]}" -v a="${med[plain]}" -v n="$CALLS" 'BEGIN {
	printf "  record_event adds %.2f us per call to an INSERT into the partitioned copy (%.2f us to one into the plain heap)\n", 1e6 * (m - p) / n, 1e6 * (m - a) / n
}'

# --- autonomous events -------------------------------------------------------------
out="$work/autonomous.out"
psql_db >"$out" <<EOF
CHECKPOINT;
$(timed_sql autonomous "DO \$\$ BEGIN FOR i IN 1..$AUTONOMOUS LOOP PERFORM migrate.record_event('bench_autonomous', 'info', 'message ' || i, '{\"n\": 1}', autonomous => true); END LOOP; END \$\$;")
SELECT 'rows', count(*) FROM migrate.events WHERE kind = 'bench_autonomous';
EOF
read -r auto_s _ < <(awk '$1 == "autonomous" { print $2, $3 }' "$out")
[ "$(get rows "$out")" = "$AUTONOMOUS" ] || fail "autonomous: $(get rows "$out") rows of kind bench_autonomous, expected $AUTONOMOUS"
echo
awk -v s="$auto_s" -v n="$AUTONOMOUS" -v m="${med[record_event]}" -v c="$CALLS" 'BEGIN {
	printf "autonomous events: %d calls of record_event(..., autonomous => true) in %.3f s: %.2f ms per call (a background worker started per event; %.0fx a transactional record_event, %.3f ms)\n",
		n, s, 1000 * s / n, (s / n) / (m / c), 1000 * m / c
}'

# --- retention: maintain against DELETE ---------------------------------------------
# the five days are today - 9 .. today - 5 (UTC); with keep = 8 days, day
# today - 9 (upper bound today - 8, 00:00 UTC) is the only one that has
# expired, at any time of day. Each round after the first puts that day back
# (its partition re-created with the default retention, so with the same three
# leaves, and the same rows in it and in bench_events_plain, where they refill
# the space the vacuumed DELETE freed)
today=$(psql_db -c "SELECT (now() AT TIME ZONE 'UTC')::date")
cutoff=$(psql_db -c "SELECT date '$today' - 8")
day_partition=$(psql_db -c "SELECT 'migrate.events_p' || to_char(date '$today' - 9, 'YYYYMMDD')")
total=$((DAYS * DAY_ROWS))
left=$((total - DAY_ROWS))
# INSERT of the events of days today - $1 .. today - $2
fill_sql() {
	cat <<EOF
INSERT INTO migrate.events (logged_at, kind, severity, message, details, session_user_name, current_user_name, application_name, client_addr, pid, txid, migration_version)
SELECT (d::timestamp AT TIME ZONE 'UTC') + make_interval(secs => g * 86400.0 / $DAY_ROWS), 'bench_retention', 'info', 'message ' || g, '{"n": 1}',
	   session_user, current_user, current_setting('application_name'), inet_client_addr(), pg_backend_pid(), pg_current_xact_id(), NULL
  FROM generate_series(date '$today' - $1, date '$today' - $2, interval '1 day') AS d, generate_series(0, $DAY_ROWS - 1) AS g;
EOF
}
out="$work/fill.out"
psql_db >"$out" <<EOF
CREATE TABLE bench_retention_saved AS SELECT what, severity, keep FROM migrate.retention;
SELECT migrate.add_partitions('events', date '$today' - 9, date '$today' - $((10 - DAYS))) \\g /dev/null
$(timed_sql fill "$(fill_sql 9 $((10 - DAYS)))")
CREATE SEQUENCE bench_events_plain_id_seq;
CREATE TABLE bench_events_plain (LIKE migrate.events INCLUDING ALL);
ALTER TABLE bench_events_plain ALTER COLUMN id SET DEFAULT nextval('bench_events_plain_id_seq');
$(timed_sql copy "INSERT INTO bench_events_plain SELECT * FROM migrate.events WHERE kind = 'bench_retention';")
SELECT 'size_events', sum(pg_total_relation_size(relid)) FROM pg_partition_tree('$day_partition');
SELECT 'size_plain', pg_total_relation_size('bench_events_plain');
EOF
echo
awk -v f="$(awk '$1 == "fill" { print $2 }' "$out")" -v c="$(awk '$1 == "copy" { print $2 }' "$out")" -v n="$total" -v d="$DAYS" -v r="$DAY_ROWS" \
	-v se="$(get size_events "$out")" -v sp="$(get size_plain "$out")" -v p="$day_partition" 'BEGIN {
	printf "retention: %d events over %d UTC days (%d a day) inserted into migrate.events in %.1f s, copied to bench_events_plain (one heap, LIKE migrate.events INCLUDING ALL) in %.1f s; %s: %.0f MB with its leaves and index, bench_events_plain: %.0f MB\n",
		n, d, r, f, c, p, se / 1048576, sp / 1048576
}'
echo "expired each round: the $DAY_ROWS events before $cutoff 00:00 UTC (day partition $day_partition), with every event severity kept 8 days; $ROUNDS rounds, the order alternating; a CHECKPOINT before each measured step, so full-page images count the same way on both sides"

maintain_step() {
	cat <<EOF
CHECKPOINT;
$(timed_tx_sql maintain "SELECT migrate.maintain() AS result \\gset")
SELECT 'maintain_dropped', COALESCE(string_agg(x, ','), '-') FROM jsonb_array_elements_text((:'result'::jsonb -> 'detached_partitions') || (:'result'::jsonb -> 'dropped_partitions')) x;
SELECT 'maintain_other', jsonb_array_length(:'result'::jsonb -> 'truncated_partitions'), jsonb_array_length(:'result'::jsonb -> 'deferred_partitions'),
	   :'result'::jsonb ->> 'deleted_rows', :'result'::jsonb ->> 'duration_ms';
SELECT 'events_left', count(*) FROM migrate.events WHERE kind = 'bench_retention';
SELECT 'events_expired_left', count(*) FROM migrate.events WHERE kind = 'bench_retention' AND logged_at < '$cutoff';
SELECT 'partition_gone', NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass('$day_partition'));
EOF
}
delete_step() {
	cat <<EOF
EXPLAIN (COSTS OFF) DELETE FROM bench_events_plain WHERE logged_at < '$cutoff' \\g $work/delete_plan_$r.out
CHECKPOINT;
$(timed_tx_sql delete "DELETE FROM bench_events_plain WHERE logged_at < '$cutoff';")
SELECT 'plain_left', count(*) FROM bench_events_plain;
SELECT 'plain_expired_left', count(*) FROM bench_events_plain WHERE logged_at < '$cutoff';
EOF
}
declare -A rt rw rc
for ((r = 1; r <= ROUNDS; r++)); do
	out="$work/retention_$r.out"
	refill=
	if [ "$r" -gt 1 ]; then
		refill="UPDATE migrate.retention r SET keep = s.keep FROM bench_retention_saved s WHERE r.what = s.what AND r.severity IS NOT DISTINCT FROM s.severity;
SELECT migrate.add_partitions('events', date '$today' - 9, date '$today' - 9) \\g /dev/null
$(fill_sql 9 9)
INSERT INTO bench_events_plain SELECT * FROM migrate.events WHERE kind = 'bench_retention' AND logged_at < '$cutoff';"
	fi
	if ((r % 2)); then
		steps="$(maintain_step)
$(delete_step)"
		order="maintain, DELETE"
	else
		steps="$(delete_step)
$(maintain_step)"
		order="DELETE, maintain"
	fi
	# the library is loaded first, so that no measured step pays for loading
	# it (migrate.maintain() is PL/pgSQL; the event it records is C)
	psql_db >"$out" <<EOF
LOAD 'migrate_ext';
$refill
VACUUM ANALYZE migrate.events, bench_events_plain;
SELECT 'events_total', count(*) FROM migrate.events WHERE kind = 'bench_retention';
SELECT 'events_expiring', count(*) FROM migrate.events WHERE kind = 'bench_retention' AND logged_at < '$cutoff';
SELECT 'plain_total', count(*) FROM bench_events_plain;
SELECT 'plain_expiring', count(*) FROM bench_events_plain WHERE logged_at < '$cutoff';
SELECT 'leaves', count(*) FROM pg_partition_tree('$day_partition') WHERE isleaf;
UPDATE migrate.retention SET keep = interval '8 days' WHERE what = 'events';
SELECT 'retention', string_agg(severity || '=' || keep, ', ') FROM migrate.event_retention();
$steps
CHECKPOINT;
$(timed_sql free "SELECT migrate.maintain() \\g /dev/null")
SELECT 'table_freed', to_regclass('$day_partition') IS NULL;
CHECKPOINT;
$(timed_sql idle "SELECT migrate.maintain() \\g /dev/null")
CHECKPOINT;
$(timed_sql vacuum "VACUUM bench_events_plain;")
EOF
	for k in events plain; do
		[ "$(get ${k}_total "$out")" = "$total" ] || fail "round $r: $k: $(get ${k}_total "$out") rows before expiry, expected $total"
		[ "$(get ${k}_expiring "$out")" = "$DAY_ROWS" ] || fail "round $r: $k: $(get ${k}_expiring "$out") rows before $cutoff, expected $DAY_ROWS"
	done
	[ "$(get events_left "$out")" = "$left" ] || fail "round $r: after migrate.maintain(): $(get events_left "$out") events left, expected $left"
	[ "$(get events_expired_left "$out")" = 0 ] || fail "round $r: after migrate.maintain(): $(get events_expired_left "$out") events before $cutoff left"
	[ "$(get partition_gone "$out")" = t ] || fail "round $r: $day_partition is still a partition of migrate.events after migrate.maintain()"
	[ "$(get table_freed "$out")" = t ] || fail "round $r: the detached $day_partition still exists after the next migrate.maintain()"
	[ "$(get plain_left "$out")" = "$left" ] || fail "round $r: after the DELETE: $(get plain_left "$out") rows left, expected $left"
	[ "$(get plain_expired_left "$out")" = 0 ] || fail "round $r: after the DELETE: $(get plain_expired_left "$out") rows before $cutoff left"
	[ "$r" = 1 ] && echo "retention set to: $(grep '^retention ' "$out" | cut -d' ' -f2-)"
	for step in maintain delete free idle vacuum; do
		read -r s w c < <(awk -v l="$step" '$1 == l { print $2, $3, $4 }' "$out")
		rt[$step]="${rt[$step]:-} $s"
		rw[$step]="${rw[$step]:-} $w"
		# the COMMIT: the total minus the time up to it (timed_tx_sql steps)
		[ -n "$c" ] && rc[$step]="${rc[$step]:-} $(awk -v s="$s" -v c="$c" 'BEGIN { print s - c }')"
		eval "${step}_s=\$s ${step}_w=\$w ${step}_c=\$c"
	done
	plan=$(sed -n 's/^ *\(->  \)\{0,1\}\(Seq Scan\|Index Scan\|Index Only Scan\|Bitmap Heap Scan\|Bitmap Index Scan\)\( using [^ ]*\)\{0,1\} on .*/\2\3/p' "$work/delete_plan_$r.out" | paste -sd ',' -)
	read -r _ m_trunc m_def m_del m_ms < <(grep '^maintain_other ' "$out")
	# shellcheck disable=SC2154 # maintain_s, delete_s, ... are set by the eval above
	awk -v r="$r" -v o="$order" -v ms="$maintain_s" -v mw="$maintain_w" -v mc="$maintain_c" -v ds="$delete_s" -v dw="$delete_w" -v dc="$delete_c" -v n="$DAY_ROWS" \
		-v dr="$(get maintain_dropped "$out")" -v lv="$(get leaves "$out")" -v tr="$m_trunc" -v de="$m_def" -v dl="$m_del" -v mms="$m_ms" -v p="$plan" 'BEGIN {
		printf "  round %d (%s): maintain %.3f s (COMMIT %.3f s), %.1f kB WAL (detached %s with its %d leaves; truncated %d, deferred %d, rows deleted %d; its own duration_ms %s)\n", r, o, ms, ms - mc, mw / 1024, dr, lv, tr, de, dl, mms
		printf "  %s DELETE   %.3f s (COMMIT %.3f s), %.1f kB WAL (%d rows, %.0f B of WAL a row; plan: %s); maintain/DELETE: time %.2f%%, WAL %.4f%%\n", sprintf("%" (length(r) + length(o) + 9) "s", ""), ds, ds - dc, dw / 1024, n, dw / n, p, 100 * ms / ds, 100 * mw / dw
	}'
done
declare -A rmed rmedw rmedc
for step in maintain delete; do
	# shellcheck disable=SC2086
	rmedc[$step]=$(median ${rc[$step]})
done
for step in maintain delete free idle vacuum; do
	# shellcheck disable=SC2086
	rmed[$step]=$(median ${rt[$step]})
	# shellcheck disable=SC2086
	rmedw[$step]=$(median ${rw[$step]})
done
m_s=${rmed[maintain]} m_w=${rmedw[maintain]} d_s=${rmed[delete]} d_w=${rmedw[delete]}
echo
echo "expiring one day of $DAY_ROWS events out of $total (medians of $ROUNDS rounds; each side in its own transaction after a CHECKPOINT, COMMIT included):"
awk -v s="$m_s" -v w="$m_w" -v c="${rmedc[maintain]}" -v left="$left" 'BEGIN {
	printf "  SELECT migrate.maintain()                        %8.3f s %12.1f kB WAL  (of which COMMIT %.3f s; the day detached; %d events left)\n", s, w / 1024, c, left
}'
awk -v s="$d_s" -v w="$d_w" -v c="${rmedc[delete]}" -v left="$left" 'BEGIN {
	printf "  DELETE of the same rows from bench_events_plain  %8.3f s %12.1f kB WAL  (of which COMMIT %.3f s; %d rows left)\n", s, w / 1024, c, left
}'
awk -v ms="$m_s" -v mw="$m_w" -v ds="$d_s" -v dw="$d_w" 'BEGIN {
	printf "  maintain / DELETE: time %.2f%%, WAL %.4f%%\n", 100 * ms / ds, 100 * mw / dw
}'
awk -v s="${rmed[idle]}" -v w="${rmedw[idle]}" -v ms="$m_s" 'BEGIN {
	printf "  for reference: migrate.maintain() with nothing to do %.3f s, %.1f kB WAL (the fixed cost of a run: %.0f%% of the expiring run)\n", s, w / 1024, 100 * s / ms
}'
awk -v s="${rmed[free]}" -v w="${rmedw[free]}" 'BEGIN {
	printf "  not in the ratios: the next migrate.maintain(), which drops the detached day (its files removed at its COMMIT, with no lock on migrate.events) %.3f s, %.1f kB WAL\n", s, w / 1024
}'
awk -v s="${rmed[vacuum]}" -v w="${rmedw[vacuum]}" 'BEGIN {
	printf "  not in the ratios: the VACUUM of bench_events_plain the DELETE leaves to do %.3f s, %.1f kB WAL\n", s, w / 1024
}'
awk -v ms="$m_s" -v fs="${rmed[free]}" -v mw="$m_w" -v fw="${rmedw[free]}" -v ds="$d_s" -v dw="$d_w" 'BEGIN {
	printf "  the expiring run and the next one together: %.3f s, %.1f kB WAL: %.2f%% of the DELETE time, %.4f%% of its WAL\n", ms + fs, (mw + fw) / 1024, 100 * (ms + fs) / ds, 100 * (mw + fw) / dw
}'

# --- targets -------------------------------------------------------------------------
echo
awk -v m="${med[record_event]}" -v p="${med[part]}" -v target="$RATIO_TARGET" 'BEGIN {
	ratio = m / p
	# compare the rounded figures that are printed
	if (sprintf("%.2f", ratio) + 0 <= target + 0)
		printf "PASS: migrate.record_event %.2fx a PL/pgSQL INSERT into the same-shaped partitioned table <= %.1fx\n", ratio, target
	else
		printf "MISS: migrate.record_event %.2fx a PL/pgSQL INSERT into the same-shaped partitioned table > %.1fx (by %.2f)\n", ratio, target, ratio - target
}'
awk -v ms="$m_s" -v ds="$d_s" -v target="$TIME_TARGET" 'BEGIN {
	pct = 100 * ms / ds
	if (sprintf("%.2f", pct) + 0 <= target + 0)
		printf "PASS: migrate.maintain() expiring one day took %.2f%% of the DELETE time <= %d%%\n", pct, target
	else
		printf "MISS: migrate.maintain() expiring one day took %.2f%% of the DELETE time > %d%% (by %.2f points)\n", pct, target, pct - target
}'
awk -v mw="$m_w" -v dw="$d_w" -v target="$WAL_TARGET" 'BEGIN {
	pct = 100 * mw / dw
	if (sprintf("%.4f", pct) + 0 <= target + 0)
		printf "PASS: migrate.maintain() expiring one day wrote %.4f%% of the DELETE WAL <= %d%%\n", pct, target
	else
		printf "MISS: migrate.maintain() expiring one day wrote %.4f%% of the DELETE WAL > %d%% (by %.4f points)\n", pct, target, pct - target
}'
if [ "$(lib_stamp)" != "$lib_at_start" ]; then
	echo "WARNING: $lib was replaced while the benchmark ran: the figures mix two builds"
fi
psql_admin -c "DROP DATABASE $db"
