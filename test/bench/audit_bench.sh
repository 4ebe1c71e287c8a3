#!/usr/bin/env bash
# Measures what migrate_ext's audit trigger costs writers of an audited table,
# against no audit and against a hand-written PL/pgSQL trigger.
# A 100,000-row table (id bigint primary key, n int, label text,
# created_at timestamptz, note text), three setups, each on its own fresh
# table with the same data:
#   none        : no trigger
#   migrate_ext : SELECT migrate.audit_enable('t') (row triggers buffer the
#                 changes; a statement trigger writes them to
#                 migrate.audit_log at the end of each statement)
#   plpgsql     : test/bench/plpgsql_audit.sql, an AFTER ROW trigger that
#                 inserts to_jsonb(OLD) / to_jsonb(NEW) into plpgsql_log
# Operations:
#   bulk INSERT : INSERT ... SELECT FROM generate_series (100,000 rows)
#   bulk UPDATE : UPDATE t SET n = n + 1 (every row, one column)
#   bulk DELETE : DELETE FROM t (every row)
#   single-row UPDATE : pgbench, 1 client, UPDATE t SET n = n + 1
#                 WHERE id = random(1, 100000); tps without connection time;
#                 5 rounds of -T 5 per setup, the setups alternating; the
#                 percent of unaudited tps and the added time per
#                 transaction are medians of per-round figures (each against
#                 the unaudited run of the same round: the speed of a shared
#                 machine drifts)
# Each bulk statement runs in its own transaction (autocommit) after VACUUM
# ANALYZE of the table and a CHECKPOINT, timed in one psql session from the
# statement before it to the one after it (so the time includes the commit
# and one round trip). 3 rounds, the order of the setups rotating, the table
# re-created and re-filled for each round; medians are printed. Every
# audited run is checked: the log must have exactly one row per changed row
# for each operation (and one per pgbench transaction), or the script fails.
# Then a breakdown of the migrate_ext cost (3 rounds, medians; each statement
# in a transaction that is rolled back): rows only built and buffered (flush
# trigger disabled, nothing written), written without the indexes of the
# partitions of migrate.audit_log (dropped inside the transaction), and the full audit,
# for the bulk INSERT and UPDATE and for 20,000 single-row UPDATEs in one DO
# block (the server-side cost per statement, without round trips and
# commits); plus the WAL each bulk statement wrote.
# Targets: bulk INSERT and UPDATE with migrate_ext <= 1.8x unaudited;
# single-row UPDATE >= 85% of unaudited tps; migrate_ext adds >= 3x less time
# per row than the PL/pgSQL trigger (bulk INSERT, UPDATE, DELETE and
# single-row UPDATE). Always exits 0 once the measurement ran (a missed
# target is reported as MISS, not as a failure). Takes about 3 minutes.
# Runs against the server in PGHOST/PGPORT/PGUSER (e.g. inside pg_virtualenv);
# creates and drops the database migrate_audit_bench.
set -euo pipefail
cd "$(dirname "$0")"

ROWS=${BENCH_AUDIT_ROWS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-5}
PGBENCH_ROUNDS=${BENCH_PGBENCH_ROUNDS:-5}
STATEMENTS=${BENCH_AUDIT_STATEMENTS:-20000}
RATIO_TARGET=1.8
TPS_TARGET=85
PER_ROW_TARGET=3
SETUPS=(none migrate_ext plpgsql)
db=migrate_audit_bench

. ./common.sh


echo
echo "== migrate_ext audit benchmark =="
echo "rows: $ROWS, rounds per setup: $ROUNDS; pgbench: 1 client, $PGBENCH_ROUNDS rounds of $PGBENCH_SECONDS s per setup"
echo "build: $(git describe --always --dirty 2>/dev/null || echo unknown), library installed $(date -u -r "$lib" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '(not found)')"
echo "settings: $(psql_admin -Atc "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_wal_size')")"

psql_admin -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql_db -c 'CREATE EXTENSION migrate_ext' -f plpgsql_audit.sql

# --- SQL pieces -----------------------------------------------------------------
# a fresh table t_<setup> with its audit (filled before the audit is attached
# when $2 = filled); the logs emptied
create_sql() {
	local setup=$1 t=t_$1
	cat <<EOF
DROP TABLE IF EXISTS $t;
CREATE TABLE $t (id bigint PRIMARY KEY, n int NOT NULL, label text, created_at timestamptz, note text);
EOF
	[ "${2:-}" = filled ] && fill_sql "$t"
	case "$setup" in
	migrate_ext) echo "SELECT migrate.audit_enable('$t') \\g /dev/null" ;;
	plpgsql) echo "CREATE TRIGGER plpgsql_audit AFTER INSERT OR UPDATE OR DELETE ON $t FOR EACH ROW EXECUTE FUNCTION plpgsql_audit();" ;;
	esac
	# the log is emptied between runs through retention (a plain TRUNCATE of
	# migrate.audit_log is refused, MG019)
	echo "SELECT migrate.retention_truncate(p.leaf) FROM migrate.log_partitions('audit_log') p \\g /dev/null"
	echo "TRUNCATE plpgsql_log;"
}
fill_sql() {
	echo "INSERT INTO $1 SELECT g, g, 'label ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', md5(g::text) FROM generate_series(1, $ROWS) AS g;"
}
# timed STATEMENT: prints "<label> <seconds> <WAL bytes>"
timed_sql() {
	local label=$1 stmt=$2
	cat <<EOF
SELECT pg_current_wal_insert_lsn() AS lsn0, extract(epoch FROM clock_timestamp()) AS t0 \\gset
$stmt
SELECT '$label', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 4), pg_current_wal_insert_lsn() - :'lsn0'::pg_lsn;
EOF
}
# the log rows of table t_<setup>, per operation: "logged <op> <count>"
logged_sql() {
	case "$1" in
	migrate_ext) echo "SELECT 'logged', operation, count(*) FROM migrate.audit_log WHERE relid = 't_$1'::regclass GROUP BY operation;" ;;
	plpgsql) echo "SELECT 'logged', op, count(*) FROM plpgsql_log WHERE tbl = 'public.t_$1' GROUP BY op;" ;;
	esac
}
# fails unless the log holds exactly $2 rows of each operation in $3...
check_logged() {
	local setup=$1 want=$2 out=$3 op n
	shift 3
	[ "$setup" = none ] && return 0
	for op in "$@"; do
		n=$(awk -v op="$op" '$1 == "logged" && $2 == op { print $3 }' "$out")
		[ "${n:-0}" -eq "$want" ] || { echo "error: $setup logged ${n:-0} $op rows, expected $want" >&2; exit 1; }
	done
	n=$(awk '$1 == "logged" { s += $3 } END { print s + 0 }' "$out")
	[ "$n" -eq $((want * $#)) ] || { echo "error: $setup logged $n rows in all, expected $((want * $#))" >&2; exit 1; }
}

# --- bulk INSERT, UPDATE, DELETE ------------------------------------------------
declare -A times wal logged
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#SETUPS[@]}; k++)); do
		setup=${SETUPS[$(((k + r - 1) % ${#SETUPS[@]}))]}
		t=t_$setup
		out="$work/bulk_${setup}_$r.out"
		psql_db >"$out" <<EOF
$(create_sql "$setup")
VACUUM ANALYZE $t;
CHECKPOINT;
$(timed_sql insert "$(fill_sql "$t")")
VACUUM ANALYZE $t;
SELECT 'rows', count(*) FROM $t;
CHECKPOINT;
$(timed_sql update "UPDATE $t SET n = n + 1;")
VACUUM ANALYZE $t;
CHECKPOINT;
$(timed_sql delete "DELETE FROM $t;")
SELECT 'rows_left', count(*) FROM $t;
$(logged_sql "$setup")
EOF
		if [ "$(awk '$1 == "rows" { print $2 }' "$out")" != "$ROWS" ] ||
			[ "$(awk '$1 == "rows_left" { print $2 }' "$out")" != 0 ]; then
			echo "error: $setup round $r: the table did not have $ROWS rows, then none" >&2
			exit 1
		fi
		check_logged "$setup" "$ROWS" "$out" INSERT UPDATE DELETE
		line=$(printf '  round %d %-11s' "$r" "$setup")
		for op in insert update delete; do
			read -r s w < <(awk -v op="$op" '$1 == op { print $2, $3 }' "$out")
			times[$setup.$op]="${times[$setup.$op]:-} $s"
			wal[$setup.$op]=$w
			line+=$(printf '  %s %.3f s' "$op" "$s")
		done
		if [ "$setup" != none ]; then
			logged[$setup]=$(awk '$1 == "logged" { printf "%s%s %s", sep, $2, $3; sep = ", " }' "$out")
			line+="  (logged: ${logged[$setup]})"
		fi
		echo "$line"
	done
done

# --- single-row UPDATE with pgbench ----------------------------------------------
# the three tables are filled once; then $PGBENCH_ROUNDS rounds of one
# $PGBENCH_SECONDS-second pgbench run per setup, the order rotating. The speed
# of a shared machine drifts over a minute, so each round's migrate_ext and
# plpgsql runs are compared with the unaudited run of the same round, and the
# medians of those per-round figures are reported
for setup in "${SETUPS[@]}"; do
	printf '\\set id random(1, %d)\nUPDATE t_%s SET n = n + 1 WHERE id = :id;\n' "$ROWS" "$setup" >"$work/pgbench_$setup.sql"
	psql_db >/dev/null <<EOF
$(create_sql "$setup" filled)
VACUUM ANALYZE t_$setup;
EOF
done
psql_db -c CHECKPOINT
declare -A tps_runs round_tps pgbench_n
ratio_m='' ratio_p='' added_m='' added_p=''
for ((r = 1; r <= PGBENCH_ROUNDS; r++)); do
	for ((k = 0; k < ${#SETUPS[@]}; k++)); do
		setup=${SETUPS[$(((k + r - 1) % ${#SETUPS[@]}))]}
		out="$work/pgbench_${setup}_$r.out"
		pgbench -n -c 1 -j 1 -T "$PGBENCH_SECONDS" -f "$work/pgbench_$setup.sql" "$db" >"$out" 2>&1 ||
			{ cat "$out" >&2; exit 1; }
		n=$(awk -F': ' '/number of transactions actually processed/ { print $2 }' "$out")
		tps=$(awk '/^tps = / && /without initial connection time/ { print $3 }' "$out")
		if [ -z "$n" ] || [ -z "$tps" ]; then
			cat "$out" >&2
			echo "error: cannot read the pgbench output" >&2
			exit 1
		fi
		pgbench_n[$setup]=$((${pgbench_n[$setup]:-0} + n))
		psql_db >"$out.logged" -c "$(logged_sql "$setup")"
		check_logged "$setup" "${pgbench_n[$setup]}" "$out.logged" UPDATE
		tps_runs[$setup]="${tps_runs[$setup]:-} $tps"
		round_tps[$setup]=$tps
	done
	ratio_m+=" $(awk -v a="${round_tps[none]}" -v b="${round_tps[migrate_ext]}" 'BEGIN { print 100 * b / a }')"
	ratio_p+=" $(awk -v a="${round_tps[none]}" -v c="${round_tps[plpgsql]}" 'BEGIN { print 100 * c / a }')"
	added_m+=" $(awk -v a="${round_tps[none]}" -v b="${round_tps[migrate_ext]}" 'BEGIN { print 1e6 / b - 1e6 / a }')"
	added_p+=" $(awk -v a="${round_tps[none]}" -v c="${round_tps[plpgsql]}" 'BEGIN { print 1e6 / c - 1e6 / a }')"
	awk -v r="$r" -v a="${round_tps[none]}" -v b="${round_tps[migrate_ext]}" -v c="${round_tps[plpgsql]}" 'BEGIN {
		printf "  pgbench round %d  none %7.1f tps  migrate_ext %7.1f tps (%5.1f%%)  plpgsql %7.1f tps (%5.1f%%)\n", r, a, b, 100 * b / a, c, 100 * c / a
	}'
done
echo "  pgbench transactions logged: migrate_ext UPDATE ${pgbench_n[migrate_ext]}, plpgsql UPDATE ${pgbench_n[plpgsql]} (one per transaction)"

# --- results ----------------------------------------------------------------------
declare -A med tps
for setup in "${SETUPS[@]}"; do
	for op in insert update delete; do
		# shellcheck disable=SC2086
		med[$setup.$op]=$(median ${times[$setup.$op]})
	done
	# shellcheck disable=SC2086
	tps[$setup]=$(median ${tps_runs[$setup]})
done
# shellcheck disable=SC2086
{
	ratio_m=$(median $ratio_m)
	ratio_p=$(median $ratio_p)
	added_m=$(median $added_m)
	added_p=$(median $added_p)
}

# how the added time of migrate_ext (m) compares with that of plpgsql (p)
# shellcheck disable=SC2016 # awk code, not shell expansions
compare_awk='function compare(m, p) {
	if (m <= 0) return "migrate_ext adds no measurable time"
	if (p <= 0) return "plpgsql adds no measurable time"
	if (p >= m) return sprintf("migrate_ext adds %.1f times less per row than plpgsql", p / m)
	return sprintf("migrate_ext adds %.1f times MORE per row than plpgsql", m / p)
}'

echo
echo "medians of $ROUNDS rounds:"
printf '%-30s %10s %12s %10s %17s %13s\n' operation none migrate_ext plpgsql "migrate_ext/none" "plpgsql/none"
for op in insert update delete; do
	awk -v op="bulk ${op^^} ($ROWS rows)" -v a="${med[none.$op]}" -v b="${med[migrate_ext.$op]}" -v c="${med[plpgsql.$op]}" 'BEGIN {
		printf "%-30s %8.3f s %10.3f s %8.3f s %16.2fx %12.2fx\n", op, a, b, c, b / a, c / a
	}'
done
awk -v a="${tps[none]}" -v b="${tps[migrate_ext]}" -v c="${tps[plpgsql]}" -v rm="$ratio_m" -v rp="$ratio_p" 'BEGIN {
	printf "%-30s %6.0f tps %8.0f tps %6.0f tps %16.1f%% %12.1f%%\n", "single-row UPDATE (pgbench)", a, b, c, rm, rp
}'
echo "(pgbench: medians of $PGBENCH_ROUNDS runs of $PGBENCH_SECONDS s; the ratios are medians of the per-round ratios)"

echo
echo "added time per row (bulk: median statement minus unaudited, over $ROWS rows; single-row: per transaction, from tps):"
for op in insert update delete; do
	awk -v op="${op^^}" -v n="$ROWS" -v a="${med[none.$op]}" -v b="${med[migrate_ext.$op]}" -v c="${med[plpgsql.$op]}" "$compare_awk"'
	BEGIN {
		m = 1e6 * (b - a) / n; p = 1e6 * (c - a) / n
		printf "  bulk %-6s            migrate_ext %+6.2f us, plpgsql %+6.2f us: %s\n", op, m, p, compare(m, p)
	}'
done
awk -v a="${tps[none]}" -v m="$added_m" -v p="$added_p" -v rm="$ratio_m" -v rp="$ratio_p" "$compare_awk"'
BEGIN {
	printf "  single-row UPDATE      migrate_ext %+6.1f us (%.1f%% of unaudited tps), plpgsql %+6.1f us (%.1f%%), unaudited %.1f us per transaction: %s\n",
		m, rm, p, rp, 1e6 / a, compare(m, p)
}'

echo
echo "WAL written per bulk statement (last round):"
for op in insert update delete; do
	awk -v op="${op^^}" -v n="$ROWS" -v a="${wal[none.$op]}" -v b="${wal[migrate_ext.$op]}" -v c="${wal[plpgsql.$op]}" 'BEGIN {
		printf "  bulk %-6s none %5.1f MB, migrate_ext %5.1f MB, plpgsql %5.1f MB (log: migrate_ext %+4.0f B, plpgsql %+4.0f B per row)\n",
			op, a / 1048576, b / 1048576, c / 1048576, (b - a) / n, (c - a) / n
	}'
done

# --- where the migrate_ext time goes -----------------------------------------------
# each timed statement runs in a transaction that is rolled back (so there is
# no commit in any of them) on a freshly filled table, in these variants:
#   none     : no audit
#   buffered : migrate_ext with its flush trigger disabled: the row trigger
#              builds the jsonb and buffers the rows, nothing is written
#   noindex  : migrate_ext with the indexes of migrate.audit_log dropped
#              inside the transaction
#   full     : migrate_ext
#   plpgsql  : the PL/pgSQL trigger, for reference
# the single-row figure is $STATEMENTS one-row UPDATEs run by one DO block
# (each its own statement, so each fires and flushes like a pgbench one, but
# with no round trip, parse or commit): the server-side cost per statement.
# $ROUNDS rounds, the order of the variants rotating; medians
VARIANTS=(none buffered noindex full plpgsql)
declare -A bd bdw
# the indexes are on the partitions (migrate.new_log_partition makes them), none on the parent
log_indexes="SELECT x.indexrelid FROM pg_index x WHERE x.indrelid IN (SELECT t.relid FROM pg_partition_tree('migrate.audit_log') t)"
nindexes=$(psql_db -c "SELECT count(*) FROM ($log_indexes) i")
[ "$nindexes" -gt 0 ] || { echo "error: no index found on the partitions of migrate.audit_log" >&2; exit 1; }
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#VARIANTS[@]}; k++)); do
		variant=${VARIANTS[$(((k + r - 1) % ${#VARIANTS[@]}))]}
		case "$variant" in
		none | plpgsql) setup=$variant ;;
		*) setup=migrate_ext ;;
		esac
		t=t_$setup
		case "$variant" in
		buffered) prep="ALTER TABLE $t DISABLE TRIGGER migrate_audit_flush;" ;;
		noindex) prep="SELECT format('DROP INDEX %s', i.indexrelid::regclass) FROM ($log_indexes) i \\gexec" ;;
		*) prep= ;;
		esac
		loop="DO \$\$ BEGIN FOR i IN 1..$STATEMENTS LOOP UPDATE $t SET n = n + 1 WHERE id = (i::bigint * 7919) % $ROWS + 1; END LOOP; END \$\$;"
		out="$work/breakdown_${variant}_$r.out"
		psql_db >"$out" <<EOF
$(create_sql "$setup")
VACUUM ANALYZE $t;
CHECKPOINT;
BEGIN;
$prep
$(timed_sql insert "$(fill_sql "$t")")
ROLLBACK;
$(create_sql "$setup" filled)
VACUUM ANALYZE $t;
CHECKPOINT;
BEGIN;
$prep
$(timed_sql update "UPDATE $t SET n = n + 1;")
ROLLBACK;
$(create_sql "$setup" filled)
VACUUM ANALYZE $t;
CHECKPOINT;
BEGIN;
$prep
$(timed_sql single "$loop")
ROLLBACK;
EOF
		for op in insert update single; do
			read -r s w < <(awk -v op="$op" '$1 == op { print $2, $3 }' "$out")
			bd[$variant.$op]="${bd[$variant.$op]:-} $s"
			bdw[$variant.$op]=$w
		done
	done
done
echo
echo "where the migrate_ext time goes (medians of $ROUNDS rounds, statements rolled back: no commit):"
printf '  %-46s %-23s %-23s %s\n' variant "bulk INSERT" "bulk UPDATE" "single-row UPDATE ($STATEMENTS in a DO block)"
for variant in "${VARIANTS[@]}"; do
	for op in insert update single; do
		# shellcheck disable=SC2086
		bd[$variant.$op]=$(median ${bd[$variant.$op]})
	done
	case "$variant" in
	none) label="no audit" ;;
	buffered) label="migrate_ext, rows built and buffered, no flush" ;;
	noindex) label="migrate_ext, audit_log without the $nindexes indexes of its partitions" ;;
	full) label="migrate_ext" ;;
	plpgsql) label="plpgsql (reference)" ;;
	esac
	awk -v l="$label" -v i="${bd[$variant.insert]}" -v u="${bd[$variant.update]}" -v s="${bd[$variant.single]}" \
		-v wi="${bdw[$variant.insert]}" -v wu="${bdw[$variant.update]}" -v k="$STATEMENTS" 'BEGIN {
		printf "  %-46s %.3f s (%5.1f MB WAL) %.3f s (%5.1f MB WAL) %6.1f us per statement\n", l, i, wi / 1048576, u, wu / 1048576, 1e6 * s / k
	}'
done
echo "  migrate_ext cost, split (added time per row; single-row: per statement):"
for part in "row trigger: jsonb of the rows, buffering|none|buffered" \
	"flush: writing the log rows (without index entries)|buffered|noindex" \
	"the indexes of audit_log ($nindexes)|noindex|full" \
	"total|none|full" \
	"plpgsql trigger, total (reference)|none|plpgsql"; do
	IFS='|' read -r label from to <<<"$part"
	awk -v l="$label" -v n="$ROWS" -v k="$STATEMENTS" \
		-v i0="${bd[$from.insert]}" -v i1="${bd[$to.insert]}" -v u0="${bd[$from.update]}" -v u1="${bd[$to.update]}" \
		-v s0="${bd[$from.single]}" -v s1="${bd[$to.single]}" 'BEGIN {
		printf "    %-54s INSERT %+5.2f us  UPDATE %+5.2f us  single-row UPDATE %+5.1f us\n", l, 1e6 * (i1 - i0) / n, 1e6 * (u1 - u0) / n, 1e6 * (s1 - s0) / k
	}'
done

# --- targets --------------------------------------------------------------------
echo
for op in insert update; do
	awk -v op="${op^^}" -v a="${med[none.$op]}" -v b="${med[migrate_ext.$op]}" -v target="$RATIO_TARGET" 'BEGIN {
		ratio = b / a
		# compare the rounded figures that are printed
		if (sprintf("%.2f", ratio) + 0 <= target + 0)
			printf "PASS: bulk %s with migrate_ext audit %.2fx unaudited <= %.1fx\n", op, ratio, target
		else
			printf "MISS: bulk %s with migrate_ext audit %.2fx unaudited > %.1fx (by %.2f: the audit adds %.0f%% of the unaudited time, the target allows %.0f%%)\n",
				op, ratio, target, ratio - target, 100 * (ratio - 1), 100 * (target - 1)
	}'
done
awk -v pct="$ratio_m" -v target="$TPS_TARGET" 'BEGIN {
	if (sprintf("%.1f", pct) + 0 >= target + 0)
		printf "PASS: single-row UPDATE throughput with migrate_ext audit %.1f%% of unaudited >= %d%%\n", pct, target
	else
		printf "MISS: single-row UPDATE throughput with migrate_ext audit %.1f%% of unaudited < %d%% (by %.1f points)\n", pct, target, target - pct
}'
per_row_target() {
	awk -v op="$1" -v m="$2" -v p="$3" -v target="$PER_ROW_TARGET" 'BEGIN {
		if (m <= 0) {
			printf "PASS: %s: migrate_ext adds no measurable time per row\n", op
			exit
		}
		x = p / m
		if (sprintf("%.1f", x) + 0 >= target + 0)
			printf "PASS: %s: migrate_ext adds %.1fx less time per row than plpgsql >= %dx\n", op, x, target
		else if (x >= 1)
			printf "MISS: %s: migrate_ext adds %.1fx less time per row than plpgsql < %dx (by a factor of %.1f)\n", op, x, target, target / x
		else
			printf "MISS: %s: migrate_ext adds %.1fx MORE time per row than plpgsql, not %dx less (by a factor of %.1f)\n", op, 1 / x, target, target / x
	}'
}
for op in insert update delete; do
	per_row_target "bulk ${op^^}" "$(awk -v a="${med[none.$op]}" -v b="${med[migrate_ext.$op]}" 'BEGIN { print b - a }')" \
		"$(awk -v a="${med[none.$op]}" -v c="${med[plpgsql.$op]}" 'BEGIN { print c - a }')"
done
per_row_target "single-row UPDATE" "$added_m" "$added_p"
if [ "$(lib_stamp)" != "$lib_at_start" ]; then
	echo "WARNING: $lib was replaced while the benchmark ran: the figures mix two builds"
fi
psql_admin -c "DROP DATABASE $db"
